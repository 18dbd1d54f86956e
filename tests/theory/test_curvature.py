"""Slope bounds of Phi and the mu, L of the energy (8) (Hessian I - U diag(Phi') U^T)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optnet_theory import derive_energy
from optnet_theory.energy.curvature import curvature, slope_bounds, slope_bounds_report
from optnet_theory.errors import OptnetError

EXPECTED = {  # inf and sup of Phi' worked out by hand from the registry formulas
    "relu": (0.0, 1.0),
    "leaky_relu": (0.01, 1.0),
    "sigmoid": (0.0, 0.25),
    "hard_swish": (-0.5, 1.5),
    "hard_sigmoid": (0.0, 1 / 6),
    "identity": (1.0, 1.0),
    "tanh": (0.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_slope_bounds(name: str) -> None:
    report = slope_bounds_report(derive_energy(name))
    tol = report.tolerance + 1e-12
    assert report.m == pytest.approx(EXPECTED[name][0], abs=tol)
    assert report.M == pytest.approx(EXPECTED[name][1], abs=tol)
    assert slope_bounds(derive_energy(name)) == (report.m, report.M)


def _hessian(name: str, u: np.ndarray, z: np.ndarray) -> np.ndarray:
    d = derive_energy(name).dphi_fn(u.T @ z)
    return np.eye(len(z)) - u @ np.diag(d) @ u.T


@given(
    name=st.sampled_from(["sigmoid", "swish", "gelu", "softsign", "elu", "mish"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_hessian_spectrum_lies_in_mu_L(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(4, 4)) / 2
    u = (a + a.T) / 2
    c = curvature(derive_energy(name), u, symbolic=False)
    for _ in range(5):
        eig = np.linalg.eigvalsh(_hessian(name, u, rng.normal(size=4) * 3))
        assert c.mu - 1e-8 <= eig[0] and eig[-1] <= c.L + 1e-8


def test_identity_scaling_formulas_and_negative_control() -> None:
    u = 1.5 * np.eye(3)
    c = curvature(derive_energy("sigmoid"), u)
    assert c.mu == pytest.approx(1 - c.M * 2.25) and c.L == pytest.approx(1 - c.m * 2.25)
    assert c.strongly_convex
    # negative control: a bound from half the true M is beaten at z = 0 (Phi'(0) = 1/4)
    too_high_mu = 1 - (c.M / 2) * 2.25
    assert np.linalg.eigvalsh(_hessian("sigmoid", u, np.zeros(3)))[0] < too_high_mu


def test_not_strongly_convex_when_slope_exceeds_inverse_eigenvalue() -> None:
    c = curvature(derive_energy("relu"), 2 * np.eye(2))
    assert c.mu == pytest.approx(-3.0) and not c.strongly_convex


def test_bad_matrix_refused() -> None:
    with pytest.raises(OptnetError, match="2-D"):
        curvature(derive_energy("relu"), np.ones(3))
