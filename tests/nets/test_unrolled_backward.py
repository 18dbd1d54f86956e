"""The generated adjoint programs equal autograd on the unrolled networks of every method."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from optnet_nets.unrolled import UnrolledEnsemble
from optnet_nets.unrolled.adjoint import ExplicitGradient, unsupported_reason
from optnet_nets.unrolled.plan import Product, build_plan
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
@pytest.mark.parametrize("depth", [1, 2, 3, 7])
def test_gradient_equals_autograd_for_each_method(structure, depth):
    model, x, f = case([structure, structure], depth)
    assert_equals_autograd(model, x, f, ExplicitGradient(model, B))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_mixed_ensemble_and_repeated_calls(activation):
    """Every method in one ensemble; a second call overwrites, never accumulates."""
    model, x, f = case(["admm", "gd", "hb", "hb", *METHODS[3:], "agd"], 6, activation)
    want_loss, want_grad = autograd_reference(model, x, f)
    explicit = ExplicitGradient(model, B)
    explicit(x, f)
    got_loss = explicit(x, f)
    assert torch.allclose(got_loss, want_loss, rtol=1e-13, atol=0)
    assert rel(model.weight.grad, want_grad) < 1e-12


@pytest.mark.parametrize("structure", METHODS)
def test_negative_control_a_perturbed_coefficient_is_caught(structure):
    """The comparison is sharp: the explicit pass built from the method's coefficients with one
    sub-step's B off by 1e-3 (every slot) fails against autograd on the true network."""
    depth = 5
    model, x, f = case([structure], depth)
    _, want_grad = autograd_reference(model, x, f)
    method = model.methods[structure]
    steps = method.coefficients(depth)
    j = 2 * method.spec.substeps  # a sub-step of layer 2
    steps[j] = dataclasses.replace(steps[j], B=tuple(b + 1e-3 for b in steps[j].B))
    model._plans[0] = build_plan(steps, method.spec.substeps, method.spec.initial)
    ExplicitGradient(model, B)(x, f)
    assert rel(model.weight.grad, want_grad) > 1e-6


def test_layers_whose_sub_steps_depend_on_each_other():
    """A layer of two sub-steps where the second's input needs the first's output (two gd steps
    sharing W_k: no stacking; the second product adds to W_k's gradient) equals autograd; a
    plan of one sub-step per layer is caught (negative control)."""
    from optnet_theory.methods import get_method

    depth = 4
    model, x, f = case(["gd"], depth)
    steps = get_method("gd").coefficients(2 * depth)  # 2 sub-steps per layer
    model._plans[0] = build_plan(steps, 2, (1.0,))
    products = [st for st in model._plans[0].statements if isinstance(st, Product)]
    assert len(products) == 2 * depth and all(len(st.ys) == 1 for st in products)
    want_grad = assert_equals_autograd(model, x, f, ExplicitGradient(model, B))
    model._plans[0] = build_plan(steps[:depth + 1], 1, (1.0,))  # negative control: one per layer
    ExplicitGradient(model, B)(x, f)
    assert rel(model.weight.grad, want_grad) > 1e-6


def test_negative_control_a_changed_method_parameter_is_caught():
    """hb with beta 0.3 + 1e-3 (a method parameter) gives another gradient."""
    model, x, f = case(["hb"], 5)
    _, want_grad = autograd_reference(model, x, f)
    other, _, _ = case(["hb"], 5, methods={"hb": {"beta": 0.3 + 1e-3}})
    other.set_matrices(model.matrices().detach())
    ExplicitGradient(other, B)(x, f)
    assert rel(other.weight.grad, want_grad) > 1e-6


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"tied": True}, "tied"),
        ({"depths": [3, 2]}, "different depths"),
    ],
)
def test_unsupported_models_are_named(kwargs, reason):
    model = UnrolledEnsemble(["agd2", "agd2"], 3, D, **kwargs)
    assert reason in unsupported_reason(model)
    with pytest.raises(ValueError, match=reason):
        ExplicitGradient(model, B)


def test_replaced_weight_and_wrong_shapes_are_refused():
    model, x, f = case(["gd"], 2)
    explicit = ExplicitGradient(model, B)
    with pytest.raises(ValueError, match=r"shape \(1, 5, 7\)"):
        explicit(x[:, :3], f[:, :3])
    model.weight = torch.nn.Parameter(model.weight.detach().clone())
    with pytest.raises(RuntimeError, match="replaced"):
        explicit(x, f)


def test_flushing_subnormals_leaves_adam_training_unchanged():
    """Why ``optnet simulate`` may flush subnormals: deep GD's vanishing gradients reach them,
    yet ten Adam steps give bitwise the same weights with and without flush-to-zero."""
    weights, subnormal = {}, {}
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        try:
            model = UnrolledEnsemble(["gd"], 60, 8, seeds=[0], init="normal")
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            explicit = ExplicitGradient(model, B)
            gen = torch.Generator().manual_seed(0)
            for _ in range(10):
                explicit(torch.randn(1, B, 8, generator=gen), torch.randn(1, B, 8, generator=gen))
                g = model.weight.grad
                subnormal[flush] = int(((g != 0) & (g.abs() < torch.finfo(g.dtype).tiny)).sum())
                opt.step()
            weights[flush] = model.weight.detach().clone()
        finally:
            torch.set_flush_denormal(False)
    assert subnormal[False] > 0  # the regime is reached (else the comparison proves nothing)
    assert subnormal[True] == 0
    assert torch.equal(weights[True], weights[False])
