"""What a training run sets up around its loop: seeds, deterministic mode, the lr schedule of
Sec. 7.1, the default dataset and model of a config, and the progress bar."""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import numpy as np
import torch
from torch import nn

from optnet_nets.train.config import TrainConfig
from optnet_nets.train.distributed import DistContext

__all__ = [
    "default_dataset",
    "default_model",
    "lr_factor",
    "progress_bar",
    "seed_everything",
    "set_deterministic",
]


def seed_everything(seed: int) -> None:
    """Seed python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool) -> None:
    """``torch.use_deterministic_algorithms`` plus the cuDNN/cuBLAS settings it needs."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled


def lr_factor(step: int, steps_per_epoch: int, config: TrainConfig) -> float:
    """The multiplier of the base lr after ``step`` optimizer steps (Sec. 7.1 drops + warm-up).

    The lr is divided by ``1/lr_decay`` at every milestone passed (milestones in epochs, may be
    fractional, so 50% of 3 epochs is step 1.5 * steps_per_epoch); during the first
    ``warmup_epochs`` it is additionally scaled by ``warmup_factor`` (the ResNet paper's
    warm-up, which Sec. 7.2 says ResNet-110 needs).
    """
    position = step / steps_per_epoch
    drops = sum(1 for m in config.milestone_epochs() if position >= m)
    factor = config.lr_decay**drops
    if position < config.warmup_epochs:
        factor *= config.warmup_factor
    return factor


def default_dataset(config: TrainConfig, device: torch.device) -> Any:
    """The dataset ``config.dataset`` names, on ``device``."""
    from optnet_nets.data import load_dataset

    return load_dataset(
        config.dataset, config.data_dir, device=str(device), **config.dataset_options
    )


def default_model(config: TrainConfig, dataset: Any) -> nn.Module:
    """The model ``config.model`` names, with ``dataset``'s classes and channels."""
    from optnet_nets.models import create_model

    return create_model(
        config.model,
        num_classes=dataset.num_classes,
        in_channels=dataset.in_channels,
        **config.model_options,
    )


def progress_bar(cfg: TrainConfig, ctx: DistContext, epoch: int, total: int, initial: int
                 ) -> Any:
    """The epoch's progress bar on stderr (rank 0, when ``cfg.progress``), else None."""
    if not (cfg.progress and ctx.is_main):
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}",
        unit="batch",
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
