"""Read a trained HB-Net/ResNet's coefficients from its checkpoint, as a learned schedule.

A run of ``optnet train`` keeps ``OUT/checkpoint.pt`` (loaded here with ``weights_only=True``)
with the model's ``state_dict`` and the run's config. For a network of the heavy-ball family,
(16) or (17) (:mod:`optnet_nets.models.resnet`), each stage holds its coefficient table; a
``Learnable`` entry's trained value is the stage's ``coefficients`` tensor at the entry's slot.
The table of each stage is rebuilt from the config (``create_model``, no weights are loaded) and
read layer by layer into (beta1_k, beta2_k), stages in order:
:class:`optnet_theory.learned.LearnedSchedule`. The theory side (which method it is, its
certificate, the nearest registered method) is :mod:`optnet_theory.learned`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optnet_nets.blocks import Learnable, Multistep
from optnet_nets.models import create_model
from optnet_nets.models.resnet import HeavyBallNet, HeavyBallStage
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


def _slots(stage: Multistep) -> dict[int, int]:
    """id(Learnable) -> its index in ``stage.coefficients``: order of first use in the table
    (term weights, term inputs, skips), the order :class:`Multistep` numbers them in."""
    slots: dict[int, int] = {}
    for row in stage.table:
        values: list[Any] = []
        for t in row.terms:
            values.append(t.weight)
            values.extend(c for _, c in t.inputs)
        values.extend(b for _, b in row.skips)
        for v in values:
            if isinstance(v, Learnable):
                slots.setdefault(id(v), len(slots))
    return slots


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
    if not isinstance(model, HeavyBallNet):
        raise OptnetError(
            f"--from-run reads networks of the heavy-ball family (16)/(17) (hbnet*, resnet*); "
            f"the run trained {name!r}"
        )
    structure = str(options.get("structure", "16"))
    beta1: list[float] = []
    beta2: list[float] = []
    restarts: set[int] = set()
    for i, stage in enumerate(model.stages):
        assert isinstance(stage, HeavyBallStage)
        slots = _slots(stage)
        trained = weights.get(f"stages.{i}.coefficients")
        if slots and (trained is None or trained.numel() != len(slots)):
            raise OptnetError(
                f"{path}: stage {i} should hold {len(slots)} learned coefficients; the "
                f"checkpoint does not match the model {name!r} with options {options}"
            )

        def value(c: Any, trained: Any = trained, slots: dict[int, int] = slots) -> float:
            return float(trained[slots[id(c)]]) if isinstance(c, Learnable) else float(c)

        if model.momentum == "restart":
            restarts.add(len(beta1))
        for k, row in enumerate(stage.table):
            skips = dict(row.skips)
            beta1.append(value(skips.get(k + 1, 0.0)))
            beta2.append(value(skips.get(k, 0.0)))
    return RunCoefficients(
        name, options, LearnedSchedule(structure, tuple(beta1), tuple(beta2), frozenset(restarts))
    )
