"""Memory-free heavy-ball network: a backward pass that reconstructs states, Sec. 6.1.

HB-Net (Sec. 6.1) is eq. (16) with beta1 = 1, beta2 = -1:

    x_{k+1} = T_k(x_k) + x_k - x_{k-1}.

Each step is invertible, x_{k-1} = T_k(x_k) + x_k - x_{k+1}, so a backward pass does not need
the states of the forward pass: given the last two states it walks the layers in reverse,
rebuilding x_{k-1} from (x_k, x_{k+1}) and re-running T_k(x_k) with autograd on to get the
vector-Jacobian products for x_k and for T_k's parameters. Only the last two states are saved
for backward, so the activation memory of a stage no longer grows with its depth (the idea of
momentumnet, Sander et al., 2021, applied to the paper's beta = 1).

The gradient of one step (a, b) -> (b, T(b) + b - a), with output gradients (g_a', g_b'):

    g_a = -g_b',    g_b = g_a' + g_b' + J_T(b)^T g_b',    g_theta = J_theta(b)^T g_b'.

Recomputation leaves no trace on module state: every buffer of T_k (BatchNorm's running_mean,
running_var, num_batches_tracked) is restored after T_k is re-run, so running statistics are
updated exactly once, by the forward pass. BatchNorm in training mode re-derives its batch
statistics from the reconstructed x_k, i.e. the same statistics up to reconstruction round-off.
Random modules (Dropout) replay the forward pass's draws: the RNG state before each T_k is kept
and restored for its recomputation (CPU and, for CUDA inputs, that device's generator), the way
``torch.utils.checkpoint`` does. An autocast region around the forward pass is re-entered for
the recomputation.

Floating point makes the reconstruction inexact (adding and subtracting T_k(x_k) loses the low
bits); :func:`reconstruction_error` measures how far the rebuilt x_0 lands from the true one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from optnet_theory.errors import OptnetError

__all__ = ["hb_reversible", "reconstruction_error"]


def _hb_step(transform: nn.Module, x_prev: Tensor, x: Tensor) -> Tensor:
    """One heavy-ball layer with beta = 1, Sec. 6.1: T(x_k) + x_k - x_{k-1}."""
    y = transform(x)
    if y.shape != x.shape:
        raise OptnetError(
            f"hb_reversible: a transform mapped shape {tuple(x.shape)} to {tuple(y.shape)}; "
            "only shape-preserving transforms T (same shape in and out) are invertible"
        )
    return y + x - x_prev


def _hb_forward(
    transforms: Sequence[nn.Module], x_prev: Tensor, x: Tensor
) -> tuple[Tensor, Tensor]:
    """Plain (stored-activation) HB recursion over all transforms, eq. (16) with beta = 1."""
    for transform in transforms:
        x_prev, x = x, _hb_step(transform, x_prev, x)
    return x_prev, x


class _RngStash:
    """The RNG state before one T_k ran: CPU generator and, for CUDA tensors, that device's."""

    def __init__(self, device: torch.device) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda_device = device if device.type == "cuda" else None
        self.cuda = torch.cuda.get_rng_state(device) if self.cuda_device is not None else None

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        """Run the body with the stashed state; the caller's RNG state is left untouched."""
        devices = [self.cuda_device] if self.cuda_device is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda_device is not None and self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.cuda_device)
            yield


@contextlib.contextmanager
def _buffers_restored(transform: nn.Module) -> Iterator[None]:
    """Undo every in-place buffer update (BatchNorm running statistics) made inside the body."""
    saved = [(buf, buf.clone()) for buf in transform.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, value in saved:
                buf.copy_(value)


class _HBReversibleFunction(torch.autograd.Function):
    """x_{k+1} = T_k(x_k) + x_k - x_{k-1} with a backward that rebuilds the states (Sec. 6.1)."""

    @staticmethod
    def forward(
        ctx: Any,
        transforms: Sequence[nn.Module],
        param_index: Sequence[Sequence[int]],
        preserve_rng_state: bool,
        x_prev: Tensor,
        x: Tensor,
        *params: Tensor,
    ) -> tuple[Tensor, Tensor]:
        ctx.transforms = transforms
        ctx.param_index = param_index
        ctx.params = params  # leaf parameters: kept by their modules anyway, not activations
        device_type = x.device.type
        ctx.autocast = (
            device_type,
            torch.is_autocast_enabled(device_type),
            torch.get_autocast_dtype(device_type),
        )
        ctx.rng = []
        a, b = x_prev, x
        for transform in transforms:
            if preserve_rng_state:
                ctx.rng.append(_RngStash(x.device))
            a, b = b, _hb_step(transform, a, b)
        if a is x:  # one layer: return a fresh tensor, not the input itself
            a = a.clone()
        ctx.save_for_backward(a, b)
        return a, b

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_a: Tensor | None, grad_b: Tensor | None) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        grad_a = torch.zeros_like(a) if grad_a is None else grad_a
        grad_b = torch.zeros_like(b) if grad_b is None else grad_b
        param_grads: list[Tensor | None] = [None] * len(ctx.params)
        device_type, autocast_on, autocast_dtype = ctx.autocast
        for k in range(len(ctx.transforms) - 1, -1, -1):
            transform = ctx.transforms[k]
            idx = ctx.param_index[k]
            # Step k maps (x_{k-1}, x_k) = (a0, b0) to (x_k, x_{k+1}) = (a, b).
            b0 = a.detach().requires_grad_(True)
            rng = ctx.rng[k].replay() if ctx.rng else contextlib.nullcontext()
            # Buffers are restored only after the VJP: BatchNorm's backward checks their version.
            with _buffers_restored(transform):
                with (
                    torch.enable_grad(),
                    rng,
                    torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_on),
                ):
                    y = transform(b0)
                inputs = [b0, *(ctx.params[i] for i in idx)]
                grads = torch.autograd.grad(y, inputs, grad_b, allow_unused=True)
            with torch.no_grad():
                a0 = y.detach() + b0.detach() - b  # x_{k-1} = T_k(x_k) + x_k - x_{k+1}
                vjp_x = grads[0]
                grad_b0 = grad_a + grad_b if vjp_x is None else grad_a + grad_b + vjp_x
                grad_a0 = -grad_b
            for i, g in zip(idx, grads[1:], strict=True):
                if g is not None:
                    prev = param_grads[i]
                    param_grads[i] = g if prev is None else prev + g
            a, b, grad_a, grad_b = a0, b0.detach(), grad_a0, grad_b0
        return (None, None, None, grad_a, grad_b, *param_grads)


def _collect_params(transforms: Sequence[nn.Module]) -> tuple[list[Tensor], list[list[int]]]:
    """Unique trainable parameters of all transforms and, per transform, their indices."""
    params: list[Tensor] = []
    position: dict[int, int] = {}
    index: list[list[int]] = []
    for transform in transforms:
        mine: list[int] = []
        for p in transform.parameters():
            if not p.requires_grad:
                continue
            if id(p) not in position:
                position[id(p)] = len(params)
                params.append(p)
            mine.append(position[id(p)])
        index.append(mine)
    return params, index


def hb_reversible(
    transforms: Iterable[nn.Module],
    x_prev: Tensor,
    x: Tensor,
    *,
    preserve_rng_state: bool = True,
) -> tuple[Tensor, Tensor]:
    """Runs x_{k+1} = T_k(x_k) + x_k - x_{k-1} (eq. (16) with beta1 = 1, beta2 = -1; Sec. 6.1).

    Applies every transform in order (each must keep the shape of its input) and returns
    (x_{K-1}, x_K). The backward pass reconstructs the states, x_{k-1} = T_k(x_k) + x_k - x_{k+1},
    instead of storing them, so only the two returned states are saved for backward. Buffers
    of the transforms (BatchNorm running statistics) are updated once, by the forward pass;
    with ``preserve_rng_state`` (default) random modules such as Dropout replay the forward
    pass's masks in the recomputation. Without autograd (``torch.no_grad()``, or no input or
    parameter requiring grad) this is the plain recursion.
    """
    if not isinstance(x_prev, Tensor) or not isinstance(x, Tensor):
        raise OptnetError("hb_reversible: x_prev and x must be torch tensors")
    if x_prev.shape != x.shape:
        raise OptnetError(
            f"hb_reversible: x_prev has shape {tuple(x_prev.shape)} but x has shape "
            f"{tuple(x.shape)}; the two states of the heavy-ball recursion must have one shape"
        )
    transforms = list(transforms)
    if not all(isinstance(t, nn.Module) for t in transforms):
        raise OptnetError("hb_reversible: transforms must be a sequence of torch.nn.Module")
    if not transforms:
        return x_prev, x
    params, index = _collect_params(transforms)
    needs_grad = x_prev.requires_grad or x.requires_grad or bool(params)
    if not (torch.is_grad_enabled() and needs_grad):
        return _hb_forward(transforms, x_prev, x)
    return _apply_reversible(transforms, index, preserve_rng_state, x_prev, x, params)


@torch.compiler.disable(reason="hb_reversible: custom backward rebuilds states in Python")
def _apply_reversible(
    transforms: Sequence[nn.Module],
    index: Sequence[Sequence[int]],
    preserve_rng_state: bool,
    x_prev: Tensor,
    x: Tensor,
    params: Sequence[Tensor],
) -> tuple[Tensor, Tensor]:
    """The reversible Function, run eagerly: under ``torch.compile`` it is one graph break.

    Its backward is a Python loop that re-runs modules and calls ``torch.autograd.grad``, which
    graph capture cannot trace; the code around it (stem, down-sampling, head) still compiles.
    """
    a, b = _HBReversibleFunction.apply(transforms, index, preserve_rng_state, x_prev, x, *params)
    return a, b


def reconstruction_error(
    transforms: Iterable[nn.Module], x_prev: Tensor, x: Tensor
) -> tuple[float, float]:
    """Max-abs error of the states rebuilt by running the recursion backwards, Sec. 6.1.

    Runs the forward recursion, then inverts it from (x_{K-1}, x_K) down to (x_0, x_1) with
    x_{k-1} = T_k(x_k) + x_k - x_{k+1}, as the reversible backward does, and returns
    (max |rebuilt x_0 - x_0|, max |x_0|). The transforms are run in eval mode (each must then
    be deterministic) and no module state changes.
    """
    transforms = list(transforms)
    modes = [t.training for t in transforms]
    try:
        for t in transforms:
            t.eval()
        with torch.no_grad():
            a, b = _hb_forward(transforms, x_prev, x)
            for transform in reversed(transforms):
                a, b = transform(a) + a - b, a
    finally:
        for t, mode in zip(transforms, modes, strict=True):
            t.train(mode)
    return (a - x_prev).abs().max().item(), x_prev.abs().max().item()
