"""Writing a file so that readers see the old one or the whole new one, never a part.

:func:`staged` gives a temporary path beside the target (same folder, so the final rename
stays on one file system); what is written there becomes the target only through
:meth:`Staged.commit`, after the caller has checked it, and is removed otherwise. A commit
without ``replace`` never overwrites: it links the file into place (``os.link`` fails when the
target exists, atomically, also on NFS). The folder is fsynced after the rename, so the commit
itself survives a crash. :func:`write_bytes` is the whole sequence for bytes in memory,
:func:`write_text` for text (UTF-8) and :func:`write_json` for a JSON document; these are the
package's one atomic writer (torch checkpoints stage through :func:`staged` too).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError

__all__ = ["Staged", "staged", "write_bytes", "write_json", "write_text"]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Staged:
    """A temporary file beside ``target``; nothing reaches ``target`` before :meth:`commit`."""

    path: Path
    target: Path
    committed: bool = False

    def commit(self, *, replace: bool = True) -> Path:
        """Move the staged file to the target (flushed to disk first). Without ``replace`` an
        existing target is an :class:`OptnetError` and is left as it was."""
        with open(self.path, "rb+") as handle:
            os.fsync(handle.fileno())
        if replace:
            os.replace(self.path, self.target)
        else:
            try:
                os.link(self.path, self.target)
            except FileExistsError:
                raise OptnetError(f"{self.target} exists; it was left as it was") from None
            self.path.unlink()
        self.committed = True
        _fsync_dir(self.target.parent)
        return self.target


@contextlib.contextmanager
def staged(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Staged]:
    """A :class:`Staged` file for ``target`` (the folder must exist); removed unless committed.

    ``suffix`` ends the temporary name (some writers choose the format by it, e.g. ``.onnx``).
    """
    final = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{suffix}",
                                dir=final.parent)  # fmt: skip
    os.close(fd)
    stage = Staged(Path(name), final)
    try:
        yield stage
    finally:
        if not stage.committed:
            stage.path.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike[str], data: bytes, *, replace: bool = True) -> Path:
    """Write ``data`` to ``target`` atomically (see the module docstring)."""
    with staged(target) as stage:
        stage.path.write_bytes(data)
        return stage.commit(replace=replace)


def write_text(target: str | os.PathLike[str], text: str, *, replace: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically (see the module docstring)."""
    return write_bytes(target, text.encode("utf-8"), replace=replace)


def write_json(target: str | os.PathLike[str], data: Any) -> Path:
    """``data`` as JSON (indent 1, sorted keys, a final newline) at ``target``, atomically; its
    folder is created first. Files of another JSON layout go through :func:`write_text`."""
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    return write_text(final, json.dumps(data, indent=1, sort_keys=True) + "\n")
