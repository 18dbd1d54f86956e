"""The runs of an experiment, through the executor layer, and the quality they measured.

A Table-2 setting is one ``optnet simulate`` command over every method of the plan (it trains
its (depth, seed) units in parallel with ``--workers`` and resumes from its checkpoints); an
image setting is one ``optnet train`` command per (method, seed). Every command is safe to run
again, and the run folders are the truth: ``optnet hypothesis run`` after an interruption
finishes what is left (:mod:`optnet_nets.executors`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optnet_nets.hypothesis.levels import Level
from optnet_nets.hypothesis.settings import Setting
from optnet_nets.train.config import DIVERGED_NAME
from optnet_theory.errors import OptnetError

__all__ = ["CHANCE_ERROR", "DIVERGED_RULE", "quality_table", "run_grid", "tasks_for"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _simulate_argv(setting: Setting, methods: Sequence[Level], seeds: Sequence[int], mu: float,
                   out: Path, workers: int, threads: int | None) -> tuple[str, ...]:
    first, count = min(seeds), len(seeds)
    if list(seeds) != list(range(first, first + count)):
        raise OptnetError(f"seeds must be consecutive, got {list(seeds)}")
    argv = ["simulate", *setting.flags, "--structures", *[m.name for m in methods],
            "--depths", str(setting.depth), "--seeds", str(count), "--first-seed", str(first),
            "--mu", repr(mu), "--out", str(out), "--workers", str(workers), "--force"]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return tuple(argv)


def _train_argv(setting: Setting, method: Level, seed: int, mu: float, out: Path,
                extra: Sequence[str]) -> tuple[str, ...]:
    argv = ["train", "--model", setting.model, "--model-option", f"method={method.name}",
            "--model-option", f"mu={mu!r}", "--dataset", str(setting.extra["dataset"]),
            "--epochs", str(setting.epochs), "--seed", str(seed), "--out", str(out),
            "--resume-or-start", "--no-progress", *setting.flags, *extra]
    for key, value in method.params.items():
        raise OptnetError(f"image runs take no method parameters; {method.name} has {key}="
                          f"{value!r}")
    return tuple(argv)


def tasks_for(setting: Setting, methods: Sequence[Level], seeds: Sequence[int], mu: float,
              folder: Path, *, workers: int = 1, threads: int | None = None,
              train_flags: Sequence[str] = ()) -> list[Any]:
    """The executor tasks of one grid (a pilot or the main run) into ``folder``."""
    from optnet_nets.executors.base import Task

    if setting.kind == "table2":
        out = folder / "simulate"
        return [Task("simulate", _simulate_argv(setting, methods, seeds, mu, out, workers,
                                                threads), folder / "simulate.log")]
    tasks = []
    for method in methods:
        for seed in seeds:
            key = f"{_safe(method.name)}-seed{seed}"
            tasks.append(Task(key, _train_argv(setting, method, seed, mu, folder / "runs" / key,
                                               train_flags), folder / "logs" / f"{key}.log"))
    return tasks


#: the quality of an image run that stopped on non-finite values: chance error (10 classes),
#: the worst a classifier can be; fixed in the plan (:data:`DIVERGED_RULE`).
CHANCE_ERROR = 0.9
DIVERGED_RULE = (f"a training run that stops on non-finite values (its folder holds "
                 f"{DIVERGED_NAME}) is an outcome, not a failure: its quality is chance error "
                 f"{CHANCE_ERROR:g}")


def _out(task: Any) -> Path:
    argv = list(task.argv)
    return Path(argv[argv.index("--out") + 1])


def _finished(setting: Setting, task: Any) -> bool:
    out = _out(task)
    if setting.kind == "table2":
        return (out / "results.json").is_file()
    return (out / "summary.json").is_file() or (out / DIVERGED_NAME).is_file()


def run_grid(setting: Setting, tasks: list[Any], folder: Path, options: Any,
             threads: int | None) -> None:
    """Run ``tasks`` with the executor of ``options`` (:mod:`optnet_nets.executors`)."""
    from optnet_nets.executors import open_executor
    from optnet_nets.executors.pool import run_tasks

    folder.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        task.log.parent.mkdir(parents=True, exist_ok=True)
    todo = [t for t in tasks if not _finished(setting, t)]
    if not todo:
        return
    executor = open_executor(options, folder, threads=threads)
    outcome = run_tasks(executor, todo, workers=options.workers or 1,
                        finished=lambda t: _finished(setting, t))
    failed = [(t, why) for t, why in outcome.failed if not _finished(setting, t)]
    if failed:
        task, reason = failed[0]
        raise OptnetError(f"{len(failed)} run(s) failed; first {task.key}: {reason} "
                          f"(log {task.log}); rerun to resume")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OptnetError(f"cannot read {path}: {exc}") from None


def quality_table(setting: Setting, methods: Sequence[Level], seeds: Sequence[int],
                  folder: Path) -> tuple[np.ndarray, list[float]]:
    """(methods x seeds) quality, and the modification times of the run files read."""
    names = [m.name for m in methods]
    table = np.full((len(methods), len(seeds)), np.nan)
    stamps: list[float] = []
    if setting.kind == "table2":
        path = folder / "simulate" / "results.json"
        if not path.is_file():
            raise OptnetError(f"{path} is missing: the runs have not finished (rerun "
                              f"`optnet hypothesis run`)")
        stamps.append(path.stat().st_mtime)
        for rec in _read(path)["runs"]:
            if int(rec["depth"]) == setting.depth and int(rec["seed"]) in seeds:
                col = list(seeds).index(int(rec["seed"]))
                for i, name in enumerate(names):
                    table[i, col] = float(rec["mse"][name])
    else:
        for i, method in enumerate(methods):
            for col, seed in enumerate(seeds):
                run = folder / "runs" / f"{_safe(method.name)}-seed{seed}"
                path = run / "summary.json"
                if (run / DIVERGED_NAME).is_file() and not path.is_file():
                    stamps.append((run / DIVERGED_NAME).stat().st_mtime)
                    table[i, col] = CHANCE_ERROR  # DIVERGED_RULE
                    continue
                if not path.is_file():
                    raise OptnetError(f"{path} is missing: the runs have not finished")
                stamps.append(path.stat().st_mtime)
                table[i, col] = float(_read(path)["final_test_error"])
    if np.isnan(table).any():
        raise OptnetError(f"{folder}: the run files lack some (method, seed) results")
    return table, stamps
