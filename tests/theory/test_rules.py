"""The rule chain's screen for x^n R(e^(c x)) (rules.exp_rational_poles): real poles go to
by-parts and the dilogarithm, non-real poles (Mish) go straight to the numeric fallback."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from optnet_theory import derive_energy
from optnet_theory.antiderivative.rules import exp_rational_poles
from optnet_theory.energy.activations import X
from optnet_theory.energy.formula import parse_formula


@pytest.mark.parametrize(
    "formula, poles",
    [
        ("x*tanh(log(1+exp(x)))", "complex"),  # Mish: e^(2x) + 2 e^x + 2, poles -1 +- i
        ("x/cosh(x)", "complex"),  # e^x / (e^(2x) + 1): poles +- i
        ("x*exp(x/2)/(1+exp(x))", "complex"),  # in s = e^(x/2): s / (s^2 + 1)
        ("x/(1+exp(-x))", "real"),  # swish: pole -1
        ("x*tanh(x)", "real"),  # (s - 1)/(s + 1) in s = e^(2x), not (t^2 - 1)/(t^2 + 1)
        ("x**2/(exp(x)+3)", "real"),
        ("x*exp(x)", None),  # no pole: a polynomial in e^x
        ("exp(x)/(1+exp(x))", None),  # no x^n factor
        ("x*exp(-x**2)", None),  # exponent not linear in x
        ("tanh(tanh(x))", None),
    ],
)
def test_poles_of_x_n_times_a_rational_function_of_e_x(formula: str, poles: str | None) -> None:
    assert exp_rational_poles(sp.expand(parse_formula(formula, {})), X) == poles


@pytest.mark.parametrize("formula", ["x/(1+exp(-x))", "x*tanh(x)", "x**2/(exp(x)+3)"])
def test_real_poles_still_reach_a_verified_closed_form(formula: str) -> None:
    """Skipping SymPy on these loses nothing: by-parts reaches the dilogarithm (and Li3 for
    x^2, whose float evaluation goes through mpmath)."""
    energy = derive_energy(formula)
    assert energy.method == "closed-form" and energy.verified, energy.steps
    assert energy.psi is not None and energy.psi.has(sp.polylog)
    phi = energy.phi_mp
    with mpmath.workdps(30):
        for t in (-4.0, 2.5):
            exact = mpmath.quad(phi, [0, t])
            assert abs(energy.psi_fn(np.array([t]))[0] - exact) < 1e-12 * max(1, abs(exact))


def test_non_real_poles_go_to_the_numeric_fallback_at_once() -> None:
    energy = derive_energy("x/cosh(x)")
    assert energy.method == "numeric" and energy.verified
    assert energy.steps[0].startswith("exp-rational:")
    assert not any("time budget" in step for step in energy.steps)  # declined, not timed out
