"""The one-function form of the generated adjoint (compiled by ``optnet simulate --compile``)
equals autograd on the unrolled networks of every method."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from optnet_nets.unrolled import UnrolledEnsemble
from optnet_nets.unrolled.compiled import CompiledGradient
from optnet_nets.unrolled.plan import build_plan
from tests.nets.unrolled_cases import (
    METHODS,
    B,
    D,
    assert_equals_autograd,
    autograd_reference,
    case,
    rel,
)


@pytest.mark.parametrize("structure", METHODS)
@pytest.mark.parametrize("depth", [1, 3])
def test_function_equals_autograd_for_each_method(structure, depth):
    model, x, f = case([structure, structure], depth)
    assert_equals_autograd(model, x, f, CompiledGradient(model, B, compile=False))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_mixed_ensemble(activation):
    model, x, f = case(["admm", "gd", "hb", *METHODS[3:]], 4, activation)
    assert_equals_autograd(model, x, f, CompiledGradient(model, B, compile=False))


@pytest.mark.parametrize("structure", ["admm", "agd2"])
def test_negative_control_a_perturbed_coefficient_is_caught(structure):
    """The function built from coefficients with one sub-step's B off by 1e-3 fails."""
    depth = 4
    model, x, f = case([structure], depth)
    _, want_grad = autograd_reference(model, x, f)
    method = model.methods[structure]
    steps = method.coefficients(depth)
    j = 2 * method.spec.substeps
    steps[j] = dataclasses.replace(steps[j], B=tuple(b + 1e-3 for b in steps[j].B))
    model._plans[0] = build_plan(steps, method.spec.substeps, method.spec.initial)
    CompiledGradient(model, B, compile=False)(x, f)
    assert rel(model.weight.grad, want_grad) > 1e-6


def test_unsupported_models_and_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="tied"):
        CompiledGradient(UnrolledEnsemble(["gd"], 2, D, tied=True), B, compile=False)
    model, x, f = case(["gd"], 2)
    with pytest.raises(ValueError, match=r"shape \(1, 5, 7\)"):
        CompiledGradient(model, B, compile=False)(x[:, :3], f[:, :3])


@pytest.mark.slow
def test_compiled_equals_autograd():
    """torch.compile (inductor's C++ wrapper; a C++ compiler is needed) of the same function:
    the fused loops round differently, to float64's 1e-12."""
    model, x, f = case(["admm", "gd", "agd2"], 2)
    want_loss, want_grad = autograd_reference(model, x, f)
    got_loss = CompiledGradient(model, B)(x, f)
    assert torch.allclose(got_loss, want_loss, rtol=1e-12, atol=0)
    assert rel(model.weight.grad, want_grad) < 1e-12
