"""One writer per folder: a lock file that each writing process takes itself, by path.

``optnet train`` takes its run folder's lock, a study takes its study folder's (and each of its
training runs, being an ``optnet train`` process, its own run folder's), ``optnet data fetch``
takes its root's. Nothing is inherited: a job started by a cluster scheduler on another node
takes the lock exactly as a local process does, so the design needs no file descriptor passed
down and no lock server.

The lock is the file ``FOLDER/.optnet.lock``, created atomically with ``os.link`` of a complete
temporary file (atomic and exclusive on local file systems and on NFS), holding the holder's
host, pid, process start time, command and start date as JSON. A second writer gets a one-line
:class:`~optnet_theory.errors.OptnetError` naming the holder. A lock left by a process that is
gone is taken over when that process ran on this host (its pid is not alive, or is alive with
another start time: a reused pid); on another host nothing can be checked from here, so the
error says which file to remove once that job is known to be gone. The thread that holds a lock
may take it again (re-entrant), so ``optnet train`` and the :func:`train` it calls share one;
another thread of the same process waits or is refused like another process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError

__all__ = ["LOCK_NAME", "folder_lock", "holder"]

LOCK_NAME = ".optnet.lock"
#: seconds between two attempts while waiting for a lock.
POLL_SECONDS = 0.5
#: locks this process holds: (path, thread) -> how many times taken.
_HELD: dict[tuple[str, int], int] = {}


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[19] if len(fields) > 19 else None


def _me(command: str) -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _start_time(pid),
            "command": command, "since": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip


def holder(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record of the process holding ``folder``'s lock (None when it is free); a lock
    file that cannot be read as one is reported with ``unreadable: True``."""
    path = Path(folder) / LOCK_NAME
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"unreadable": True}
    return record if isinstance(record, dict) else {"unreadable": True}


def _alive(record: dict[str, Any]) -> bool:
    """Whether the holder may still run: always True for another host (nothing to check)."""
    if record.get("unreadable") or record.get("host") != socket.gethostname():
        return True
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    start = record.get("start")
    return start is None or _start_time(pid) in (None, start)


def _same(record: dict[str, Any] | None, other: dict[str, Any]) -> bool:
    return record is not None and all(record.get(k) == other.get(k) for k in ("host", "pid",
                                                                                "start"))


def _try_take(path: Path, mine: dict[str, Any]) -> bool:
    """Create the lock file atomically from a complete temporary file; False if it exists."""
    tmp = path.with_name(f"{LOCK_NAME}.{mine['host']}.{mine['pid']}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(mine) + "\n")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _break_stale(folder: Path, record: dict[str, Any]) -> bool:
    """Remove the lock of ``record`` if it is still the one there; under a lock on the folder
    itself, so that two processes never both judge one stale lock and remove a fresh one."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if holder(folder) != record:
            return False
        (folder / LOCK_NAME).unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _describe(folder: Path, record: dict[str, Any]) -> str:
    if record.get("unreadable"):
        return f"{folder} is locked by {folder / LOCK_NAME}, which cannot be read"
    return (f"{folder} is in use by {record.get('command', 'another process')} (pid "
            f"{record.get('pid')} on host {record.get('host')}, since {record.get('since')})")


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike[str],
    command: str,
    *,
    wait: float = 0.0,
    say: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold ``FOLDER/.optnet.lock`` (the folder is created) while the block runs.

    ``command`` names this process in the lock (e.g. "optnet train"). With ``wait`` > 0 a held
    lock is waited for that many seconds (``say`` is told once whom we wait for); then, or at
    once, an :class:`OptnetError` names the holder. ``say`` is also told of a stale lock taken
    over.
    """
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptnetError(f"cannot create {target}: {exc.strerror or exc}") from None
    path = target / LOCK_NAME
    key = (str(path.resolve()), threading.get_ident())
    mine = _me(command)
    if _HELD.get(key) and _same(holder(target), mine):
        _HELD[key] += 1
    else:
        _acquire(target, mine, wait, say)
        _HELD[key] = 1
    try:
        yield path
    finally:
        _HELD[key] -= 1
        if not _HELD[key]:
            del _HELD[key]
            if _same(holder(target), mine):
                path.unlink(missing_ok=True)


def _acquire(folder: Path, mine: dict[str, Any], wait: float,
             say: Callable[[str], None] | None) -> None:  # fmt: skip
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            if _try_take(folder / LOCK_NAME, mine):
                return
        except OSError as exc:
            raise OptnetError(f"cannot lock {folder}: {exc.strerror or exc}") from None
        record = holder(folder)
        if record is None:
            continue  # released between our attempt and the read: try again
        if not _alive(record):
            if _break_stale(folder, record) and say is not None:
                say(f"took over the lock of {record.get('command')} (pid {record.get('pid')}), "
                    "which is no longer running")
            continue
        if time.monotonic() >= deadline:
            gone = f"; if it is gone, remove {folder / LOCK_NAME}"
            raise OptnetError(_describe(folder, record) + (
                f"; waited {wait:g} s" if wait else "; wait for it to end or stop it") + gone)
        if say is not None and not told:
            say(_describe(folder, record) + "; waiting for it")
            told = True
        time.sleep(POLL_SECONDS)
