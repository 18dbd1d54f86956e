"""Read a trained HB-Net/ResNet's coefficients from its checkpoint, as a learned schedule.

A run of ``optnet train`` keeps ``OUT/checkpoint.pt`` (loaded here with ``weights_only=True``)
with the model's ``state_dict`` and the run's config. For a network of the heavy-ball family,
(16) or (17) (:mod:`optnet_nets.models.resnet`), the model is rebuilt from the config
(``create_model``), the checkpoint's learned coefficients are loaded into it (a learnable
layer's beta1, beta2 are elements 2k, 2k + 1 of its stage's ``coefficients``; the trunk's
weights are not needed), and its layers are read into
(beta1_k, beta2_k), stages in order (:func:`optnet_nets.learned.coefficients.heavy_ball_betas`):
:class:`optnet_theory.learned.LearnedSchedule`. The theory side (which method it is, its
certificate, the nearest registered method) is :mod:`optnet_theory.learned`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from optnet_nets.learned.coefficients import heavy_ball_betas
from optnet_nets.models import create_model
from optnet_nets.train.checkpoint import CHECKPOINT_NAME, load_state
from optnet_theory.errors import OptnetError
from optnet_theory.learned import LearnedSchedule

__all__ = ["RunCoefficients", "read_run"]


class RunCoefficients:
    """What :func:`read_run` found: the model name, its options and its learned schedule."""

    def __init__(self, model: str, options: dict[str, Any], schedule: LearnedSchedule) -> None:
        self.model = model
        self.options = options
        self.schedule = schedule


def read_run(run_dir: str | Path) -> RunCoefficients:
    """The learned (beta1_k, beta2_k) of every layer of the run in ``run_dir``."""
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise OptnetError(f"no {CHECKPOINT_NAME} in {run_dir}; expected a run of 'optnet train'")
    state = load_state(path)
    config, weights = state.get("config"), state.get("model")
    if not isinstance(config, dict) or not isinstance(weights, dict) or "model" not in config:
        raise OptnetError(f"{path} has no model config and weights; is it from 'optnet train'?")
    name, options = str(config["model"]), dict(config.get("model_options") or {})
    model = create_model(name, **options)
    schedule = heavy_ball_betas(model)
    if schedule is None:
        raise OptnetError(
            f"--from-run reads networks of the heavy-ball family (16)/(17) (hbnet*, resnet*); "
            f"the run trained {name!r}"
        )
    stages: nn.ModuleList = model.stages  # type: ignore[assignment]
    for i, stage in enumerate(stages):  # the learned coefficients only: the trunk's
        for key, value in stage.named_parameters(recurse=False):  # shapes follow the data
            trained = weights.get(f"stages.{i}.{key}")
            if trained is None or trained.shape != value.shape:
                raise OptnetError(
                    f"{path}: stage {i} should hold {value.numel()} learned coefficients; the "
                    f"checkpoint does not match the model {name!r} with options {options}"
                )
            value.data.copy_(trained)
    schedule = heavy_ball_betas(model)
    assert schedule is not None
    return RunCoefficients(name, options, schedule)
