"""torch.compile of HB-Net (Sec. 6.1) and AGD-Net (Sec. 6.2) gives the eager outputs (CPU).

The default tests use ``backend="aot_eager"``: real graph capture by Dynamo and AOT autograd,
without generating C++ code. The inductor backend (C++ code generation, minutes on two cores)
and the full-depth AGD-Net-40 run in the ``slow`` tests. Compared, against eager execution of an
identical copy: the training-mode output, the parameter gradients of one backward pass, and the
eval-mode output. Each comparison is also run against a copy with one classifier weight scaled
by 1.001, which must be caught (negative control).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import Tensor, nn

from optnet_nets import create_model
from optnet_nets.models import REGISTRY
from optnet_nets.models.densenet import cifar_densenet

# Relative differences allowed between compiled and eager float32 runs (kernel fusion reorders
# sums); the negative control changes the output by ~1e-3.
TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _small_agdnet() -> nn.Module:
    """AGD-Net (21) with agdnet40's options but 2 layers per dense block (depth 10)."""
    options = {k: o.default for k, o in REGISTRY["agdnet40"].options.items()}
    return cifar_densenet(10, num_classes=10, in_channels=3, **options)


MODELS: dict[str, Callable[[], nn.Module]] = {
    "hbnet20": lambda: create_model("hbnet20"),
    "hbnet20-reversible": lambda: create_model("hbnet20", reversible=True),
    "agdnet10": _small_agdnet,
}


def _run(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(train-mode output, all parameter gradients flattened, eval-mode output)."""
    model.train()
    out = model(x)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    model.eval()
    with torch.no_grad():
        out_eval = model(x)
    return out.detach(), torch.cat([g.flatten() for g in grads]), out_eval


def _rel(got: Tensor, want: Tensor) -> float:
    return ((got - want).norm() / want.norm()).item()


def _differences(make: Callable[[], nn.Module], backend: str) -> tuple[float, float]:
    """Max relative difference compiled vs eager, and compiled vs a perturbed eager copy."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = make()
    eager, broken = copy.deepcopy(model), copy.deepcopy(model)
    classifier = broken.get_submodule("fc")
    assert isinstance(classifier, nn.Linear)
    with torch.no_grad():
        classifier.weight.mul_(1.001)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    compiled = torch.compile(copy.deepcopy(model), backend=backend)
    assert isinstance(compiled, nn.Module)
    got = _run(compiled, x)
    want, control = _run(eager, x), _run(broken, x)
    diff = max(_rel(g, w) for g, w in zip(got, want, strict=True))
    control_diff = min(_rel(g, c) for g, c in zip(got, control, strict=True))
    return diff, control_diff


@pytest.mark.parametrize("name", sorted(MODELS))
def test_aot_eager_matches_eager(name: str) -> None:
    diff, control = _differences(MODELS[name], "aot_eager")
    assert diff < TOL < control


@pytest.mark.slow
def test_aot_eager_agdnet40_matches_eager() -> None:
    diff, control = _differences(lambda: create_model("agdnet40"), "aot_eager")
    assert diff < TOL < control


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_inductor_matches_eager(name: str) -> None:
    diff, control = _differences(MODELS[name], "inductor")
    assert diff < TOL < control
