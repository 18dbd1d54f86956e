"""Runs a study's grid: one ``optnet train`` command per run, through an executor, resumable.

Finished runs (their ``summary.json`` records every epoch) are skipped; every other run is
started with ``--resume-or-start``, so one interrupted anywhere continues from its last checkpoint
(``optnet train`` checkpoints atomically at epoch ends and every few hundred steps). Nothing
is held only in memory: killing the study at any moment loses at most the steps since each
running run's last checkpoint. Where the runs execute (child processes here, submitit's local
executor or SLURM jobs) is the executor's business (:mod:`optnet_nets.executors`); a run does
the same thing in each.

The study holds its folder's lock (:mod:`optnet_nets.folders.lock`), so a second study on the
same folder is refused, naming the first; each run, an ``optnet train`` process, takes its own
run folder's lock itself (nothing is inherited, so runs started by a cluster scheduler are
locked the same way), so a run still alive from a killed study refuses a second writer too.
Each run's output goes to ``train.log`` in its folder; one line per finished run (errors and an
ETA) goes to stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optnet_nets.executors import ExecutorOptions, open_executor
from optnet_nets.executors.base import Task
from optnet_nets.executors.pool import run_tasks
from optnet_nets.folders.lock import folder_lock
from optnet_nets.study.grid import Cell, StudyPlan, finished_summary, run_dir, train_argv
from optnet_nets.study.summary import run_record
from optnet_theory.errors import OptnetError

LOG_NAME = "train.log"


def cpu_cores() -> int:
    """CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def study_lock(out: Path) -> contextlib.AbstractContextManager[Path]:
    """Hold the study folder's lock (a one-line error naming the holder if it is taken)."""
    return folder_lock(out, "optnet study",
                       say=lambda line: print(f"optnet study: {line}", file=sys.stderr))


def _expected_seconds(durations: dict[str, list[float]], model: str) -> float:
    """A run's expected wall time: the mean of its model's finished runs, else of all runs."""
    own = durations.get(model) or [t for times in durations.values() for t in times]
    return sum(own) / len(own)


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def run_study(
    plan: StudyPlan,
    out: str | os.PathLike[str],
    *,
    executor: ExecutorOptions | None = None,
    threads: int | None = None,
    report: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train every unfinished run of ``plan`` in ``out``; which ran, were skipped or adopted.

    ``executor`` says where (default: child processes here, one at a time); ``threads`` (when
    given) caps each run's OpenMP/MKL threads; the study passes ``cores // workers`` when runs
    share this machine. On the first failed run no further run is started, the running ones
    finish, and an :class:`OptnetError` names it.
    """
    options = executor or ExecutorOptions()
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    folder = Path(out)
    cells = plan.cells()
    todo = [c for c in cells if finished_summary(run_dir(folder, c), plan.epochs) is None]
    skipped = [c for c in cells if c not in todo]
    keys = {run_dir(".", cell).as_posix(): cell for cell in todo}  # task key: the run's folder
    tasks = [Task(key, ("train", *train_argv(folder, cell, plan.train_flags)),
                  run_dir(folder, cell) / LOG_NAME) for key, cell in keys.items()]  # fmt: skip
    workers = options.in_flight(len(tasks))
    durations: dict[str, list[float]] = {}  # model -> wall seconds of its finished runs
    done: list[Cell] = []

    def finished(task: Task) -> bool:
        return finished_summary(run_dir(folder, keys[task.key]), plan.epochs) is not None

    def on_end(task: Task, wall: float, left: int) -> None:
        cell = keys[task.key]
        durations.setdefault(cell.model, []).append(wall)
        done.append(cell)
        pending = [keys[t.key] for t in tasks if keys[t.key] not in done]
        eta = _eta(sum(_expected_seconds(durations, c.model) for c in pending) / workers)
        say(_progress_line(run_record(folder, cell, plan.epochs), len(done), len(todo), wall,
                           eta))  # fmt: skip

    with study_lock(folder):
        runner = open_executor(options, folder, threads=threads)
        say(f"study {folder}: {len(cells)} runs, {len(skipped)} already finished, {len(todo)} "
            f"to train, {workers} at a time ({options.name})")  # fmt: skip
        outcome = run_tasks(runner, tasks, workers=workers, finished=finished, on_end=on_end,
                            say=say)  # fmt: skip
    if outcome.failed:
        task, line = outcome.failed[0]
        path = run_dir(folder, keys[task.key])
        raise OptnetError(
            f"run {path} failed: {line} (log: {path / LOG_NAME}); {len(outcome.ran)} other "
            f"run(s) finished; fix it and run the study again to resume"
        )
    return {"ran": [run_dir(folder, keys[t.key]).as_posix() for t in outcome.ran],
            "skipped": [run_dir(folder, c).as_posix() for c in skipped],
            "adopted": [run_dir(folder, keys[k]).as_posix() for k in outcome.adopted],
            "executor": options.name}  # fmt: skip


def _progress_line(record: dict[str, Any], done: int, total: int, wall: float, eta: str) -> str:
    where = f"{record['model']} {record['dataset']} seed {record['seed']}"
    if not record["finished"]:  # the process ended well but left no complete summary
        return f"[{done}/{total}] {where}: ended without a complete summary; ETA {eta}"
    return (
        f"[{done}/{total}] {where}: final error {100 * record['final_test_error']:.2f}%, best "
        f"{100 * record['best_test_error']:.2f}% (epoch {record['best_epoch']}), "
        f"{wall:.0f} s; ETA {eta}"
    )
