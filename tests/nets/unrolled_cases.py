"""Small float64 cases of the unrolled networks and autograd's reference gradient, shared by the
tests of the generated adjoint (explicit and compiled)."""

from __future__ import annotations

import torch

from optnet_nets.unrolled import UnrolledEnsemble
from optnet_theory.methods import list_methods

D, B = 7, 5
METHODS = list_methods()  # every registered method: the paper's and ogm, ogmg, tmm, item
MU = 0.1  # for tmm and item (L = 1)


def autograd_reference(
    model: UnrolledEnsemble, x: torch.Tensor, f: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member losses of model (15) and their summed gradient, by autograd."""
    model.weight.grad = None
    losses = (model(x) - f).square().mean(dim=(1, 2))
    losses.sum().backward()
    grad = model.weight.grad.clone()
    model.weight.grad = None
    return losses.detach(), grad


def case(structures, depth, activation="sigmoid", seed=0, **kw):
    """A float64 ensemble of ``structures`` at ``depth`` with a batch x and targets f."""
    torch.manual_seed(seed)
    model = UnrolledEnsemble(structures, depth, D, seeds=list(range(len(structures))),
                             activation=activation, init="normal", dtype=torch.float64,
                             mu=MU, **kw)
    x = torch.randn(len(structures), B, D, dtype=torch.float64)
    f = torch.randn(len(structures), B, D, dtype=torch.float64)
    return model, x, f


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to max |b|."""
    return ((a - b).abs().max() / b.abs().max()).item()


def assert_equals_autograd(model, x, f, gradient) -> torch.Tensor:
    """``gradient(x, f)`` (an adjoint that writes model.weight.grad and returns the losses)
    equals autograd: losses to 1e-13, gradient to 1e-12 relative. Returns autograd's gradient."""
    want_loss, want_grad = autograd_reference(model, x, f)
    got_loss = gradient(x, f)
    assert torch.allclose(got_loss, want_loss, rtol=1e-13, atol=0)
    assert rel(model.weight.grad, want_grad) < 1e-12
    return want_grad
