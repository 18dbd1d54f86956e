"""The algorithms (1)-(6), generated from their method entries: definitions, special cases,
both precisions, and agreement with the hand-written reference of ``reference_algorithms``."""

from __future__ import annotations

from dataclasses import replace

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optnet_theory.coefficients import strongly_convex_beta
from optnet_theory.errors import OptnetError
from optnet_theory.methods import get_method
from optnet_theory.methods.catalogue.paper import AGD, AGD2, agd2_step, agd_step
from optnet_theory.strategies import spd_matrices
from optnet_theory.verify.matrices import random_spd, to_mp
from tests.theory import reference_algorithms as ref


def quadratic(A: np.ndarray, b: np.ndarray):
    """grad of f(z) = z^T A z / 2 - b^T z."""
    return lambda z: A @ z - b


def admm_paths(g, z0, K):
    traj = get_method("admm").trajectory(lambda _j, y: g(y), z0, K)
    return traj.states[::2, 0], traj.states[::2, 1], traj.states[::2, 2]


@given(spd_matrices(5, max_cond=100.0), st.integers(0, 30))
def test_gd_on_a_quadratic_is_the_matrix_power(A, K):
    b, z0 = np.arange(5.0), np.ones(5)
    zs = get_method("gd").run(quadratic(A, b), z0, K)
    star = np.linalg.solve(A, b)
    expected = star + np.linalg.matrix_power(np.eye(5) - A, K) @ (z0 - star)
    assert zs.shape == (K + 1, 5)
    np.testing.assert_allclose(zs[K], expected, rtol=1e-10, atol=1e-10)


def test_generated_algorithms_equal_the_hand_written_references():
    rng = np.random.default_rng(0)
    A = random_spd(6, 50.0, rng)
    g, z0, K = quadratic(A, rng.standard_normal(6)), rng.standard_normal(6), 25
    pairs = [
        (get_method("gd").run(g, z0, K), ref.gradient_descent(g, z0, K)),
        (get_method("hb", beta=0.3, step=1.0).run(g, z0, K), ref.heavy_ball(g, z0, K, 0.3)),
        (get_method("agd").run(g, z0, K), ref.nesterov_agd(g, z0, K).z),
        (get_method("agd2").run(g, z0, K), ref.nesterov_agd_summed(g, z0, K)),
    ]
    hist = ref.linearized_admm(g, z0, K)
    zp, yp, lam = admm_paths(g, z0, K)
    pairs += [(zp, hist.z), (yp, hist.y), (lam, hist.lam)]
    for got, want in pairs:
        np.testing.assert_allclose(got, np.array(want), rtol=0, atol=1e-12)
    # negative control: a heavy ball whose beta is off by 1e-3 is far from the reference
    off = get_method("hb", beta=0.301, step=1.0).run(g, z0, K)
    assert np.max(np.abs(off - np.array(ref.heavy_ball(g, z0, K, 0.3)))) > 1e-5


def test_zero_momentum_reduces_hb_agd_and_summed_form_to_gd():
    rng = np.random.default_rng(1)
    A = random_spd(6, 50.0, rng)
    g, z0, K = quadratic(A, rng.standard_normal(6)), rng.standard_normal(6), 15
    gd = get_method("gd").run(g, z0, K)
    hb = get_method("hb", beta=0.0, step=1.0).run(g, z0, K)
    still = replace(AGD, name="agd-0", schedule=lambda j, p: agd_step(p.ar.zero(), p)).bind()
    agd = still.run(g, z0, K)
    zero2 = replace(AGD2, name="agd2-0", schedule=lambda j, p: agd2_step(p.ar.zero(), p))
    summed = zero2.bind().run(g, z0, K)
    np.testing.assert_array_equal(hb, gd)
    np.testing.assert_array_equal(agd, gd)
    np.testing.assert_allclose(summed, gd, rtol=0, atol=1e-14)


def test_heavy_ball_step_by_hand():
    g = quadratic(np.diag([0.5, 0.25]), np.zeros(2))
    z = get_method("hb", beta=0.3, step=1.0).run(g, np.array([1.0, 2.0]), 2)
    z1 = np.array([0.5, 1.5])  # first step has no momentum (z_{-1} = z_0)
    np.testing.assert_allclose(z[1], z1)
    np.testing.assert_allclose(z[2], z1 - g(z1) + 0.3 * (z1 - np.array([1.0, 2.0])))


def test_agd_first_momentum_is_zero_and_y_is_the_extrapolation():
    rng = np.random.default_rng(2)
    A = random_spd(4, 10.0, rng)
    g, z0 = quadratic(A, np.ones(4)), rng.standard_normal(4)
    traj = get_method("agd").trajectory(lambda _j, y: g(y), z0, 6)
    z, y = traj.outputs, traj.points
    np.testing.assert_array_equal(y[0], z0)
    np.testing.assert_array_equal(y[1], z[1])  # beta_1 = 0 since theta_0 = 1
    for k in range(6):
        np.testing.assert_allclose(z[k + 1], y[k] - g(y[k]))


def test_footnote4_constant_momentum_forms_agree():
    """(3) with footnote 4's constant beta equals (4) with its h (mu, L of f)."""
    rng = np.random.default_rng(3)
    A = random_spd(6, 100.0, rng)  # L = 1, mu = 1/100
    L, mu = 1.0, 0.01
    b, z0, K = rng.standard_normal(6), rng.standard_normal(6), 40
    g = quadratic(A, b)
    agd = get_method("agd", L=L, mu=mu, momentum="constant")
    three = agd.trajectory(lambda _j, y: g(y), z0, K).points
    four = get_method("agd2", L=L, mu=mu, momentum="constant").run(g, z0, K)
    np.testing.assert_allclose(four, three, rtol=0, atol=1e-12)
    beta = strongly_convex_beta(L, mu)
    hand = ref.nesterov_agd(g, z0, K, beta=[0.0] + [beta] * K).y
    np.testing.assert_allclose(three, np.array(hand), rtol=0, atol=1e-12)
    star = np.linalg.solve(A, b)
    gd = get_method("gd").run(g, z0, K)
    # accelerated: closer to the minimiser than GD after K steps on an ill-conditioned f
    assert np.linalg.norm(three[K] - star) < np.linalg.norm(gd[K] - star)


def test_admm_iterates_solve_the_subproblems_of_6():
    rng = np.random.default_rng(4)
    A = random_spd(5, 20.0, rng)
    g, z0 = quadratic(A, rng.standard_normal(5)), rng.standard_normal(5)
    z, y, lam = admm_paths(g, z0, 8)
    for k in range(8):
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
    z, y, _ = admm_paths(quadratic(A, b), np.zeros(4), 400)
    star = np.linalg.solve(A, b)
    np.testing.assert_allclose(z[-1], star, atol=1e-8)
    np.testing.assert_allclose(y[-1], star, atol=1e-8)


def test_mpmath_object_arrays_agree_with_float64():
    rng = np.random.default_rng(6)
    A = random_spd(3, 10.0, rng)
    z0 = rng.standard_normal(3)
    with mpmath.workdps(40):
        Am, bm = to_mp(A), to_mp(np.ones(3))
        grad = lambda z: Am @ z - bm  # noqa: E731
        traj = get_method("agd").trajectory(
            lambda _j, y: grad(y), to_mp(z0), 12, arithmetic="mp", dps=40
        )
        summed = get_method("agd2").run(grad, to_mp(z0), 12, arithmetic="mp", dps=40)
        gap = max(abs(a - b) for a, b in zip(traj.points.ravel(), summed.ravel(), strict=True))
        assert gap < mpmath.mpf(10) ** -35
        assert isinstance(traj.outputs[-1][0], mpmath.mpf)
    fl = get_method("agd").run(quadratic(A, np.ones(3)), z0, 12)
    np.testing.assert_allclose(np.array(traj.outputs[-1], dtype=float), fl[-1], rtol=1e-13)


def test_bad_step_counts_and_parameters_are_refused():
    g = quadratic(np.eye(2), np.zeros(2))
    with pytest.raises(OptnetError, match="iterations"):
        get_method("gd").run(g, np.ones(2), -1)
    with pytest.raises(OptnetError, match="momentum"):
        get_method("agd", momentum="fast")
    with pytest.raises(OptnetError, match="no parameter"):
        get_method("gd", beta=0.3)


def test_lemma1_reading_gd_on_the_energy_decreases_f():
    """With Phi' in [0, M] and lambda_max(W) <= 1/M, f of (8) is convex with L <= 1, so GD (1)
    with step 1 decreases it; the GD iterates are the network (7) mapped by z = U x."""
    from optnet_theory import derive_energy
    from optnet_theory.verify.matrices import spd_sqrt

    energy = derive_energy("sigmoid")  # Phi' in [0, 1/4]
    rng = np.random.default_rng(7)
    U, _ = spd_sqrt(random_spd(8, 100.0, rng, top=4.0))
    f = energy.objective_fn(U)
    zs = get_method("gd").run(energy.gradient_fn(U), U @ rng.standard_normal(8), 25)
    values = [f(z) for z in zs]
    assert all(b <= a + 1e-12 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < values[0]
