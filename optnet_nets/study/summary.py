"""A study's summary, computed from its run files only.

Each finished run (``summary.json`` present, all epochs trained) contributes its final and best
test error, read from its ``metrics.jsonl`` by :func:`optnet_nets.commands.compare.summarize`
(the table of ``optnet compare``); the summary holds, per dataset and model, their seed
statistics and the paired differences to the model's baseline
(:mod:`optnet_nets.study.statistics`). Unfinished runs are listed, never guessed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from optnet_nets.commands.compare import summarize as summarize_run
from optnet_nets.study import statistics
from optnet_nets.study.grid import (
    CONFIG_NAME,
    STUDY_JSON,
    Cell,
    StudyPlan,
    finished_summary,
    run_dir,
)
from optnet_theory.errors import OptnetError

METRICS = ("final", "best")  # final and best test error of a run, as in Tables 4-5


def _check_identity(path: Path, cell: Cell) -> None:
    """The run in ``path`` must be the cell's model, dataset and seed."""
    try:
        config = json.loads((path / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OptnetError(f"{path}: cannot read {CONFIG_NAME} of a finished run ({exc})") from exc
    found = (config.get("model"), config.get("dataset"), config.get("seed"))
    if found != (cell.model, cell.dataset, cell.seed):
        raise OptnetError(
            f"{path} holds a run of model/dataset/seed {found}, not {cell.model}/{cell.dataset}/"
            f"{cell.seed}; move it out of the study"
        )


def run_record(out: str | os.PathLike[str], cell: Cell, epochs: int) -> dict[str, Any]:
    """One grid cell: where it lives, whether it finished, and its errors when it did."""
    path = run_dir(out, cell)
    record: dict[str, Any] = {
        "model": cell.model, "dataset": cell.dataset, "seed": cell.seed, "dir": str(path),
    }  # fmt: skip
    done = finished_summary(path, epochs)
    record["finished"] = done is not None
    if done is None:
        return record
    _check_identity(path, cell)
    row = summarize_run(path)
    record.update(
        epochs=row["epochs"],
        final_test_error=row["final_test_error"],
        best_test_error=row["best_test_error"],
        best_epoch=row["best_epoch"],
        train_time_s=done.get("train_time_s"),
        images_per_s=done.get("images_per_s"),
        device=done.get("device"),
    )
    return record


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize_study(plan: StudyPlan, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Plan, per-run records and per-model statistics of the study in ``out``."""
    runs = [run_record(out, cell, plan.epochs) for cell in plan.cells()]
    done = [r for r in runs if r["finished"]]
    models: dict[str, dict[str, Any]] = {}
    for dataset in plan.datasets:
        errors = {
            model: {
                metric: {r["seed"]: r[f"{metric}_test_error"] for r in done
                         if r["model"] == model and r["dataset"] == dataset}
                for metric in METRICS
            }
            for model in plan.models
        }  # fmt: skip
        table: dict[str, Any] = {}
        for model in plan.models:
            mine = [r for r in done if r["model"] == model and r["dataset"] == dataset]
            entry: dict[str, Any] = {
                "n": len(mine),
                "seeds": sorted(r["seed"] for r in mine),
                "images_per_s": _mean([r["images_per_s"] for r in mine if r["images_per_s"]]),
                "train_time_s": _mean([r["train_time_s"] for r in mine if r["train_time_s"]]),
                "baseline": plan.baselines.get(model),
            }
            for metric in METRICS:
                seeds = errors[model][metric]
                entry[metric] = statistics.describe([seeds[s] for s in sorted(seeds)])
            base = plan.baselines.get(model)
            if base is not None:
                entry["paired"] = {
                    metric: statistics.paired(errors[model][metric], errors[base][metric])
                    for metric in METRICS
                }
            table[model] = entry
        models[dataset] = table
    return {
        "plan": plan.to_dict(),
        "out": str(out),
        "runs": runs,
        "finished": len(done),
        "total": len(runs),
        "missing": [r["dir"] for r in runs if not r["finished"]],
        "models": models,
        "statistics": {
            "confidence": statistics.CONFIDENCE,
            "bootstrap_resamples": statistics.BOOTSTRAP_RESAMPLES,
            "bootstrap_seed": statistics.BOOTSTRAP_SEED,
            "difference": "model error minus baseline error, paired by seed",
        },
    }


def load_plan(study_dir: str | os.PathLike[str]) -> StudyPlan:
    """The plan saved in ``study_dir/study.json`` by ``optnet study``."""
    path = Path(study_dir) / STUDY_JSON
    try:
        return StudyPlan.from_dict(json.loads(path.read_text())["plan"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise OptnetError(f"{path}: not a study written by 'optnet study' ({exc})") from exc
