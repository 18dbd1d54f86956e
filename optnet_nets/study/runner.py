"""Runs a study's grid: one ``optnet train`` process per run, ``workers`` at a time, resumable.

Finished runs (their ``summary.json`` records every epoch) are skipped; every other run is
started with ``--resume-or-start``, so one interrupted anywhere continues from its last checkpoint
(``optnet train`` checkpoints atomically at epoch ends and every few hundred steps). Nothing
is held only in memory: killing the study at any moment loses at most the steps since each
running run's last checkpoint.

The study holds its folder's lock (:mod:`optnet_nets.folder_lock`), so a second study on the
same folder is refused, naming the first; each run, an ``optnet train`` process, takes its own
run folder's lock itself (nothing is inherited, so runs started by a cluster scheduler are
locked the same way), so a run still alive from a killed study refuses a second writer too.
Each run's output goes to ``train.log`` in its folder; one line per finished run (errors and an
ETA) goes to stderr.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

from optnet_nets.folder_lock import folder_lock
from optnet_nets.study.grid import Cell, StudyPlan, finished_summary, run_dir, train_argv
from optnet_nets.study.summary import run_record
from optnet_theory.errors import OptnetError

LOG_NAME = "train.log"
#: Python's way to run ``optnet`` in a child process (the console script may not be on PATH).
MODULE_COMMAND = ("-m", "optnet_nets.cli")


def cpu_cores() -> int:
    """CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def program(launcher: list[str] | None) -> list[str]:
    """The command that runs ``optnet``: this Python, or ``launcher -m optnet_nets.cli``."""
    return [*(launcher or [sys.executable]), *MODULE_COMMAND]


def study_lock(out: Path) -> contextlib.AbstractContextManager[Path]:
    """Hold the study folder's lock (a one-line error naming the holder if it is taken)."""
    return folder_lock(out, "optnet study",
                       say=lambda line: print(f"optnet study: {line}", file=sys.stderr))


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (e.g. a scheduler's kill) interrupts like Ctrl-C, so the runs are stopped too."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class _Running:
    cell: Cell
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started: float


def _expected_seconds(durations: dict[str, list[float]], model: str) -> float:
    """A run's expected wall time: the mean of its model's finished runs, else of all runs."""
    own = durations.get(model) or [t for times in durations.values() for t in times]
    return sum(own) / len(own)


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _stop(running: list[_Running]) -> None:
    for job in running:
        if job.process.poll() is None:
            job.process.terminate()
    deadline = time.monotonic() + 30
    for job in running:
        try:
            job.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            job.process.kill()
            job.process.wait()
        job.log.close()


def run_study(
    plan: StudyPlan,
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    launcher: list[str] | None = None,
    threads: int | None = None,
    report: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train every unfinished run of ``plan`` in ``out``; which ran and which were skipped.

    ``threads`` (when given) caps each run's OpenMP/MKL threads through the environment; the
    study passes ``cores // workers`` when runs share the machine. On the first failed run no
    further run is started, the running ones finish, and an :class:`OptnetError` names it.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise OptnetError(f"workers must be a positive integer, got {workers!r}")
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    folder = Path(out)
    cells = plan.cells()
    todo = [c for c in cells if finished_summary(run_dir(folder, c), plan.epochs) is None]
    skipped = [c for c in cells if c not in todo]
    env = dict(os.environ)
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    ran: list[Cell] = []
    failed: list[tuple[Cell, str]] = []
    durations: dict[str, list[float]] = {}  # model -> wall seconds of its finished runs
    running: list[_Running] = []
    queue = list(todo)
    with study_lock(folder), _sigterm_interrupts():
        say(f"study {folder}: {len(cells)} runs, {len(skipped)} already finished, {len(todo)} "
            f"to train, {workers} at a time")  # fmt: skip
        try:
            while queue or running:
                while queue and len(running) < workers and not failed:
                    cell = queue.pop(0)
                    path = run_dir(folder, cell)
                    path.mkdir(parents=True, exist_ok=True)
                    argv = train_argv(folder, cell, plan.train_flags)
                    command = [*program(launcher), "train", *argv]
                    log = (path / LOG_NAME).open("ab")
                    log.write(f"$ {' '.join(command)}\n".encode())
                    log.flush()
                    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                               env=env)  # fmt: skip
                    running.append(_Running(cell, process, log, time.monotonic()))
                if failed and not running:
                    break
                time.sleep(0.2)
                for job in [j for j in running if j.process.poll() is not None]:
                    running.remove(job)
                    job.log.close()
                    path = run_dir(folder, job.cell)
                    if job.process.returncode != 0:
                        failed.append((job.cell, _last_line(path / LOG_NAME)))
                        say(f"FAILED {path} (exit {job.process.returncode}): {failed[-1][1]}")
                        continue
                    wall = time.monotonic() - job.started
                    durations.setdefault(job.cell.model, []).append(wall)
                    ran.append(job.cell)
                    left = [*queue, *(j.cell for j in running)]
                    eta = _eta(sum(_expected_seconds(durations, c.model) for c in left) / workers)
                    say(_progress_line(run_record(folder, job.cell, plan.epochs), len(ran),
                                       len(todo), wall, eta))  # fmt: skip
        finally:
            _stop(running)
    if failed:
        cell, line = failed[0]
        raise OptnetError(
            f"run {run_dir(folder, cell)} failed: {line} (log: {run_dir(folder, cell) / LOG_NAME}"
            f"); {len(ran)} other run(s) finished; fix it and run the study again to resume"
        )
    return {"ran": [run_dir(folder, c).as_posix() for c in ran],
            "skipped": [run_dir(folder, c).as_posix() for c in skipped]}  # fmt: skip


def _progress_line(record: dict[str, Any], done: int, total: int, wall: float, eta: str) -> str:
    where = f"{record['model']} {record['dataset']} seed {record['seed']}"
    if not record["finished"]:  # the process ended well but left no complete summary
        return f"[{done}/{total}] {where}: ended without a complete summary; ETA {eta}"
    return (
        f"[{done}/{total}] {where}: final error {100 * record['final_test_error']:.2f}%, best "
        f"{100 * record['best_test_error']:.2f}% (epoch {record['best_epoch']}), "
        f"{wall:.0f} s; ETA {eta}"
    )
