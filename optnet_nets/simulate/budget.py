"""What a Table 2 run (Sec. 5.3) needs, estimated from its sizes before anything is allocated.

Memory: the tensors one training unit holds (per depth, or all depths with ``batch_depths``;
``workers`` units at once): for E = structures x seeds members of depth K and width d, the
weights, their gradients and Adam's two moments (4 E K d^2 floats), the per-layer states of a
batch B kept for the backward pass (about 4 E B d K floats), and the data (x_0 and f of every
seed, N x d each). Time: the W x products of every epoch (forward and backward,
:func:`~optnet_nets.unrolled.gemm_flops_per_sample`) at this machine's measured fp32 GEMM peak,
a lower bound on the real time. A run over either limit is refused with the limit named
(``optnet simulate --force`` skips the check).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from optnet_nets.unrolled import gemm_flops_per_sample
from optnet_theory.errors import OptnetError

__all__ = ["MAX_DAYS", "Budget", "check_budget", "estimate", "machine_memory"]

#: the longest run accepted without ``--force``, at the measured GEMM peak (real runs are slower).
MAX_DAYS = 7.0
_FLOAT_BYTES = 4  # training is float32
_STATES_PER_LAYER = 4  # per member, sample and layer: activations kept for the backward pass


@dataclass(frozen=True)
class Budget:
    """Estimated peak memory (bytes) and total GEMM work (FLOPs) of a run."""

    bytes: int
    flops: int


def estimate(
    structures: tuple[str, ...],
    depths: tuple[int, ...],
    n_seeds: int,
    *,
    samples: int,
    dim: int,
    batch_size: int,
    epochs: int,
    batch_depths: bool = False,
    workers: int = 1,
) -> Budget:
    """The :class:`Budget` of a run with these sizes (see the module docstring)."""
    units = [tuple(depths)] if batch_depths else [(k,) for k in depths]

    def unit_bytes(unit: tuple[int, ...]) -> int:
        members = len(structures) * len(unit) * n_seeds
        deepest = max(unit)
        weights = 4 * members * deepest * dim * dim
        states = _STATES_PER_LAYER * members * batch_size * dim * deepest
        data = 2 * n_seeds * samples * dim
        return _FLOAT_BYTES * (weights + states + data)

    concurrent = sorted((unit_bytes(u) for u in units), reverse=True)[: max(1, workers)]
    steps = (samples // batch_size) * batch_size * epochs  # samples seen per member
    flops = sum(gemm_flops_per_sample(s, k, dim) for s in structures for k in depths)
    return Budget(bytes=sum(concurrent), flops=flops * n_seeds * steps)


def machine_memory(device: str) -> int:
    """Bytes of memory ``device`` has: physical RAM for ``cpu``, the GPU's for ``cuda[:N]``."""
    if device == "cpu":
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    import torch

    try:
        if not (device.startswith("cuda") and torch.cuda.is_available()):
            raise ValueError(device)
        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    except (ValueError, RuntimeError, AssertionError):
        raise OptnetError(
            f"device {device!r} is not available; use cpu or an available cuda:N"
        ) from None


def check_budget(budget: Budget, *, memory: int, peak_flops: float) -> None:
    """Refuse (one line, the limit named) a run over ``memory`` bytes or :data:`MAX_DAYS`."""
    if budget.bytes > memory:
        raise OptnetError(
            f"this run needs about {budget.bytes / 2**30:.3g} GiB, more than the "
            f"{memory / 2**30:.3g} GiB this machine has; lower --depths, --seeds, --samples or "
            "--dim (or pass --force to try anyway)"
        )
    days = budget.flops / peak_flops / 86400
    if days > MAX_DAYS:
        raise OptnetError(
            f"this run needs at least {days:.3g} days ({budget.flops:.3g} FLOPs at this "
            f"machine's measured peak of {peak_flops / 1e9:.3g} GFLOP/s), over the limit of "
            f"{MAX_DAYS:g} days; lower --epochs, --depths, --seeds, --samples or --dim (or pass "
            "--force)"
        )
