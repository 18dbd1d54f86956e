"""The algorithms (1)-(6) on gradient oracles: definitions, special cases, both precisions."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optnet_theory.algorithms import (
    gradient_descent,
    heavy_ball,
    linearized_admm,
    nesterov_agd,
    nesterov_agd_summed,
)
from optnet_theory.coefficients import h_recursion, strongly_convex_beta, strongly_convex_h
from optnet_theory.errors import OptnetError
from optnet_theory.matrices import random_spd, to_mp
from optnet_theory.strategies import spd_matrices


def quadratic(A: np.ndarray, b: np.ndarray):
    """grad of f(z) = z^T A z / 2 - b^T z."""
    return lambda z: A @ z - b


@given(spd_matrices(5, max_cond=100.0), st.integers(0, 30))
def test_gd_on_a_quadratic_is_the_matrix_power(A, K):
    b, z0 = np.arange(5.0), np.ones(5)
    zs = gradient_descent(quadratic(A, b), z0, K)
    star = np.linalg.solve(A, b)
    expected = star + np.linalg.matrix_power(np.eye(5) - A, K) @ (z0 - star)
    assert len(zs) == K + 1
    np.testing.assert_allclose(zs[K], expected, rtol=1e-10, atol=1e-10)


def test_zero_momentum_reduces_hb_agd_and_summed_form_to_gd():
    rng = np.random.default_rng(1)
    A = random_spd(6, 50.0, rng)
    g, z0, K = quadratic(A, rng.standard_normal(6)), rng.standard_normal(6), 15
    gd = gradient_descent(g, z0, K)
    hb = heavy_ball(g, z0, K, beta=0.0)
    agd = nesterov_agd(g, z0, K, beta=[0.0] * (K + 1))
    summed = nesterov_agd_summed(g, z0, K, h=h_recursion([0.0] * (K + 1)))
    for k in range(K + 1):
        np.testing.assert_array_equal(hb[k], gd[k])
        np.testing.assert_array_equal(agd.z[k], gd[k])
        np.testing.assert_allclose(summed[k], gd[k], rtol=0, atol=1e-14)


def test_heavy_ball_step_by_hand():
    g = quadratic(np.diag([0.5, 0.25]), np.zeros(2))
    z = heavy_ball(g, np.array([1.0, 2.0]), 2, beta=0.3)
    z1 = np.array([0.5, 1.5])  # first step has no momentum (z_{-1} = z_0)
    np.testing.assert_allclose(z[1], z1)
    np.testing.assert_allclose(z[2], z1 - g(z1) + 0.3 * (z1 - np.array([1.0, 2.0])))


def test_agd_first_momentum_is_zero_and_y_is_the_extrapolation():
    rng = np.random.default_rng(2)
    A = random_spd(4, 10.0, rng)
    g, z0 = quadratic(A, np.ones(4)), rng.standard_normal(4)
    hist = nesterov_agd(g, z0, 6)
    np.testing.assert_array_equal(hist.y[0], z0)
    np.testing.assert_array_equal(hist.y[1], hist.z[1])  # beta_1 = 0 since theta_0 = 1
    for k in range(6):
        np.testing.assert_allclose(hist.z[k + 1], hist.y[k] - g(hist.y[k]))


def test_footnote4_constant_momentum_forms_agree():
    """(3) with footnote 4's constant beta equals (4) with strongly_convex_h (mu, L of f)."""
    rng = np.random.default_rng(3)
    A = random_spd(6, 100.0, rng)  # L = 1, mu = 1/100
    L, mu = 1.0, 0.01
    beta = strongly_convex_beta(L, mu)
    b, z0, K = rng.standard_normal(6), rng.standard_normal(6), 40
    g = quadratic(A, b)
    three = nesterov_agd(g, z0, K, beta=[0.0] + [beta] * K).y
    four = nesterov_agd_summed(g, z0, K, h=strongly_convex_h(K, L, mu))
    for k in range(K + 1):
        np.testing.assert_allclose(four[k], three[k], rtol=0, atol=1e-12)
    star = np.linalg.solve(A, b)
    gd = gradient_descent(g, z0, K)
    # accelerated: closer to the minimiser than GD after K steps on an ill-conditioned f
    assert np.linalg.norm(three[K] - star) < np.linalg.norm(gd[K] - star)


def test_admm_iterates_solve_the_subproblems_of_6():
    rng = np.random.default_rng(4)
    A = random_spd(5, 20.0, rng)
    g, z0 = quadratic(A, rng.standard_normal(5)), rng.standard_normal(5)
    h = linearized_admm(g, z0, 8, y0=rng.standard_normal(5))
    for k in range(8):
        z, y, lam = h.z, h.y, h.lam
        # gradient of each quadratic model in (6) vanishes at the returned minimiser
        dz = g(z[k]) + (z[k + 1] - z[k]) + lam[k] + (z[k + 1] - y[k])
        dy = g(y[k]) + (y[k + 1] - y[k]) - lam[k] + (y[k + 1] - z[k + 1])
        np.testing.assert_allclose(dz, 0, atol=1e-13)
        np.testing.assert_allclose(dy, 0, atol=1e-13)
        np.testing.assert_allclose(lam[k + 1], lam[k] + z[k + 1] - y[k + 1], atol=1e-15)


def test_admm_converges_to_the_minimiser():
    rng = np.random.default_rng(5)
    A = random_spd(4, 5.0, rng)
    b = rng.standard_normal(4)
    h = linearized_admm(quadratic(A, b), np.zeros(4), 400)
    star = np.linalg.solve(A, b)
    np.testing.assert_allclose(h.z[-1], star, atol=1e-8)
    np.testing.assert_allclose(h.y[-1], star, atol=1e-8)


def test_mpmath_object_arrays_agree_with_float64():
    rng = np.random.default_rng(6)
    A = random_spd(3, 10.0, rng)
    z0 = rng.standard_normal(3)
    with mpmath.workdps(40):
        Am, bm = to_mp(A), to_mp(np.ones(3))
        mp_hist = nesterov_agd(lambda z: Am @ z - bm, to_mp(z0), 12, dps=40)
        mp_sum = nesterov_agd_summed(lambda z: Am @ z - bm, to_mp(z0), 12, dps=40)
        pairs = (zip(mp_hist.y[k], mp_sum[k], strict=True) for k in range(13))
        gap = max(abs(a - b) for pair in pairs for a, b in pair)
        assert gap < mpmath.mpf(10) ** -35
        assert isinstance(mp_hist.z[-1][0], mpmath.mpf)
    fl = nesterov_agd(quadratic(A, np.ones(3)), z0, 12)
    np.testing.assert_allclose(np.array(mp_hist.z[-1], dtype=float), fl.z[-1], rtol=1e-13)


def test_bad_step_counts_and_short_coefficients_are_refused():
    g = quadratic(np.eye(2), np.zeros(2))
    with pytest.raises(OptnetError):
        gradient_descent(g, np.ones(2), -1)
    with pytest.raises(OptnetError):
        nesterov_agd(g, np.ones(2), 5, beta=[0.0, 0.0])
    with pytest.raises(OptnetError):
        nesterov_agd_summed(g, np.ones(2), 5, h=[[], [1.0]])


def test_lemma1_reading_gd_on_the_energy_decreases_f():
    """With Phi' in [0, M] and lambda_max(W) <= 1/M, f of (8) is convex with L <= 1, so GD (1)
    with step 1 decreases it; the GD iterates are the network (7) mapped by z = U x."""
    from optnet_theory import derive_energy
    from optnet_theory.matrices import spd_sqrt

    energy = derive_energy("sigmoid")  # Phi' in [0, 1/4]
    rng = np.random.default_rng(7)
    U, _ = spd_sqrt(random_spd(8, 100.0, rng, top=4.0))
    f = energy.objective_fn(U)
    zs = gradient_descent(energy.gradient_fn(U), U @ rng.standard_normal(8), 25)
    values = [f(z) for z in zs]
    assert all(b <= a + 1e-12 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < values[0]
