"""What an executor is: it starts a :class:`Task` as a :class:`Job` and can find the jobs that an
earlier, killed driver left running.

A task is one ``optnet`` command line (``("train", "--model", ...)``) with the log file its
output is appended to, and a key that names it among its grid's tasks (its run folder, relative
to the grid's folder). Its command must be safe to repeat: the run folder, not the job, says
whether it is finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["Executor", "Job", "Task"]


@dataclass(frozen=True)
class Task:
    """One ``optnet`` command of a grid: ``key`` names it, ``argv`` follows ``optnet``."""

    key: str
    argv: tuple[str, ...]
    log: Path


class Job(Protocol):
    """A started task."""

    #: how the user finds it: "pid 123", "submitit-local job 456", "slurm job 789"
    label: str

    def poll(self) -> bool:
        """Whether the job has ended (successfully or not)."""

    def failure(self) -> str | None:
        """After the job ended: one line saying why it failed, or None (it did not fail, or
        nothing is known, as for a job adopted from an earlier driver)."""

    def cancel(self) -> None:
        """Ask the job to stop (its command checkpoints and exits); returns at once."""

    def kill(self) -> None:
        """Stop a job that did not stop when asked (no-op where nothing stronger exists)."""


class Executor(Protocol):
    """Starts tasks; names itself in messages."""

    name: str

    def submit(self, task: Task) -> Job:
        """Start ``task`` and return its job."""

    def adopt(self, tasks: list[Task]) -> dict[str, Job]:
        """Jobs of ``tasks`` (by key) that an earlier driver started and that still run."""

    def ended(self, task: Task) -> None:
        """``task``'s job has ended (forget it)."""
