"""Training with the paper's recipe (Sec. 7.1): config, loop, checkpoints, metrics, torchrun.

Names load lazily, so reading metrics (``optnet compare``) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optnet_theory.lazy import lazy_names

_LAZY: dict[str, str] = {
    "PRESETS": "optnet_nets.train.config",
    "TrainConfig": "optnet_nets.train.config",
    "preset_for_dataset": "optnet_nets.train.config",
    "REQUIRED_KEYS": "optnet_nets.train.metrics",
    "read_metrics": "optnet_nets.train.metrics",
    "load_state": "optnet_nets.train.checkpoint",
    "save_atomic": "optnet_nets.train.checkpoint",
    "Trainer": "optnet_nets.train.trainer",
    "TrainingDiverged": "optnet_nets.train.trainer",
    "lr_factor": "optnet_nets.train.prepare",
    "train": "optnet_nets.train.run",
}

__all__ = [
    "PRESETS",
    "REQUIRED_KEYS",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
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
    from optnet_nets.train.metrics import REQUIRED_KEYS, read_metrics
    from optnet_nets.train.prepare import lr_factor
    from optnet_nets.train.run import train
    from optnet_nets.train.trainer import Trainer, TrainingDiverged

__getattr__ = lazy_names(__name__, _LAZY)
