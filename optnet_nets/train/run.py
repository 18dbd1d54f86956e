"""``train(config)``: one training run of Sec. 7.1, joining a torchrun group if launched by one."""

from __future__ import annotations

import contextlib
from typing import Any

from torch import nn

from optnet_nets.train.config import TrainConfig
from optnet_nets.train.distributed import setup, teardown
from optnet_nets.train.trainer import Trainer

__all__ = ["train"]


def train(
    config: TrainConfig,
    *,
    dataset: Any = None,
    model: nn.Module | None = None,
    resume: bool = False,
    start_if_missing: bool = False,
) -> dict[str, Any]:
    """Train ``config`` (joining a torchrun group if launched by one) and return the summary.

    ``dataset``/``model`` override what ``config.dataset``/``config.model`` would build; with
    ``resume`` the run continues from ``OUT/checkpoint.pt`` (an error when there is none, unless
    ``start_if_missing``). The process that writes ``OUT`` (rank 0) holds its lock
    (:mod:`optnet_nets.folders.lock`) throughout: a second writer is refused, naming this one.
    """
    from optnet_nets.folders.lock import folder_lock

    ctx = setup(config.device)
    try:
        lock = folder_lock(config.out, "optnet train") if ctx.is_main else contextlib.nullcontext()
        with lock:
            trainer = Trainer(config, ctx, dataset=dataset, model=model)
            if resume:
                trainer.resume(missing_ok=start_if_missing)
            return trainer.fit()
    finally:
        teardown(ctx)
