"""The activation registry: names, symbolic parameters, and computed SELU constants."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

from optnet_theory import list_activations
from optnet_theory.energy.activations import X, get_activation, parameter
from optnet_theory.errors import OptnetError

CONTRACT_NAMES = {
    "sigmoid",
    "tanh",
    "softplus",
    "softsign",
    "relu",
    "leaky_relu",
    "elu",
    "swish",
    "gelu",
    "silu",
    "mish",
    "selu",
    "celu",
    "hardtanh",
    "relu6",
    "hard_sigmoid",
    "hard_swish",
    "arctan",
    "identity",
}


def test_registry_names_cover_the_contract() -> None:
    names = list_activations()
    assert CONTRACT_NAMES <= set(names)
    assert all(n == n.lower() for n in names)


def test_table1_rows_are_marked() -> None:
    marked = {n for n in list_activations() if get_activation(n).in_table1}
    assert marked == {
        "sigmoid",
        "tanh",
        "softplus",
        "softsign",
        "relu",
        "leaky_relu",
        "elu",
        "swish",
    }


def test_parameters_stay_symbols_until_bound() -> None:
    phi = get_activation("leaky_relu").phi()
    assert parameter("alpha") in phi.free_symbols
    assert phi.subs({parameter("alpha"): sp.Rational(1, 10), X: -2}) == sp.Rational(-1, 5)


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(OptnetError, match="choose from sigmoid, tanh"):
        get_activation("sigmod")


def test_lookup_ignores_case_and_dashes() -> None:
    assert get_activation("Leaky-ReLU").name == "leaky_relu"


def test_selu_defaults_are_the_self_normalising_fixed_point() -> None:
    """E[selu(Z)] = 0 and E[selu(Z)^2] = 1 for Z ~ N(0, 1), by 30-digit quadrature."""
    act = get_activation("selu")
    phi = act.phi().subs({parameter(k): v for k, v in act.defaults.items()})
    f = sp.lambdify(X, phi, "mpmath")
    with mpmath.workdps(30):
        density = lambda t: mpmath.npdf(t)  # noqa: E731
        mean = mpmath.quad(lambda t: f(t) * density(t), [-mpmath.inf, 0, mpmath.inf])
        second = mpmath.quad(lambda t: f(t) ** 2 * density(t), [-mpmath.inf, 0, mpmath.inf])
    assert abs(mean) < 1e-25
    assert abs(second - 1) < 1e-25


def test_selu_check_catches_wrong_constants() -> None:
    """Negative control for the fixed-point test: a perturbed alpha breaks E[selu(Z)] = 0."""
    act = get_activation("selu")
    values = {parameter(k): v for k, v in act.defaults.items()}
    values[parameter("alpha")] *= sp.Rational(1001, 1000)
    f = sp.lambdify(X, act.phi().subs(values), "mpmath")
    with mpmath.workdps(30):
        mean = mpmath.quad(lambda t: f(t) * mpmath.npdf(t), [-mpmath.inf, 0, mpmath.inf])
    assert abs(mean) > 1e-6
