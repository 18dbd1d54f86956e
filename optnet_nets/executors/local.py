"""The ``local`` executor: each task is a child process ``python -m optnet_nets.cli ARGV``.

Its output is appended to the task's log. The children inherit one descriptor (the grid's lock,
so that a second grid on the same folder is refused while a child of the first still runs) and,
when given, an OpenMP/MKL thread cap through the environment. Nothing is recorded for a later
driver: a child outlives a killed driver only while it holds the lock, which refuses the rerun.
Jobs that a killed submitit driver left running on the same folder are waited for
(:func:`~optnet_nets.executors.record.adopt_recorded`), whatever the executor now.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from optnet_nets.executors.base import Job, Task
from optnet_nets.executors.record import adopt_recorded, forget

__all__ = ["LocalProcesses", "program"]

#: Python's way to run ``optnet`` in a child process (the console script may not be on PATH).
MODULE_COMMAND = ("-m", "optnet_nets.cli")


def program(launcher: list[str] | None) -> list[str]:
    """The command that runs ``optnet``: this Python, or ``launcher -m optnet_nets.cli``."""
    return [*(launcher or [sys.executable]), *MODULE_COMMAND]


def last_line(path: Path) -> str:
    """The last non-empty line of a log file (a failed command's one-line error)."""
    if not path.is_file():
        return "(no output)"
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


class _Process:
    def __init__(self, task: Task, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self.task, self.process, self.log = task, process, log
        self.label = f"pid {process.pid}"

    def poll(self) -> bool:
        if self.process.poll() is None:
            return False
        if not self.log.closed:
            self.log.close()
        return True

    def failure(self) -> str | None:
        status = self.process.returncode
        return None if status == 0 else f"exit {status}: {last_line(self.task.log)}"

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log.close()


class LocalProcesses:
    """Child processes here (``launcher``: e.g. ``["torchrun", "--nproc_per_node=2"]``)."""

    name = "local"

    def __init__(
        self,
        folder: Path,
        launcher: list[str],
        *,
        threads: int | None = None,
    ) -> None:
        self.folder = folder
        self.command = program(launcher or None)
        self.env = dict(os.environ)
        if threads is not None:
            self.env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))

    def submit(self, task: Task) -> Job:
        task.log.parent.mkdir(parents=True, exist_ok=True)
        command = [*self.command, *task.argv]
        log = task.log.open("ab")
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        return _Process(task, process, log)

    def adopt(self, tasks: list[Task]) -> dict[str, Job]:
        return adopt_recorded(self.folder, tasks)

    def ended(self, task: Task) -> None:
        forget(self.folder, task.key)
