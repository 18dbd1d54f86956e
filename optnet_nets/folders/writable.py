"""Output locations checked before any work: a run never dies at its end on an unusable --out.

:func:`writable_dir` creates the directory and proves that a file can be written there (a
temporary file, removed at once); :func:`writable_file` does the same for the folder of an
output file. Every failure is one :class:`~optnet_theory.errors.OptnetError` line naming the
flag, the path and the reason (read-only, under a regular file, a file where a folder is
needed, a place that cannot hold folders such as /proc).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from optnet_theory.errors import OptnetError

__all__ = ["writable_dir", "writable_file"]


def _blocking_file(path: Path) -> Path | None:
    """The regular file (if any) that stands where ``path`` or one of its folders should be."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def _reason(path: Path, exc: OSError) -> str:
    blocker = _blocking_file(path)
    if blocker is not None:
        return f"{blocker} is a file, not a directory"
    return exc.strerror or type(exc).__name__


def _prove_writable(directory: Path) -> None:
    """Create ``directory`` (and parents) and write and remove a file there; OSError if not."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".optnet-write-test.", dir=directory)
    os.close(fd)
    os.unlink(probe)


def writable_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """``path`` as a directory that exists and takes new files; else a one-line error."""
    target = Path(path)
    try:
        _prove_writable(target)
    except OSError as exc:
        raise OptnetError(
            f"{flag} {target}: cannot write there ({_reason(target, exc)}); "
            "give a directory you can write to"
        ) from None
    return target


def writable_file(path: str | os.PathLike[str], flag: str) -> Path:
    """``path`` as a file that can be (re)written: its folder takes files, it is no folder."""
    target = Path(path)
    if target.is_dir():
        raise OptnetError(f"{flag} {target} is a directory; give a file name")
    try:
        _prove_writable(target.parent)
    except OSError as exc:
        raise OptnetError(
            f"{flag} {target}: cannot write its folder ({_reason(target.parent, exc)}); "
            "give a file in a directory you can write to"
        ) from None
    if target.exists() and not os.access(target, os.W_OK):
        raise OptnetError(f"{flag} {target}: the file is read-only; give a file you can write")
    return target
