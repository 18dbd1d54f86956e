"""Polynomials times logistic, softplus and tanh (issue 24, item 1): a verified closed-form Psi.

These crashed derive with ``NameError: dirichlet_eta`` (Psi(0) = 0 brings eta(3) = -Li_3(-1),
which NumPy did not know). Done when Psi(b) - Psi(a) agrees with an independent quadrature of
Phi to 1e-8 relative, for (a, b) up to +-3, +-30 and +-300: both the float64 Psi a user gets
(``psi_fn``) and the 30-digit one (``psi_mp``). "Relative" is to the integral of |Phi| over
[a, b], which is |Psi(b) - Psi(a)| wherever Phi keeps its sign and stays meaningful where the
integral cancels (x^2 tanh x over [-R, R] integrates to 0). The negative control moves Psi by
one part in 1e7 and must be caught by the same comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
import pytest

from optnet_theory import derive_energy

FORMULAS = (
    "x*softplus(x)",
    "x**2*sigmoid(x)",
    "x**2*tanh(x)",
    "x**2*sigmoid(2*x)",
    "x**2/(1+exp(x))",
    "x*log(1+exp(x))",
)
RANGES = (3, 30, 300)
TOLERANCE = 1e-8


def _pairs(R: float) -> list[tuple[float, float]]:
    return [(-R, R), (-R, 0.0), (0.0, R), (-R, R / 3), (-R / 3, R)]


def _nodes(a: float, b: float) -> list[mpmath.mpf]:
    """a, b and the points 0, +-1, +-10, +-100 between them (quadrature panels)."""
    inner = [s * m for m in (0, 1, 10, 100) for s in (-1, 1) if a < s * m < b]
    return [mpmath.mpf(v) for v in sorted({a, b, *inner})]


def worst_error(phi_mp: Callable, psi: Callable[[float], float]) -> float:
    """Largest |(Psi(b) - Psi(a)) - int_a^b Phi| / int_a^b |Phi| over the pairs of RANGES."""
    worst = 0.0
    with mpmath.workdps(30):
        for R in RANGES:
            for a, b in _pairs(R):
                nodes = _nodes(a, b)
                exact = mpmath.quad(phi_mp, nodes)
                scale = mpmath.quad(lambda t: abs(phi_mp(t)), nodes)
                got = mpmath.mpf(psi(b)) - mpmath.mpf(psi(a))
                worst = max(worst, float(abs(got - exact) / scale))
    return worst


@pytest.fixture(scope="module", params=FORMULAS)
def energy(request: pytest.FixtureRequest):
    return derive_energy(request.param)


def test_the_closed_form_is_verified(energy) -> None:
    assert energy.method == "closed-form" and energy.verified, energy.steps
    assert energy.float_check_error < 1e-14  # the float audit over +-[1e-3, 1e3]


def test_float64_psi_agrees_with_quadrature(energy) -> None:
    def psi(t: float) -> float:
        return float(energy.psi_fn(np.array([t]))[0])

    assert worst_error(energy.phi_mp, psi) < TOLERANCE


def test_30_digit_psi_agrees_with_quadrature(energy) -> None:
    assert worst_error(energy.phi_mp, lambda t: energy.psi_mp(mpmath.mpf(t))) < TOLERANCE


def test_a_psi_off_by_one_part_in_1e7_is_caught(energy) -> None:
    def psi(t: float) -> float:
        return float(energy.psi_fn(np.array([t]))[0]) * (1 + 1e-7)

    assert worst_error(energy.phi_mp, psi) > TOLERANCE
