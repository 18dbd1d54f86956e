"""What a finished run was trained on and how, so ``optnet compare`` can flag unlike runs.

A run's ``config.json`` (written by ``optnet train``) holds its :class:`TrainConfig`. Two runs'
test errors are comparable only when they saw the same data (dataset and subset) for the same
planned length with the same recipe (Sec. 7.1: lr, schedule, batch, momentum, weight decay,
augmentation, initialisation) in the same arithmetic (``amp``: the precision the run used,
its ``amp_used``; for runs from before ``--amp auto``, their ``amp``, where None meant fp32).
:func:`run_setting` extracts those fields as short strings; :func:`differences` names the ones
that are not the same across runs. Torch-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["COMPARED_FIELDS", "differences", "run_setting"]

#: The config fields that must agree for test errors to be comparable, in table order
#: ("subset" is the run's dataset options, e.g. limit_train / num_train; "planned_epochs" the
#: config's epochs, which sets the lr schedule, as opposed to the epochs finished so far).
COMPARED_FIELDS = (
    "dataset",
    "subset",
    "planned_epochs",
    "batch_size",
    "lr",
    "lr_milestones",
    "milestone_unit",
    "lr_decay",
    "momentum",
    "nesterov",
    "weight_decay",
    "warmup_epochs",
    "augment",
    "init",
    "amp",
)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in sorted(value.items())) or "full"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def run_setting(run_dir: str | os.PathLike[str]) -> dict[str, str]:
    """The :data:`COMPARED_FIELDS` of a run as strings ("?" where its config.json lacks one)."""
    try:
        config = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    if config.get("amp_used") is not None:  # what the run used; before it, None meant fp32
        config["amp"] = config["amp_used"]
    elif "amp" in config and config["amp"] is None:
        config["amp"] = "none"
    renamed = {"subset": "dataset_options", "planned_epochs": "epochs"}
    config = {key: config[renamed.get(key, key)] for key in COMPARED_FIELDS
              if renamed.get(key, key) in config}
    return {key: _text(config[key]) if key in config else "?" for key in COMPARED_FIELDS}


def differences(settings: list[dict[str, str]]) -> dict[str, list[str]]:
    """Field -> the value of each run, for the fields that are not equal across ``settings``."""
    return {
        key: [s.get(key, "?") for s in settings]
        for key in COMPARED_FIELDS
        if len({s.get(key, "?") for s in settings}) > 1
    }
