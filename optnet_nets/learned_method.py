"""Read a trained HB-Net/ResNet's coefficients from its checkpoint, as a learned schedule.

A run of ``optnet train`` keeps ``OUT/checkpoint.pt`` (loaded here with ``weights_only=True``)
with the model's ``state_dict`` and the run's config. For a network of the heavy-ball family,
(16) or (17) (:mod:`optnet_nets.models.resnet`), each stage holds its coefficient table; a
``Learnable`` entry's trained value is the stage's ``coefficients`` tensor at the entry's slot.
Each stage is rebuilt from the config (``create_model``, no weights are loaded) and its
coefficients read layer by layer into (beta1_k, beta2_k), stages in order:
:class:`optnet_theory.learned.LearnedSchedule`. The theory side (which method it is, its
certificate, the nearest registered method) is :mod:`optnet_theory.learned`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optnet_nets.blocks import Slot
from optnet_nets.models import create_model
from optnet_nets.models.resnet import momentum_stages
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
    stages = momentum_stages(model)
    if stages is None:
        raise OptnetError(
            f"--from-run reads networks of the heavy-ball family (16)/(17) (hbnet*, resnet*); "
            f"the run trained {name!r}"
        )
    beta1: list[float] = []
    beta2: list[float] = []
    restarts: set[int] = set()
    for i, stage in enumerate(stages):
        trained = weights.get(f"stages.{i}.coefficients")
        if stage.slots and (trained is None or trained.numel() != len(stage.slots)):
            raise OptnetError(
                f"{path}: stage {i} should hold {len(stage.slots)} learned coefficients; the "
                f"checkpoint does not match the model {name!r} with options {options}"
            )

        def value(c: Any, trained: Any = trained) -> float:
            return float(trained[int(c)]) if isinstance(c, Slot) else float(c)

        if model.momentum == "restart":
            restarts.add(len(beta1))
        beta1 += [value(b1) for b1, _ in stage.betas]
        beta2 += [value(b2) for _, b2 in stage.betas]
    schedule = LearnedSchedule(stages[0].rule, tuple(beta1), tuple(beta2), frozenset(restarts))
    return RunCoefficients(name, options, schedule)
