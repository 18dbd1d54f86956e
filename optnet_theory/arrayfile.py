"""Reading a user's matrix or vector from a file (``optnet verify --matrix W.npy --x0 x0.txt``).

Accepted formats: NumPy ``.npy`` (read with ``allow_pickle=False``, so a file cannot run code),
whitespace-separated text ``.txt`` and comma-separated ``.csv`` (both via ``numpy.loadtxt``).
Every failure is one :class:`~optnet_theory.errors.OptnetError` line naming the file, what was
wrong and what is accepted. The returned source record (path and SHA-256 of the bytes read)
goes into the JSON output, so a result can be traced to the exact file it was computed on.

Before anything is read, the file is opened without blocking and checked to be a regular file
(a fifo would block forever, a link to /dev/zero would never end) no larger than the memory cap
(:func:`optnet_theory.energy.limits.memory_limit`; a text file at most an eighth of it, since
parsing
holds the text, its decoded copy and the numbers); a ``.npy`` header is read first and refused
when it is oversize, promises more data than the file holds or the cap allows, or a complex or
non-numeric dtype (a complex matrix is refused, never silently made real).
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from optnet_theory.energy.limits import memory_limit
from optnet_theory.errors import OptnetError

__all__ = ["ARRAY_SUFFIXES", "MAX_NPY_HEADER", "load_array"]

#: file suffix -> how it is read (the accepted formats, named in every error).
ARRAY_SUFFIXES: dict[str, str] = {
    ".npy": "NumPy array (allow_pickle=False)",
    ".txt": "whitespace-separated numbers",
    ".csv": "comma-separated numbers",
}
#: longest .npy header accepted, in bytes (NumPy's own writer needs a few hundred).
MAX_NPY_HEADER = 10_000
#: text files: at most this fraction of the memory cap (text, decoded text and numbers).
TEXT_SHARE = 8

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (fifo)"),
    (stat.S_ISCHR, "a character device (such as /dev/zero)"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _read_exactly(handle: IO[bytes], size: int, what: str, file: Path) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise OptnetError(f"{what} {file}: changed while it was read; try again")
    return data


def _npy(handle: IO[bytes], size: int, cap: float, what: str, file: Path) -> tuple[bytes, Any]:
    """The bytes of a .npy file and its array, its header checked before the data is read."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        reader = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(
            version)
        if reader is None:
            raise ValueError(f"format version {version[0]}.{version[1]} (accepted: 1.0, 2.0)")
        shape, fortran, dtype = reader(handle, max_header_size=MAX_NPY_HEADER)
    except (ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "max_header_size" in reason or ("header" in reason.lower() and "large" in reason):
            reason = f"its header is over {MAX_NPY_HEADER} bytes"
        raise OptnetError(f"{what} {file}: not a usable .npy file ({reason})") from None
    if dtype.kind == "c":
        raise OptnetError(f"{what} {file}: is complex ({dtype}); a real matrix is needed "
                          "(its imaginary part would be lost)")  # fmt: skip
    if dtype.hasobject:
        raise OptnetError(f"{what} {file}: holds Python objects (a pickle); refused: .npy files "
                          "are read with allow_pickle=False and must hold real numbers")
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise OptnetError(f"{what} {file}: holds {dtype} values; accepted: real numbers")
    promised = math.prod(shape) * dtype.itemsize
    if promised > cap:
        raise OptnetError(
            f"{what} {file}: its header promises {promised / 2**30:.3g} GiB ({shape}), over the "
            f"memory cap of {cap / 2**30:.3g} GiB"
        )
    header = handle.tell()
    if promised != size - header:
        raise OptnetError(
            f"{what} {file}: its header promises {promised} bytes of data for shape {shape}, "
            f"the file holds {size - header}"
        )
    body = _read_exactly(handle, promised, what, file)
    array = np.frombuffer(body, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    handle.seek(0)
    return _read_exactly(handle, size, what, file), array


def _open_checked(file: Path, what: str, suffix: str) -> tuple[bytes, Any]:
    """(bytes, parsed array or None) of a regular file within the caps; nothing read before."""
    cap = memory_limit()
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)  # a fifo opens without waiting
    except OSError as exc:
        raise OptnetError(f"{what} {file}: cannot read it ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OptnetError(f"{what} {file}: is {_kind(info.st_mode)}, not a regular file; "
                              f"give a {', '.join(ARRAY_SUFFIXES)} file")  # fmt: skip
        limit = cap if suffix == ".npy" else cap / TEXT_SHARE
        if info.st_size > limit:
            raise OptnetError(
                f"{what} {file}: {info.st_size / 2**30:.3g} GiB is over the cap of "
                f"{limit / 2**30:.3g} GiB for a {suffix} file"
            )
        if suffix == ".npy":
            return _npy(handle, info.st_size, cap, what, file)
        return _read_exactly(handle, info.st_size, what, file), None


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
        data, raw = _open_checked(file, what, suffix)
    except OSError as exc:
        raise OptnetError(f"{what} {file}: cannot read it ({exc.strerror})") from None
    try:
        if raw is None:
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
