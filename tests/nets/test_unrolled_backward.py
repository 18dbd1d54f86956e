"""The hand-written adjoint recursions equal autograd on the unrolled networks (7), (11)-(14)."""

from __future__ import annotations

import pytest
import torch

from optnet_nets.unrolled import STRUCTURES, UnrolledEnsemble
from optnet_nets.unrolled_backward import ExplicitGradient, unsupported_reason

D, B = 7, 5


def _autograd(model: UnrolledEnsemble, x: torch.Tensor, f: torch.Tensor):
    model.weight.grad = None
    losses = (model(x) - f).square().mean(dim=(1, 2))
    losses.sum().backward()
    grad = model.weight.grad.clone()
    model.weight.grad = None
    return losses.detach(), grad


def _case(structures, depth, activation="sigmoid", seed=0):
    torch.manual_seed(seed)
    model = UnrolledEnsemble(structures, depth, D, seeds=list(range(len(structures))),
                             activation=activation, init="normal", dtype=torch.float64)
    x = torch.randn(len(structures), B, D, dtype=torch.float64)
    f = torch.randn(len(structures), B, D, dtype=torch.float64)
    return model, x, f


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("structure", list(STRUCTURES))
@pytest.mark.parametrize("depth", [1, 2, 3, 7])
def test_gradient_equals_autograd_for_each_structure(structure, depth):
    model, x, f = _case([structure, structure], depth)
    want_loss, want_grad = _autograd(model, x, f)
    got_loss = ExplicitGradient(model, B)(x, f)
    assert torch.allclose(got_loss, want_loss, rtol=1e-13, atol=0)
    assert _rel(model.weight.grad, want_grad) < 1e-12


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_mixed_ensemble_and_repeated_calls(activation):
    """All five structures in one ensemble; a second call overwrites, never accumulates."""
    model, x, f = _case(["admm", "gd", "hb", "hb", "agd", "agd2"], 6, activation)
    want_loss, want_grad = _autograd(model, x, f)
    explicit = ExplicitGradient(model, B)
    explicit(x, f)
    got_loss = explicit(x, f)
    assert torch.allclose(got_loss, want_loss, rtol=1e-13, atol=0)
    assert _rel(model.weight.grad, want_grad) < 1e-12


@pytest.mark.parametrize(
    ("structure", "attribute"),
    [("hb", "hb_beta"), ("agd", "agd_beta"), ("agd2", "agd_beta")],
)
def test_negative_control_a_perturbed_coefficient_is_caught(structure, attribute):
    """The comparison is sharp: the explicit pass built with a coefficient off by 1e-3 fails."""
    model, x, f = _case([structure], 5)
    _, want_grad = _autograd(model, x, f)
    good = getattr(model, attribute)
    bad = good + 1e-3 if isinstance(good, float) else [b + 1e-3 for b in good]
    setattr(model, attribute, bad)
    ExplicitGradient(model, B)(x, f)
    setattr(model, attribute, good)
    assert _rel(model.weight.grad, want_grad) > 1e-6


def test_negative_control_admm_backward_with_a_wrong_half_is_caught():
    """(14)'s halves enter the adjoint recursion; 0.5 + 1e-3 there is caught."""
    model, x, f = _case(["admm"], 4)
    _, want_grad = _autograd(model, x, f)
    explicit = ExplicitGradient(model, B)
    explicit._layers[0].half = torch.tensor(0.5 + 1e-3, dtype=torch.float64)
    explicit(x, f)
    assert _rel(model.weight.grad, want_grad) > 1e-6


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"tied": True}, "tied"),
        ({"depths": [3, 2]}, "different depths"),
        ({"agd2_form": "dense"}, "dense"),
    ],
)
def test_unsupported_models_are_named(kwargs, reason):
    model = UnrolledEnsemble(["agd2", "agd2"], 3, D, **kwargs)
    assert reason in unsupported_reason(model)
    with pytest.raises(ValueError, match=reason):
        ExplicitGradient(model, B)


def test_replaced_weight_and_wrong_shapes_are_refused():
    model, x, f = _case(["gd"], 2)
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
