"""Memory-free HB-Net (Sec. 6.1): the reversible backward of hb_reversible.

Checked directly on small stacks of T = conv-BN-ReLU-conv-BN (with and without Dropout):
gradcheck in float64, equality with the stored-activation backward, BatchNorm running statistics
updated once, Dropout masks replayed, saved memory constant in depth. Each check has a negative
control that breaks the property and is caught.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import Tensor, nn

from optnet_nets.models import reversible
from optnet_nets.models.reversible import hb_reversible, reconstruction_error
from optnet_nets.train.memory import SavedTensorBytes
from optnet_theory.errors import OptnetError


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _transform(channels: int, dropout: float = 0.0) -> nn.Sequential:
    """T of Sec. 6.1: conv-BN-ReLU-conv-BN, optionally with Dropout after the ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
    ]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)]
    return nn.Sequential(*layers)


def _stack(depth: int, channels: int = 3, dropout: float = 0.0, seed: int = 0) -> nn.ModuleList:
    torch.manual_seed(seed)
    return nn.ModuleList(_transform(channels, dropout) for _ in range(depth)).double()


def _plain(transforms: nn.ModuleList, x_prev: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """Reference: the same recursion with stored activations and ordinary autograd."""
    for t in transforms:
        x_prev, x = x, t(x) + x - x_prev
    return x_prev, x


def _loss(out: tuple[Tensor, Tensor]) -> Tensor:
    a, b = out
    return (1.3 * a + b.square()).sum()


Recursion = Callable[[nn.ModuleList, Tensor, Tensor], tuple[Tensor, Tensor]]


def _grads(
    fn: Recursion, transforms: nn.ModuleList, x_prev: Tensor, x: Tensor, seed: int = 7
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, ...]]:
    torch.manual_seed(seed)
    out = fn(transforms, x_prev, x)
    return out, torch.autograd.grad(_loss(out), [x_prev, x, *transforms.parameters()])


def _max_rel(got: tuple[Tensor, ...], want: tuple[Tensor, ...]) -> float:
    return max(((g - w).norm() / w.norm()).item() for g, w in zip(got, want, strict=True))


def _inputs(
    shape: tuple[int, ...] = (2, 3, 4, 4), dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    torch.manual_seed(1)
    return (
        torch.randn(shape, dtype=dtype, requires_grad=True),
        torch.randn(shape, dtype=dtype, requires_grad=True),
    )


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_gradcheck_float64(dropout: float) -> None:
    transforms = _stack(2, channels=2, dropout=dropout)
    x_prev, x = _inputs((2, 2, 3, 3))
    params = list(transforms.parameters())

    def fn(a: Tensor, b: Tensor, *_: Tensor) -> tuple[Tensor, Tensor]:
        torch.manual_seed(3)  # the same Dropout masks at every evaluation
        return hb_reversible(transforms, a, b)

    assert torch.autograd.gradcheck(fn, (x_prev, x, *params), fast_mode=True)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_matches_stored_activation_backward(dropout: float) -> None:
    transforms = _stack(6, dropout=dropout)
    x_prev, x = _inputs()
    out, got = _grads(hb_reversible, transforms, x_prev, x)
    ref_out, want = _grads(_plain, transforms, x_prev, x)
    assert torch.equal(out[0], ref_out[0]) and torch.equal(out[1], ref_out[1])
    assert _max_rel(got, want) < 1e-10


def test_float32_matches_within_1e_4() -> None:
    transforms = _stack(8).float()
    x_prev, x = _inputs((4, 3, 6, 6), torch.float32)
    _, got = _grads(hb_reversible, transforms, x_prev, x)
    _, want = _grads(_plain, transforms, x_prev, x)
    assert _max_rel(got, want) < 1e-4


def test_negative_control_dropout_without_rng_replay_is_caught() -> None:
    transforms = _stack(4, dropout=0.3)
    x_prev, x = _inputs()

    def no_replay(t: nn.ModuleList, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        return hb_reversible(t, a, b, preserve_rng_state=False)

    _, got = _grads(no_replay, transforms, x_prev, x)
    _, want = _grads(_plain, transforms, x_prev, x)
    assert _max_rel(got, want) > 1e-2


class _Drifting(nn.Module):
    """A T that changes between calls: not invertible by recomputation (negative control)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(0.5, dtype=torch.float64))
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        return torch.tanh(self.weight * x + 0.1 * self.calls)


def test_negative_control_non_reproducible_transform_is_caught() -> None:
    drifting = [_Drifting() for _ in range(3)]
    transforms = nn.ModuleList(drifting)
    x_prev, x = _inputs()
    _, got = _grads(hb_reversible, transforms, x_prev, x)
    for t in drifting:
        t.calls = 0
    _, want = _grads(_plain, transforms, x_prev, x)
    assert _max_rel(got, want) > 1e-3


def _bn_state(transforms: nn.Module) -> list[Tensor]:
    return [b.clone() for b in transforms.buffers()]


def _one_step_state(fn: Recursion, seed: int = 0) -> list[Tensor]:
    transforms = _stack(4, seed=seed)
    x_prev, x = _inputs()
    _grads(fn, transforms, x_prev, x)
    return _bn_state(transforms)


def test_batchnorm_running_stats_updated_once() -> None:
    got, want = _one_step_state(hb_reversible), _one_step_state(_plain)
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
    assert any(b.dtype == torch.long and int(b) == 1 for b in got)  # num_batches_tracked


def test_negative_control_recomputation_without_buffer_restore_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reversible, "_buffers_restored", lambda _t: contextlib.nullcontext())
    got, want = _one_step_state(hb_reversible), _one_step_state(_plain)
    assert not all(torch.equal(g, w) for g, w in zip(got, want, strict=True))


def test_backward_leaves_global_rng_untouched() -> None:
    transforms = _stack(3, dropout=0.5)
    x_prev, x = _inputs()
    _grads(hb_reversible, transforms, x_prev, x)
    after_reversible = torch.rand(4)
    _grads(_plain, transforms, x_prev, x)
    assert torch.equal(torch.rand(4), after_reversible)


def _saved_bytes(fn: Recursion, depth: int) -> int:
    transforms = _stack(depth).float()
    x_prev, x = _inputs((4, 3, 8, 8), torch.float32)
    with SavedTensorBytes() as counter:
        out = fn(transforms, x_prev, x)
    _loss(out).backward()
    return counter.nbytes


def test_saved_memory_does_not_grow_with_depth() -> None:
    state = 4 * 3 * 8 * 8 * 4  # bytes of one float32 state
    shallow, deep = _saved_bytes(hb_reversible, 2), _saved_bytes(hb_reversible, 12)
    # the two returned states; the loss saves b again (b.square()), counted once
    assert shallow == deep == 2 * state
    plain_shallow, plain_deep = _saved_bytes(_plain, 2), _saved_bytes(_plain, 12)
    assert plain_deep > 5 * plain_shallow > 5 * shallow  # the control does grow


def test_tied_weights_accumulate_gradients() -> None:
    torch.manual_seed(0)
    shared = _transform(3).double()
    transforms = nn.ModuleList([shared, shared, shared])
    x_prev, x = _inputs()
    _, got = _grads(hb_reversible, transforms, x_prev, x)
    _, want = _grads(_plain, transforms, x_prev, x)
    assert _max_rel(got, want) < 1e-10


def test_one_layer_same_tensor_twice_and_frozen_inputs() -> None:
    transforms = _stack(1)
    x, _ = _inputs()
    for x_prev in (x, x.detach()):
        torch.manual_seed(0)
        out = hb_reversible(transforms, x_prev, x)
        got = torch.autograd.grad(_loss(out), [x, *transforms.parameters()])
        out_ref = _plain(transforms, x_prev, x)
        want = torch.autograd.grad(_loss(out_ref), [x, *transforms.parameters()])
        assert _max_rel(got, want) < 1e-10


def test_no_grad_is_the_plain_recursion() -> None:
    transforms = _stack(3).eval()
    x_prev, x = _inputs()
    with torch.no_grad():
        got = hb_reversible(transforms, x_prev, x)
        want = _plain(transforms, x_prev, x)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert hb_reversible([], x_prev, x) == (x_prev, x)


def test_reconstruction_error_is_round_off() -> None:
    transforms = _stack(18)
    x_prev, x = _inputs((4, 3, 8, 8))
    err, scale = reconstruction_error(transforms, x_prev, x)
    assert err < 1e-10 * scale
    err32, scale32 = reconstruction_error(transforms.float(), x_prev.float(), x.float())
    assert 0 < err32 < 1e-3 * scale32
    assert all(t.training for t in transforms)


def test_bad_input_is_explained() -> None:
    transforms = _stack(2)
    x_prev, x = _inputs()
    with pytest.raises(OptnetError, match="one shape"):
        hb_reversible(transforms, x_prev, x[:1])
    with pytest.raises(OptnetError, match="shape-preserving"):
        hb_reversible([nn.Conv2d(3, 4, 1).double()], x_prev, x)
    with pytest.raises(OptnetError, match="nn.Module"):
        hb_reversible([torch.tanh], x_prev, x)  # type: ignore[list-item]


# --- The model zoo: create_model("hbnetN", reversible=True) against reversible=False ---------


def _hb_pair(name: str, dtype: torch.dtype) -> tuple[nn.Module, nn.Module]:
    """Standard and reversible HB-Net with the SAME state_dict."""
    from optnet_nets import create_model

    torch.manual_seed(0)
    standard = create_model(name).to(dtype)
    rev = create_model(name, reversible=True).to(dtype)
    rev.load_state_dict(standard.state_dict())
    return standard, rev


def _batch(batch: int, size: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, size, size, generator=gen).to(dtype)
    return x, torch.randint(0, 10, (batch,), generator=gen)


def _model_grads(model: nn.Module, x: Tensor, y: Tensor) -> list[Tensor]:
    loss = nn.functional.cross_entropy(model(x), y)
    return list(torch.autograd.grad(loss, list(model.parameters())))


def _flat_rel(got: list[Tensor], want: list[Tensor]) -> float:
    g = torch.cat([t.flatten() for t in got])
    w = torch.cat([t.flatten() for t in want])
    return ((g - w).norm() / w.norm()).item()


def _check_model_gradients(name: str, batch: int, size: int) -> None:
    """Per-tensor relative 1e-8 in float64; whole-gradient relative 1e-3 in float32."""
    standard, rev = _hb_pair(name, torch.float64)
    x, y = _batch(batch, size, torch.float64)
    assert _max_rel(tuple(_model_grads(rev, x, y)), tuple(_model_grads(standard, x, y))) < 1e-8
    standard, rev = _hb_pair(name, torch.float32)
    x, y = _batch(batch, size, torch.float32)
    assert _flat_rel(_model_grads(rev, x, y), _model_grads(standard, x, y)) < 1e-3


def test_hbnet20_gradients_match() -> None:
    _check_model_gradients("hbnet20", batch=4, size=8)


@pytest.mark.slow
def test_hbnet110_gradients_match_small_input() -> None:
    _check_model_gradients("hbnet110", batch=4, size=8)


@pytest.mark.slow
def test_hbnet110_gradients_match_batch64_float64() -> None:
    standard, rev = _hb_pair("hbnet110", torch.float64)
    x, y = _batch(64, 32, torch.float64)
    assert _max_rel(tuple(_model_grads(rev, x, y)), tuple(_model_grads(standard, x, y))) < 1e-8


@pytest.mark.slow
def test_hbnet110_float32_batch64_as_accurate_as_stored_backward() -> None:
    """At batch 64, 32x32, float32 round-off alone moves HB-Net-110's gradient by ~1e-3.

    Measured: perturbing the input by one part in 1e7 changes the stored-activation float32
    gradient by 1.5e-3 (relative, whole vector), and that gradient is 1.1e-3 to 1.8e-3 away
    from the float64 one, so a 1e-3 bound between two float32 backward passes is below
    float32's resolution here (it holds at the smaller sizes above). Checked instead: against
    the float64 gradient, the reversible float32 backward errs by less than twice the stored
    one, and the two float32 gradients are within 3e-3 of each other.
    """
    exact = _model_grads(_hb_pair("hbnet110", torch.float64)[0], *_batch(64, 32, torch.float64))
    standard, rev = _hb_pair("hbnet110", torch.float32)
    x, y = _batch(64, 32, torch.float32)
    as_f64 = [[g.double() for g in _model_grads(m, x, y)] for m in (standard, rev)]
    err_standard, err_rev = (_flat_rel(g, exact) for g in as_f64)
    assert err_rev < 2 * err_standard
    assert _flat_rel(as_f64[1], as_f64[0]) < 3e-3


def _train_step(model: nn.Module, x: Tensor, y: Tensor) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def _after_step(name: str) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    standard, rev = _hb_pair(name, torch.float32)
    x, y = _batch(4, 8, torch.float32)
    _train_step(standard, x, y)
    _train_step(rev, x, y)
    return dict(standard.named_buffers()), dict(rev.named_buffers())


def test_hbnet_batchnorm_stats_after_one_step_equal_exactly() -> None:
    want, got = _after_step("hbnet20")
    assert got.keys() == want.keys() and len(got) > 50
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_negative_control_hbnet_without_buffer_restore_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reversible, "_buffers_restored", lambda _t: contextlib.nullcontext())
    want, got = _after_step("hbnet20")
    assert not all(torch.equal(got[k], want[k]) for k in want)


def _model_saved_bytes(model: nn.Module, batch: int, size: int) -> int:
    x, y = _batch(batch, size, torch.float32)
    with SavedTensorBytes() as counter:
        loss = nn.functional.cross_entropy(model(x), y)
    del loss  # counting needs only the forward pass
    return counter.nbytes


def _memory(name: str, batch: int, size: int) -> tuple[int, int]:
    standard, rev = _hb_pair(name, torch.float32)
    return _model_saved_bytes(standard, batch, size), _model_saved_bytes(rev, batch, size)


def test_saved_memory_fraction_hbnet110_batch64() -> None:
    standard, rev = _memory("hbnet110", batch=64, size=8)
    assert rev <= 0.2 * standard


@pytest.mark.slow
def test_saved_memory_fraction_hbnet110_batch64_32x32() -> None:
    standard, rev = _memory("hbnet110", batch=64, size=32)
    assert rev <= 0.2 * standard


def test_saved_memory_stops_growing_with_depth() -> None:
    (std20, rev20), (std56, rev56) = _memory("hbnet20", 8, 8), _memory("hbnet56", 8, 8)
    assert std56 > 2 * std20  # the stored backward grows with depth
    assert abs(rev56 - rev20) <= 0.02 * rev20


@pytest.mark.slow
def test_saved_memory_same_for_hbnet56_and_hbnet110_batch64() -> None:
    (std56, rev56), (std110, rev110) = _memory("hbnet56", 64, 32), _memory("hbnet110", 64, 32)
    assert std110 > 1.8 * std56
    assert abs(rev110 - rev56) <= 0.02 * rev56
