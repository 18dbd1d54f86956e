"""Training with the paper's recipe (Sec. 7.1): config, loop, checkpoints, metrics, torchrun.

Names load lazily, so reading metrics (``optnet compare``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "PRESETS": "optnet_nets.train.config",
    "TrainConfig": "optnet_nets.train.config",
    "preset_for_dataset": "optnet_nets.train.config",
    "REQUIRED_KEYS": "optnet_nets.train.metrics",
    "read_metrics": "optnet_nets.train.metrics",
    "load_state": "optnet_nets.train.checkpoint",
    "save_atomic": "optnet_nets.train.checkpoint",
    "apply_paper_init": "optnet_nets.train.init",
    "Trainer": "optnet_nets.train.trainer",
    "TrainingDiverged": "optnet_nets.train.trainer",
    "lr_factor": "optnet_nets.train.trainer",
    "train": "optnet_nets.train.trainer",
}

__all__ = [
    "PRESETS",
    "REQUIRED_KEYS",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "apply_paper_init",
    "load_state",
    "lr_factor",
    "preset_for_dataset",
    "read_metrics",
    "save_atomic",
    "train",
]

if TYPE_CHECKING:  # pragma: no cover
    from optnet_nets.train.checkpoint import load_state, save_atomic
    from optnet_nets.train.config import PRESETS, TrainConfig, preset_for_dataset
    from optnet_nets.train.init import apply_paper_init
    from optnet_nets.train.metrics import REQUIRED_KEYS, read_metrics
    from optnet_nets.train.trainer import Trainer, TrainingDiverged, lr_factor, train


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'optnet_nets.train' has no attribute {name!r}")
