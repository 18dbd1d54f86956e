"""The grid of a study (Sec. 7, Tables 4-5): models x datasets x seeds, one run directory each.

A study is a :class:`StudyPlan`. Each cell of its grid is one ``optnet train`` run in
``OUT/<model>/<dataset>/seed<k>/`` (:func:`run_dir`, the only place that naming is defined), and
:func:`train_argv` is the one command line that trains it, or continues it after an interruption:
the study checks it, runs exactly that command locally and prints it for cluster schedulers.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError

#: What ``optnet train`` writes when a run has finished (``Trainer.fit``, after the last epoch).
SUMMARY_NAME = "summary.json"
#: What ``optnet train`` writes when a run starts: its full TrainConfig.
CONFIG_NAME = "config.json"
#: Where a study keeps its plan and summary, and its table and plot.
STUDY_JSON, STUDY_MD, STUDY_PNG = "study.json", "study.md", "study.png"


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    model: str
    dataset: str
    seed: int


@dataclass(frozen=True)
class StudyPlan:
    """Models x datasets x seeds trained with the same ``optnet train`` flags.

    ``baselines`` maps each compared model to the model it is paired with (by seed);
    ``train_flags`` are the ``optnet train`` flags shared by every run; ``epochs`` is the length
    of a finished run.
    """

    models: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    baselines: dict[str, str]
    epochs: int
    train_flags: tuple[str, ...] = field(default_factory=tuple)

    def cells(self) -> list[Cell]:
        """The grid in run order: seed-major, so every model has its first seeds early."""
        return [Cell(m, d, s) for s in self.seeds for d in self.datasets for m in self.models]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("models", "datasets", "seeds", "train_flags"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudyPlan:
        try:
            return cls(
                models=tuple(values["models"]),
                datasets=tuple(values["datasets"]),
                seeds=tuple(int(s) for s in values["seeds"]),
                baselines=dict(values["baselines"]),
                epochs=int(values["epochs"]),
                train_flags=tuple(values.get("train_flags", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise OptnetError(f"not a study plan (missing or bad field: {exc})") from exc


def run_dir(out: str | os.PathLike[str], cell: Cell) -> Path:
    """``OUT/<model>/<dataset>/seed<k>``: the run directory of ``cell``."""
    return Path(out) / cell.model / cell.dataset / f"seed{cell.seed}"


#: The ``optnet train`` flag that makes a run's command safe to repeat: it starts the run when
#: there is no checkpoint and continues it when there is one (a finished run only rewrites its
#: summary).
RESUME_FLAG = "--resume-or-start"


def train_argv(
    out: str | os.PathLike[str], cell: Cell, train_flags: tuple[str, ...] | list[str]
) -> list[str]:
    """The ``optnet train`` arguments (after ``train``) of one run."""
    return [
        "--model", cell.model, "--dataset", cell.dataset, "--seed", str(cell.seed),
        "--out", str(run_dir(out, cell)), RESUME_FLAG, "--no-progress", *train_flags,
    ]  # fmt: skip


def pair_baselines(
    models: tuple[str, ...], baselines: tuple[str, ...], registry_baseline: dict[str, str]
) -> dict[str, str]:
    """Each non-baseline model -> the baseline it is compared with.

    A model is paired with its baseline in the model zoo (``registry_baseline``, e.g. hbnet20 ->
    resnet20) when that one is among ``baselines``; otherwise with the only baseline given.
    """
    for name in baselines:
        if name not in models:
            raise OptnetError(
                f"baseline {name!r} is not in --models ({', '.join(models)}); add it or pick one"
            )
    pairs: dict[str, str] = {}
    for model in models:
        if model in baselines:
            continue
        own = registry_baseline.get(model)
        if own in baselines:
            pairs[model] = own
        elif len(baselines) == 1:
            pairs[model] = baselines[0]
        else:
            what = "it has no zoo baseline"
            if own and own != "-":
                what = f"its zoo baseline {own!r} is not"
            raise OptnetError(
                f"model {model!r}: {what} among --baseline {','.join(baselines)}; give a single "
                "--baseline to compare every model with it"
            )
    return pairs


def finished_summary(path: Path, epochs: int) -> dict[str, Any] | None:
    """The summary of a run that has trained all ``epochs``, else None (absent or shorter)."""
    file = path / SUMMARY_NAME
    if not file.is_file():
        return None
    try:
        summary = json.loads(file.read_text())
    except json.JSONDecodeError:
        return None  # a summary cut short: the run is finished again by --resume
    if not isinstance(summary, dict) or summary.get("epochs") != epochs:
        return None
    return summary
