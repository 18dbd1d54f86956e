"""Epoch order and sharding: which image lands in which batch, on which rank.

Everything random here is a function of ``(seed, epoch)`` through a private generator, never of
the global RNG state, so a resumed or re-sharded run sees the same images in the same order.
Global position ``j`` of an epoch is the ``j``-th image of its permutation; global step ``s``
covers positions ``[s*B*W, (s+1)*B*W)`` for a per-rank batch ``B`` on ``W`` ranks, and rank
``r`` receives the ``r``-th contiguous shard of that range.
"""

from __future__ import annotations

import numpy as np
import torch

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int


def check_rank(rank: int, world_size: int) -> tuple[int, int]:
    """Validate ``(rank, world_size)``: ``world_size >= 1`` and ``0 <= rank < world_size``."""
    world_size = check_int(world_size, "world_size", 1)
    rank = check_int(rank, "rank", 0)
    if rank >= world_size:
        raise OptnetError(f"rank must be in [0, world_size={world_size}), got {rank}")
    return rank, world_size


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1, drop_last: bool = True) -> int:
    """Number of global batches of ``batch_size * world_size`` images in ``n`` images."""
    batch_size = check_int(batch_size, "batch_size", 1)
    world_size = check_int(world_size, "world_size", 1)
    global_batch = batch_size * world_size
    return n // global_batch if drop_last else -(-n // global_batch)


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator seeded by ``(seed, epoch, stream)`` through NumPy's SeedSequence."""
    seed = check_int(seed, "seed", 0)
    epoch = check_int(epoch, "epoch", 0)
    words = np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator(device="cpu")
    generator.manual_seed((int(words[0]) << 31) ^ int(words[1]))
    return generator


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the ``n`` training images in epoch ``epoch`` (int64, CPU)."""
    return torch.randperm(n, generator=epoch_generator(seed, epoch))


def train_slices(
    n: int,
    batch_size: int,
    *,
    rank: int,
    world_size: int,
    start_step: int,
    drop_last: bool,
) -> list[tuple[int, int]]:
    """Per-step ``(start, stop)`` epoch positions of this rank, from ``start_step`` on.

    A short last global batch (``drop_last=False``) is split as evenly as possible, so a rank may
    get an empty slice there; every rank still sees the same number of steps.
    """
    rank, world_size = check_rank(rank, world_size)
    steps = steps_per_epoch(n, batch_size, world_size, drop_last)
    start_step = check_int(start_step, "start_step", 0)
    if start_step > steps:
        raise OptnetError(
            f"start_step must be in [0, {steps}] (steps per epoch for batch {batch_size} "
            f"on {world_size} rank(s)), got {start_step}"
        )
    global_batch = batch_size * world_size
    slices = []
    for step in range(start_step, steps):
        first = step * global_batch
        size = min(global_batch, n - first)
        slices.append((first + rank * size // world_size, first + (rank + 1) * size // world_size))
    return slices


def test_slices(n: int, batch_size: int, *, rank: int, world_size: int) -> list[tuple[int, int]]:
    """Batches of this rank's contiguous shard ``[rank*n//W, (rank+1)*n//W)`` of ``n`` images."""
    batch_size = check_int(batch_size, "batch_size", 1)
    rank, world_size = check_rank(rank, world_size)
    lo, hi = rank * n // world_size, (rank + 1) * n // world_size
    return [(s, min(s + batch_size, hi)) for s in range(lo, hi, batch_size)]


def even_subset(n: int, limit: int | None, what: str) -> list[int] | None:
    """Indices of ``limit`` of ``n`` items spread evenly (so every class survives), or None.

    None means "keep everything" (``limit`` is None or at least ``n``).
    """
    if limit is None:
        return None
    limit = check_int(limit, what, 1)
    if limit >= n:
        return None
    return [i * n // limit for i in range(limit)]
