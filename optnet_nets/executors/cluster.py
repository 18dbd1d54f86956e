"""The submitit executors: ``submitit-local`` (this machine) and ``slurm`` (a SLURM cluster).

Each task is one submitit job running :func:`optnet_nets.executors.job.run_optnet`; submitit's
scripts, pickles and own logs go to ``FOLDER/.submitit/``, the command's output to the task's
log (``train.log`` in the run folder, as with the local executor). Every job in flight is
recorded in ``FOLDER/.jobs.json`` (:mod:`optnet_nets.executors.record`) until it ends, so a
driver killed outright is followed by one that waits for its jobs instead of duplicating them.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path
from typing import Any

from optnet_nets.executors import ExecutorOptions, require_submitit
from optnet_nets.executors.base import Job, Task
from optnet_nets.executors.job import run_optnet
from optnet_nets.executors.local import last_line
from optnet_nets.executors.record import (
    SUBMITIT_DIR,
    adopt_recorded,
    forget,
    kill_tree,
    remember,
)
from optnet_theory.errors import OptnetError

__all__ = ["SubmititExecutor", "slurm_parameters"]

#: submitit's LocalExecutor kills a job after ``timeout_min`` (2 minutes unless set): a year.
LOCAL_TIMEOUT_MIN = 365 * 24 * 60


def slurm_parameters(options: ExecutorOptions) -> dict[str, Any]:
    """The ``SlurmExecutor.update_parameters`` of ``options`` (one job per run)."""
    params: dict[str, Any] = {"job_name": "optnet", "time": options.slurm_time, "nodes": 1,
                              "ntasks_per_node": 1}  # fmt: skip
    if options.slurm_partition:
        params["partition"] = options.slurm_partition
    if options.slurm_gpus_per_task is not None:
        params["gpus_per_task"] = options.slurm_gpus_per_task
    if options.slurm_options:
        params["additional_parameters"] = dict(options.slurm_options)
    return params


class _Submitted:
    """A job this driver submitted (a submitit ``Job``)."""

    def __init__(self, executor: str, job: Any, task: Task) -> None:
        self.job, self.task = job, task
        self.label = f"{executor} job {job.job_id}"

    def poll(self) -> bool:
        return bool(self.job.done())

    def failure(self) -> str | None:
        if self.job.exception() is None:
            return None
        return f"{self.label}: {last_line(self.task.log)} (submitit's log: {self.job.paths.stderr})"

    def cancel(self) -> None:
        self.job.cancel(check=False)

    def kill(self) -> None:
        process = getattr(self.job, "_process", None)  # a LocalJob's controller
        if process is not None and process.poll() is None:
            kill_tree(process.pid)
            process.wait()
        elif process is None:
            self.job.cancel(check=False)


class SubmititExecutor:
    """submitit's ``LocalExecutor`` or ``SlurmExecutor`` for the grid in ``folder``."""

    def __init__(self, options: ExecutorOptions, folder: Path, *, threads: int | None) -> None:
        submitit = require_submitit(options.name)
        self.name, self.folder, self.threads = options.name, Path(folder), threads
        logs = self.folder / SUBMITIT_DIR
        if options.name == "submitit-local":
            self.executor = submitit.LocalExecutor(folder=logs)
            self.executor.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN)
            return
        self.executor = submitit.SlurmExecutor(folder=logs)
        try:
            self.executor.update_parameters(**slurm_parameters(options))
        except ValueError as exc:
            raise OptnetError(f"--executor slurm: {str(exc).splitlines()[0]}") from None

    def submit(self, task: Task) -> Job:
        task.log.parent.mkdir(parents=True, exist_ok=True)
        try:  # submitit prints sbatch's complaint too: it is in the one-line error instead
            with contextlib.redirect_stderr(io.StringIO()):
                job = self.executor.submit(run_optnet, list(task.argv), str(task.log),
                                           self.threads)  # fmt: skip
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:  # sbatch refused it
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise OptnetError(f"--executor {self.name}: cannot submit {task.key}: {why}") from None
        remember(self.folder, task.key, self.name, job.job_id)
        return _Submitted(self.name, job, task)

    def adopt(self, tasks: list[Task]) -> dict[str, Job]:
        return adopt_recorded(self.folder, tasks)

    def ended(self, task: Task) -> None:
        forget(self.folder, task.key)
