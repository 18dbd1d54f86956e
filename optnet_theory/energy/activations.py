"""The activation registry: Phi for every row of Table 1 and the usual modern activations.

The registry holds only the activation Phi (as SymPy in the real symbol ``x``, with its
parameters kept as symbols until bound) -- never an antiderivative. The energy Psi with
Psi' = Phi (Lemma 1, eq. (8)) is always derived by :mod:`optnet_theory.energy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from optnet_theory.errors import OptnetError

#: The variable of every activation: a real scalar (Phi acts elementwise, eq. (7)).
X = sp.Symbol("x", real=True)


def parameter(name: str) -> sp.Symbol:
    """The SymPy symbol of an activation parameter (real, like ``x``)."""
    return sp.Symbol(name, real=True)


@dataclass(frozen=True)
class Activation:
    """One registry entry: Phi(x) with symbolic parameters and their default values."""

    name: str
    description: str
    build: Callable[..., sp.Expr]
    defaults: dict[str, sp.Expr] = field(default_factory=dict)
    in_table1: bool = False

    def phi(self) -> sp.Expr:
        """Phi(x) with its parameters as symbols."""
        return self.build(X, **{p: parameter(p) for p in self.defaults})


def _normal_tail(c: sp.Expr) -> sp.Expr:
    """P(Z <= -c) for a standard normal Z."""
    return sp.erfc(c / sp.sqrt(2)) / 2


def _selu_constants() -> dict[str, sp.Expr]:
    """SELU's (alpha, lambda): the fixed point mean 0, variance 1 for Z ~ N(0, 1).

    E[selu(Z)] = 0 gives alpha = E[Z; Z>0] / E[1 - e^Z; Z<=0]; then E[selu(Z)^2] = 1 gives
    lambda. Computed here instead of typed in (Klambauer et al. 2017, eq. (14)).
    """
    half_gauss = 1 / sp.sqrt(2 * sp.pi)  # E[Z; Z>0]
    e_exp = sp.exp(sp.Rational(1, 2)) * _normal_tail(sp.Integer(1))  # E[e^Z; Z<=0]
    e_exp2 = sp.exp(2) * _normal_tail(sp.Integer(2))  # E[e^{2Z}; Z<=0]
    alpha = half_gauss / (sp.Rational(1, 2) - e_exp)
    second = sp.Rational(1, 2) + alpha**2 * (e_exp2 - 2 * e_exp + sp.Rational(1, 2))
    return {"alpha": alpha, "lam": 1 / sp.sqrt(second)}


def _pw(*pairs: tuple[sp.Expr, sp.Basic]) -> sp.Expr:
    return sp.Piecewise(*pairs)


def sigmoid(u: sp.Expr) -> sp.Expr:
    """The logistic 1/(1 + e^-u) as SymPy (the registry's and the formula parser's sigmoid)."""
    return 1 / (1 + sp.exp(-u))


def _relu6(u: sp.Expr) -> sp.Expr:
    return _pw((0, u < 0), (u, u <= 6), (6, True))


_ENTRIES: tuple[Activation, ...] = (
    Activation("sigmoid", "logistic 1/(1+e^-x)", lambda x: sigmoid(x), in_table1=True),
    Activation("tanh", "hyperbolic tangent", lambda x: sp.tanh(x), in_table1=True),
    Activation("softplus", "log(1+e^x)", lambda x: sp.log(1 + sp.exp(x)), in_table1=True),
    Activation("softsign", "x/(1+|x|)", lambda x: x / (1 + sp.Abs(x)), in_table1=True),
    Activation("relu", "max(x, 0)", lambda x: _pw((x, x > 0), (0, True)), in_table1=True),
    Activation(
        "leaky_relu",
        "x for x>0, alpha*x otherwise",
        lambda x, alpha: _pw((x, x > 0), (alpha * x, True)),
        {"alpha": sp.Rational(1, 100)},
        in_table1=True,
    ),
    Activation(
        "elu",
        "x for x>0, a*(e^x-1) otherwise",
        lambda x, a: _pw((x, x > 0), (a * (sp.exp(x) - 1), True)),
        {"a": sp.Integer(1)},
        in_table1=True,
    ),
    Activation(
        "swish",
        "x*sigmoid(beta*x)",
        lambda x, beta: x * sigmoid(beta * x),
        {"beta": sp.Integer(1)},
        in_table1=True,
    ),
    Activation("gelu", "x*Phi_N(x), erf form", lambda x: x / 2 * (1 + sp.erf(x / sp.sqrt(2)))),
    Activation("silu", "x*sigmoid(x)", lambda x: x * sigmoid(x)),
    Activation("mish", "x*tanh(softplus(x))", lambda x: x * sp.tanh(sp.log(1 + sp.exp(x)))),
    Activation(
        "selu",
        "lam*(x for x>0, alpha*(e^x-1) otherwise)",
        lambda x, alpha, lam: lam * _pw((x, x > 0), (alpha * (sp.exp(x) - 1), True)),
        _selu_constants(),
    ),
    Activation(
        "celu",
        "x for x>0, alpha*(e^(x/alpha)-1) otherwise",
        lambda x, alpha: _pw((x, x > 0), (alpha * (sp.exp(x / alpha) - 1), True)),
        {"alpha": sp.Integer(1)},
    ),
    Activation("hardtanh", "clip(x, -1, 1)", lambda x: _pw((-1, x < -1), (x, x <= 1), (1, True))),
    Activation("relu6", "min(max(x, 0), 6)", _relu6),
    Activation("hard_sigmoid", "relu6(x+3)/6", lambda x: _relu6(x + 3) / 6),
    Activation("hard_swish", "x*relu6(x+3)/6", lambda x: x * _relu6(x + 3) / 6),
    Activation("arctan", "arctan(x)", lambda x: sp.atan(x)),
    Activation("identity", "x", lambda x: x),
)

REGISTRY: dict[str, Activation] = {a.name: a for a in _ENTRIES}


def list_activations() -> list[str]:
    """The registry's names, lower case, in registry order (Table 1 rows first)."""
    return list(REGISTRY)


def get_activation(name: str) -> Activation:
    """The registry entry called ``name`` (case and '-' insensitive)."""
    key = name.strip().lower().replace("-", "_")
    if key not in REGISTRY:
        raise OptnetError(
            f"unknown activation {name!r}; choose from {', '.join(REGISTRY)} or give a formula in x"
        )
    return REGISTRY[key]


def is_registry_name(spec: str) -> bool:
    """Whether ``spec`` names a registry entry (rather than being a formula)."""
    return spec.strip().lower().replace("-", "_") in REGISTRY
