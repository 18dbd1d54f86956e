"""Which submitit jobs a grid has in flight, kept in ``FOLDER/.jobs.json`` for a later driver.

A driver killed outright (SIGKILL, a lost login session) cannot cancel its jobs: submitit's local
jobs and SLURM jobs outlive it. The record lets the next driver on the same folder find those
that still run and wait for them (:func:`adopt_recorded`) instead of starting a second job on
the same run folder. Only the driver writes the record (it holds the grid's lock), atomically.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from optnet_nets.executors.base import Job, Task
from optnet_theory.atomic import write_json
from optnet_theory.errors import OptnetError

__all__ = ["RECORD_NAME", "SUBMITIT_DIR", "adopt_recorded", "forget", "remember"]

#: The record in the grid folder: task key -> {"executor", "job_id"}.
RECORD_NAME = ".jobs.json"
#: submitit's folder inside the grid folder: job scripts, pickles and submitit's own logs.
SUBMITIT_DIR = ".submitit"
#: What a submitit-local job's controller process runs (checked before signalling a pid).
_LOCAL_CONTROLLER = "submitit.local._local"


def _read(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / RECORD_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise OptnetError(f"{path} is not a job record ({exc.msg}); remove it") from None
    return data if isinstance(data, dict) else {}


def _write(folder: Path, record: dict[str, Any]) -> None:
    path = folder / RECORD_NAME
    if record:
        write_json(path, record)
    else:
        path.unlink(missing_ok=True)


def remember(folder: Path, key: str, executor: str, job_id: str) -> None:
    """Record that ``key``'s job ``job_id`` of ``executor`` is in flight."""
    record = _read(folder)
    record[key] = {"executor": executor, "job_id": str(job_id)}
    _write(folder, record)


def forget(folder: Path, key: str) -> None:
    """``key``'s job has ended."""
    record = _read(folder)
    if record.pop(key, None) is not None:
        _write(folder, record)


def _process_children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").is_file() else ""
        found += [int(p) for p in text.split()]
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (Linux; elsewhere ``pid`` only)."""
    for child in _process_children(pid):
        kill_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class LocalController:
    """A submitit-local job known by its controller's pid only (its driver is gone)."""

    def __init__(self, pid: int, folder: Path) -> None:
        self.pid, self.folder = pid, folder
        self.label = f"submitit-local job {pid} (started by an earlier driver)"

    def poll(self) -> bool:
        proc = Path(f"/proc/{self.pid}")
        if Path("/proc/self").is_dir():  # Linux: the pid must still be that controller, alive
            try:
                command = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return True
            ours = _LOCAL_CONTROLLER.encode() in command and str(self.folder).encode() in command
            return not ours or state == "Z"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def failure(self) -> str | None:
        return None

    def cancel(self) -> None:
        if not self.poll():
            os.kill(self.pid, signal.SIGINT)  # what LocalJob.cancel sends: it stops its task

    def kill(self) -> None:
        if not self.poll():
            kill_tree(self.pid)


class SlurmRecorded:
    """A SLURM job of an earlier driver, followed through submitit."""

    def __init__(self, job_id: str, folder: Path) -> None:
        import submitit

        self.job: Any = submitit.SlurmJob(folder=folder, job_id=job_id)
        self.label = f"slurm job {job_id} (started by an earlier driver)"

    def poll(self) -> bool:
        return bool(self.job.done())

    def failure(self) -> str | None:
        return None

    def cancel(self) -> None:
        self.job.cancel(check=False)

    def kill(self) -> None:
        self.job.cancel(check=False)


def _recorded_job(entry: dict[str, str], folder: Path) -> Job:
    executor, job_id = entry.get("executor"), str(entry.get("job_id"))
    logs = folder / SUBMITIT_DIR
    if executor == "submitit-local" and job_id.isdigit():
        return LocalController(int(job_id), logs)
    if executor == "slurm":
        try:
            return SlurmRecorded(job_id, logs)
        except ModuleNotFoundError:
            raise OptnetError(
                f"{folder / RECORD_NAME} lists slurm job {job_id} of an earlier driver; install "
                "'optnet[cluster]' so that it can be followed, or cancel it (scancel) and remove "
                "the file"
            ) from None
    raise OptnetError(f"{folder / RECORD_NAME}: unknown job entry {entry!r}; remove the file")


def adopt_recorded(folder: Path, tasks: list[Task]) -> dict[str, Job]:
    """The recorded jobs of ``tasks`` that still run; every other entry is dropped."""
    record = _read(folder)
    if not record:
        return {}
    wanted = {task.key for task in tasks}
    live: dict[str, Job] = {}
    for key, entry in record.items():
        if key in wanted:
            job = _recorded_job(entry, folder)
            if not job.poll():
                live[key] = job
    _write(folder, {key: record[key] for key in live})
    return live
