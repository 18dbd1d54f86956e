"""Where a grid's training runs execute: this machine, submitit's local executor, or SLURM.

A grid command (``optnet study``, and any other command that runs many ``optnet`` commands)
turns each unfinished run into a :class:`~optnet_nets.executors.base.Task` (an ``optnet``
command line and a log file) and hands the list to
:func:`~optnet_nets.executors.pool.run_tasks` with the executor chosen here
(:func:`open_executor`). The run folders stay the truth: a task's command is safe to repeat
(``optnet train --resume-or-start``), so an interrupted grid is resumed by running the same
command again, whatever the executor.

Executors (``--executor``):

- ``local``: one child process per run on this machine, ``--workers`` at a time
  (:mod:`optnet_nets.executors.local`);
- ``submitit-local``: each run is one job of submitit's ``LocalExecutor`` on this machine, for
  trying the cluster path out and for tests (:mod:`optnet_nets.executors.cluster`);
- ``slurm``: each run is one SLURM job submitted through submitit, with ``--slurm-partition``,
  ``--slurm-time`` (minutes, required), ``--slurm-gpus-per-task`` and ``--slurm-option
  KEY=VALUE`` (any other ``sbatch`` option, e.g. ``account=abc``).

Both submitit executors need the extra ``[cluster]`` (``pip install 'optnet[cluster]'``). Every
job runs :func:`optnet_nets.executors.job.run_optnet`, a plain function that calls the same
``optnet`` entry point as the local executor's child processes.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optnet_theory.errors import OptnetError

if TYPE_CHECKING:  # pragma: no cover
    from optnet_nets.executors.base import Executor

__all__ = [
    "EXECUTORS",
    "ExecutorOptions",
    "add_executor_arguments",
    "executor_options",
    "open_executor",
    "require_submitit",
]

#: The ``--executor`` choices.
EXECUTORS = ("local", "submitit-local", "slurm")
#: Longest ``--slurm-time`` accepted: 365 days, in minutes (a typo guard, not a cluster limit).
MAX_SLURM_MINUTES = 365 * 24 * 60


@dataclass(frozen=True)
class ExecutorOptions:
    """The executor flags of a grid command, checked.

    ``workers`` is the number of runs in flight (None: 1 for the local executors, every run
    at once for SLURM, whose scheduler decides); ``slurm_options`` are extra ``sbatch`` options.
    """

    name: str = "local"
    workers: int | None = None
    launcher: tuple[str, ...] = ()
    slurm_partition: str | None = None
    slurm_time: int | None = None
    slurm_gpus_per_task: int | None = None
    slurm_options: tuple[tuple[str, str], ...] = ()

    def in_flight(self, tasks: int) -> int:
        """How many of ``tasks`` runs may be in flight at once."""
        if self.workers is not None:
            return self.workers
        return max(1, tasks) if self.name == "slurm" else 1


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers``, ``--launcher`` and the ``--slurm-*`` flags."""
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="where each run executes: a child process here (local, the "
                             "default), a job of submitit's local executor (submitit-local) "
                             "or a SLURM job (slurm); the submitit ones need "
                             "pip install 'optnet[cluster]'")  # fmt: skip
    parser.add_argument("--workers", type=int,
                        help="runs in flight at once, each with cores/N threads on this machine "
                             "(default 1; with --executor slurm every run is submitted at once)")
    parser.add_argument("--launcher", help="run each command as LAUNCHER -m optnet_nets.cli "
                                           "..., e.g. 'torchrun --nproc_per_node=4' (default: "
                                           "this Python; --executor local only)")
    slurm = parser.add_argument_group("SLURM (with --executor slurm)")
    slurm.add_argument("--slurm-partition", help="partition of every job")
    slurm.add_argument("--slurm-time", metavar="MIN",
                       help="time limit of every job, in minutes (required with slurm)")
    slurm.add_argument("--slurm-gpus-per-task", metavar="G", help="GPUs of every job")
    slurm.add_argument("--slurm-option", action="append", metavar="KEY=VALUE",
                       help="any other sbatch option for every job, e.g. account=abc or "
                            "qos=high (repeatable)")


def _whole(text: str | None, flag: str, low: int, high: int, what: str) -> int | None:
    """A whole number from ``low`` to ``high`` given to ``flag`` (None when not given)."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise OptnetError(f"{flag} takes {what} from {low} to {high}, got {text!r}")
    return value


def _slurm_options(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or not key or not value.strip():
            raise OptnetError(f"--slurm-option takes KEY=VALUE (e.g. account=abc), got {item!r}")
        pairs.append((key, value.strip()))
    return tuple(pairs)


def executor_options(args: argparse.Namespace) -> ExecutorOptions:
    """The checked :class:`ExecutorOptions` of parsed flags; one-line errors for bad ones."""
    name = args.executor
    workers = args.workers
    if workers is not None and workers < 1:
        raise OptnetError(f"--workers must be a positive integer, got {workers}")
    slurm_given = [flag for flag, value in (
        ("--slurm-partition", args.slurm_partition), ("--slurm-time", args.slurm_time),
        ("--slurm-gpus-per-task", args.slurm_gpus_per_task), ("--slurm-option", args.slurm_option),
    ) if value is not None]  # fmt: skip
    if name != "slurm" and slurm_given:
        raise OptnetError(f"{slurm_given[0]} applies to --executor slurm only (got --executor "
                          f"{name})")  # fmt: skip
    minutes = _whole(args.slurm_time, "--slurm-time", 1, MAX_SLURM_MINUTES, "whole minutes")
    if name == "slurm" and minutes is None:
        raise OptnetError("--executor slurm needs --slurm-time MIN, the time limit of each run's "
                          "job in minutes (a run longer than that is resumed by rerunning)")
    gpus = _whole(args.slurm_gpus_per_task, "--slurm-gpus-per-task", 0, 64, "a GPU count")
    launcher = tuple(shlex.split(args.launcher)) if args.launcher else ()
    if launcher and name != "local":
        raise OptnetError(f"--launcher applies to --executor local only; a {name} job runs one "
                          "process (give it GPUs with --slurm-gpus-per-task)")  # fmt: skip
    options = ExecutorOptions(name, workers, launcher, args.slurm_partition, minutes, gpus,
                              _slurm_options(args.slurm_option))  # fmt: skip
    if name != "local":
        require_submitit(name)
    if name == "slurm" and (shutil.which("sbatch") is None or shutil.which("srun") is None):
        raise OptnetError("--executor slurm: no SLURM on this machine ('sbatch' or 'srun' not "
                          "found); run on the cluster's login node, or try --executor "
                          "submitit-local here")  # fmt: skip
    return options


def require_submitit(executor: str) -> Any:
    """The submitit module, or a one-line error naming the extra to install."""
    try:
        import submitit
    except ModuleNotFoundError:
        raise OptnetError(
            f"--executor {executor} needs submitit: pip install 'optnet[cluster]'"
        ) from None
    return submitit


def open_executor(options: ExecutorOptions, folder: Path, *, threads: int | None) -> Executor:
    """The executor of ``options`` for a grid in ``folder``.

    ``threads`` caps each run's OpenMP/MKL threads (None: the run's own default). Nothing is
    inherited: each run takes its own run folder's lock (:mod:`optnet_nets.folders.lock`).
    """
    if options.name == "local":
        from optnet_nets.executors.local import LocalProcesses

        launcher = list(options.launcher)
        return LocalProcesses(folder, launcher, threads=threads)
    from optnet_nets.executors.cluster import SubmititExecutor

    return SubmititExecutor(options, folder, threads=threads)

