"""Reading a user's matrix or vector from a file (``optnet verify --matrix W.npy --x0 x0.txt``).

Accepted formats: NumPy ``.npy`` (read with ``allow_pickle=False``, so a file cannot run code),
whitespace-separated text ``.txt`` and comma-separated ``.csv`` (both via ``numpy.loadtxt``).
Every failure is one :class:`~optnet_theory.errors.OptnetError` line naming the file, what was
wrong and what is accepted. The returned source record (path and SHA-256 of the bytes read)
goes into the JSON output, so a result can be traced to the exact file it was computed on.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, Literal

import numpy as np

from optnet_theory.errors import OptnetError

__all__ = ["ARRAY_SUFFIXES", "load_array"]

#: file suffix -> how it is read (the accepted formats, named in every error).
ARRAY_SUFFIXES: dict[str, str] = {
    ".npy": "NumPy array (allow_pickle=False)",
    ".txt": "whitespace-separated numbers",
    ".csv": "comma-separated numbers",
}


def load_array(
    path: str | Path, what: str, ndim: Literal[1, 2]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The float64 array stored at ``path`` (``ndim`` 1 or 2) and its source record.

    ``what`` names the array in errors (e.g. ``"--matrix"``). A text file holding one row or
    one column is a vector; a 1 x 1 text file is a 1 x 1 matrix when ``ndim == 2``.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        accepted = ", ".join(ARRAY_SUFFIXES)
        raise OptnetError(f"{what} {file}: unknown file type {suffix or '(none)'!r}; "
                          f"accepted: {accepted}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise OptnetError(f"{what} {file}: cannot read it ({exc.strerror})") from None
    try:
        if suffix == ".npy":
            raw = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            text = data.decode("utf-8")
            raw = np.loadtxt(text.splitlines(), delimiter="," if suffix == ".csv" else None,
                             dtype=np.float64, ndmin=ndim)
        array = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError, UnicodeDecodeError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OptnetError(f"{what} {file}: not a {ARRAY_SUFFIXES[suffix]} file of real "
                          f"numbers ({reason})") from None
    if ndim == 1 and array.ndim == 2 and 1 in array.shape:
        array = array.ravel()
    if array.ndim != ndim:
        kind = "vector" if ndim == 1 else "matrix"
        raise OptnetError(f"{what} {file}: expected a {kind} ({ndim}-D array), "
                          f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise OptnetError(f"{what} {file}: has entries that are not finite numbers")
    source = {"source": "file", "path": str(file), "sha256": hashlib.sha256(data).hexdigest()}
    return array, source
