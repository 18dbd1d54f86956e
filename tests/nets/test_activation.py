"""Phi in torch: the whitelisted SymPy -> torch translation against the float64 ``phi_fn``.

Every registry activation and a few formulas are compared on a wide grid in float32 and
float64; gradients are checked against finite differences in float64 and for finiteness far
out in float32. Negative controls: a translation table with one node perturbed (or swapped) is
caught by the same comparison, and the naive ``torch.where`` ELU has the nan gradient that the
masked branches avoid.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from torch import nn

from optnet_nets.models.activation import (
    DEFAULT_ACTIVATION,
    TORCH_FUNCTIONS,
    Phi,
    make_activation,
    torch_function,
)
from optnet_theory import derive_energy, list_activations
from optnet_theory.energy.activations import X
from optnet_theory.energy.formula import FormulaError
from optnet_theory.errors import OptnetError

torch.set_num_threads(1)

FORMULAS = ["x*erf(x)", "x*tanh(x)", "log(1+exp(x))", "max(x, 0) + sin(x)/10", "exp(x)/(1+exp(x))",
            "Piecewise((x**2, x < 1), (2*x - 1, True))", "min(max(x, -2), 2)"]  # fmt: skip
SPECS = list_activations() + FORMULAS
GRID = np.concatenate([np.linspace(-60.0, 60.0, 2401), [0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 1e-3]])
#: |torch - phi_fn| <= TOL * max(1, |phi_fn|), per dtype (measured: 3e-16 and 1.5e-7).
TOL = {torch.float64: 1e-12, torch.float32: 2e-6}


def _worst(fn, energy, dtype: torch.dtype) -> float:
    """Largest scaled deviation of ``fn`` from ``energy.phi_fn`` on GRID rounded to ``dtype``."""
    x = torch.tensor(GRID, dtype=dtype)
    ref = energy.phi_fn(x.double().numpy())
    got = fn(x).double().numpy()
    return float(np.max(np.abs(got - ref) / np.maximum(1.0, np.abs(ref))))


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_translation_matches_phi_fn_on_a_wide_grid(spec: str, dtype: torch.dtype) -> None:
    energy = derive_energy(spec)
    module = make_activation(spec)()
    assert _worst(module, energy, dtype) <= TOL[dtype]


def test_a_sympy_expression_is_accepted_and_equals_the_formula() -> None:
    x = sp.Symbol("x")
    from_sympy = make_activation(x * sp.erf(x))()
    from_text = make_activation("x*erf(x)")()
    t = torch.linspace(-5, 5, 101, dtype=torch.float64)
    assert torch.equal(from_sympy(t), from_text(t))


@pytest.mark.parametrize(
    ("spec", "node", "wrong"),
    [
        ("x*erf(x)", sp.erf, lambda u: torch.erf(u) * (1 + 1e-4)),  # a perturbed node
        ("tanh", sp.tanh, torch.sigmoid),  # a swapped node
        ("mish", sp.tanh, lambda u: torch.tanh(u * (1 - 1e-5))),
    ],
)
def test_negative_control_a_wrong_translation_is_caught(spec, node, wrong) -> None:
    energy = derive_energy(spec)
    good = torch_function(energy.phi)
    bad = torch_function(energy.phi, {**TORCH_FUNCTIONS, node: wrong})
    for dtype in (torch.float64, torch.float32):
        assert _worst(good, energy, dtype) <= TOL[dtype]
        assert _worst(bad, energy, dtype) > TOL[dtype]


def _away_from_kinks(n: int = 24) -> torch.Tensor:
    """Points in [-8, 8] at least 0.2 from every integer (all registry kinks are integers)."""
    return torch.arange(-8, 8, 16 / n, dtype=torch.float64) + 0.37


@pytest.mark.parametrize("spec", SPECS)
def test_gradient_equals_finite_differences_in_float64(spec: str) -> None:
    module = make_activation(spec)()
    x = _away_from_kinks().requires_grad_()
    assert torch.autograd.gradcheck(module, (x,), eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("spec", SPECS)
def test_gradient_is_finite_far_out_in_float32(spec: str) -> None:
    x = torch.linspace(-200, 200, 4001).requires_grad_()
    make_activation(spec)()(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_negative_control_the_naive_where_has_a_nan_gradient() -> None:
    """ELU written as a plain torch.where: e^100 = inf in float32, and 0 * inf = nan."""
    x = torch.tensor([100.0, -1.0], requires_grad=True)
    torch.where(x > 0, x, torch.exp(x) - 1).sum().backward()
    assert x.grad is not None and not torch.isfinite(x.grad).all()
    y = torch.tensor([100.0, -1.0], requires_grad=True)
    make_activation("elu")()(y).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


def test_the_default_is_the_papers_relu_as_nn_relu() -> None:
    assert DEFAULT_ACTIVATION == "relu"
    assert isinstance(make_activation()(inplace=True), nn.ReLU)
    phi = make_activation("x*erf(x)")()
    assert isinstance(phi, Phi) and "x*erf(x)" in repr(phi)


def test_bad_specs_are_one_line_errors_naming_the_problem() -> None:
    with pytest.raises(OptnetError, match="accepted: a registry name, a formula"):
        make_activation(3)
    with pytest.raises(OptnetError, match="empty"):
        make_activation("  ")
    with pytest.raises(FormulaError, match="dunder"):
        make_activation("__import__('os')")
    with pytest.raises(OptnetError, match="besselj"):
        torch_function(sp.besselj(0, X))
    with pytest.raises(OptnetError, match="free symbol"):
        torch_function(X * sp.Symbol("a", real=True))
