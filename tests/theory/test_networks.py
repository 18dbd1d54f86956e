"""Reference forward passes (7), (11)-(14) and the templates (16), (17), (18), (20)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optnet_theory.coefficients import nesterov_beta, nesterov_h
from optnet_theory.errors import OptnetError
from optnet_theory.strategies import depths, initial_points, spd_matrices
from optnet_theory.verify.matrices import random_spd, to_mp
from optnet_theory.verify.networks import (
    admm_network,
    agd2_network,
    agd_network,
    feedforward_network,
    hb_network,
    layer_map,
    network_forward,
    template_16,
    template_17,
    template_18,
    template_20,
)

N = 6


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


@given(spd_matrices(N, max_cond=1e3, top=4.0), initial_points(N), depths(25))
def test_templates_with_the_papers_coefficients_are_11_12_13(W, x0, K):
    T = layer_map(sigmoid, W)
    beta = nesterov_beta(K)
    h = nesterov_h(K)
    hb = template_16(T, x0, K, 0.3, -0.3)
    agd = template_17(T, x0, K, [1 + b for b in beta], [-b for b in beta])
    beta18 = [[], *([float(j == k) - h[k + 1][j] for j in range(k + 1)] for k in range(K))]
    agd2 = template_18(T, x0, K, h, beta18)
    for got, ref in [
        (hb, hb_network(sigmoid, W, x0, K, beta=0.3)),
        (agd, agd_network(sigmoid, W, x0, K)),
        (agd2, agd2_network(sigmoid, W, x0, K)),
    ]:
        assert len(got) == K + 1
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_hb_is_written_as_11():
    rng = np.random.default_rng(0)
    W, x0 = random_spd(N, 10.0, rng), rng.standard_normal(N)
    x = hb_network(np.tanh, W, x0, 5, beta=0.3)  # generated from the method hb, to rounding
    np.testing.assert_allclose(x[1], np.tanh(W @ x0), rtol=0, atol=4e-16)
    for k in range(1, 5):
        want = np.tanh(W @ x[k]) + 0.3 * (x[k] - x[k - 1])
        np.testing.assert_allclose(x[k + 1], want, rtol=0, atol=4e-16)


def test_feedforward_is_7_and_resnet_densenet_dmrnet_special_cases():
    rng = np.random.default_rng(1)
    W, x0 = random_spd(N, 10.0, rng), rng.standard_normal(N)
    T = layer_map(np.tanh, W)
    ff = feedforward_network(np.tanh, W, x0, 4)
    assert all(np.allclose(ff[k + 1], np.tanh(W @ ff[k]), rtol=0, atol=4e-16) for k in range(4))
    # Table 3: ResNet = (16) with beta2 = 0 (and beta1 = 1)
    res = template_16(T, x0, 4, 1.0, 0.0)
    assert all(np.allclose(res[k + 1], T(res[k]) + res[k]) for k in range(4))
    # DenseNet-like (19): (18) with beta = 0, alpha = 1
    K = 4
    ones = [[], *([1.0] * (k + 1) for k in range(K))]
    zeros = [[], *([0.0] * (k + 1) for k in range(K))]
    dense = template_18(T, x0, K, ones, zeros)
    for k in range(K):
        np.testing.assert_allclose(dense[k + 1], sum(T(dense[j]) for j in range(k + 1)))
    # DMRNet: (20) with 1/2 on the last layer only
    half = [[], *([0.0] * k + [0.5] for k in range(K))]
    xp, x = template_20(T, x0, K, half, half, x0_prime=-x0)
    for k in range(K):
        side = xp[k] / 2 + x[k] / 2
        np.testing.assert_allclose(xp[k + 1], T(xp[k]) + side)
        np.testing.assert_allclose(x[k + 1], T(x[k]) + side)


def test_13_outputs_the_extrapolated_states_of_12():
    """(12) and (13) unroll the same algorithm (3) but output different sequences: the states of
    (12) are z_k, those of (13) are y_k = z_k + beta_k (z_k - z_{k-1})."""
    rng = np.random.default_rng(4)
    W, x0 = random_spd(N, 100.0, rng, top=4.0), rng.standard_normal(N)
    K = 15
    z, y, beta = agd_network(sigmoid, W, x0, K), agd2_network(sigmoid, W, x0, K), nesterov_beta(K)
    for k in range(1, K + 1):
        np.testing.assert_allclose(y[k], z[k] + beta[k] * (z[k] - z[k - 1]), rtol=0, atol=1e-13)
    assert np.max(np.abs(y[K] - z[K])) > 1e-6  # not the same output at equal depth


def test_admm_network_is_14():
    rng = np.random.default_rng(2)
    W, x0 = random_spd(N, 10.0, rng), rng.standard_normal(N)
    xp, x = admm_network(np.tanh, W, x0, 6)
    for k in range(6):
        acc = sum((xp[t] - x[t] for t in range(1, k + 1)), np.zeros(N))
        np.testing.assert_allclose(xp[k + 1], (np.tanh(W @ xp[k]) + x[k] - acc) / 2)
        np.testing.assert_allclose(x[k + 1], (np.tanh(W @ x[k]) + xp[k + 1] + acc) / 2)
    np.testing.assert_array_equal(network_forward("admm", np.tanh, W, x0, 6)[-1], x[-1])


@pytest.mark.parametrize("structure", ["gd", "hb", "agd", "agd2", "admm"])
def test_mpmath_forward_pass_matches_float64(structure):
    rng = np.random.default_rng(3)
    W, x0 = random_spd(4, 10.0, rng, top=4.0), rng.standard_normal(4)
    fl = network_forward(structure, sigmoid, W, x0, 8)
    with mpmath.workdps(30):
        phi = np.frompyfunc(lambda v: 1 / (1 + mpmath.exp(-v)), 1, 1)
        mp = network_forward(structure, phi, to_mp(W), to_mp(x0), 8)
        assert isinstance(mp[-1][0], mpmath.mpf)
    np.testing.assert_allclose(np.array(mp[-1], dtype=float), fl[-1], rtol=1e-13)


@given(st.sampled_from(["gd", "hb", "agd", "agd2", "admm"]), st.integers(0, 12))
def test_every_structure_returns_depth_plus_one_states(structure, K):
    W = np.eye(3) * 0.5
    out = network_forward(structure, np.tanh, W, np.ones(3), K)
    assert len(out) == K + 1 and all(v.shape == (3,) for v in out)


def test_bad_structure_and_depth_are_refused():
    with pytest.raises(OptnetError, match="unknown method .resnet.; .*registered: gd"):
        network_forward("resnet", np.tanh, np.eye(2), np.ones(2), 3)
    with pytest.raises(OptnetError):
        network_forward("gd", np.tanh, np.eye(2), np.ones(2), -1)
    with pytest.raises(OptnetError, match="no parameter"):
        network_forward("gd", np.tanh, np.eye(2), np.ones(2), 3, beta=0.1)
