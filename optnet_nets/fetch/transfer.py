"""The HTTP side of ``optnet data fetch``: mirror URLs, resumable transfers, caps and deadline.

* :func:`file_urls`: where each file of a dataset is asked for. ``--url`` may be a mirror's
  base URL (the file names are appended) or the full URL of one of its files (for a dataset of
  one archive, any URL ending in ``.tar.gz``/``.tgz``); anything that is not an http(s) URL
  with a host is one line.
* :func:`download`: completes ``ROOT/.NAME.FILE.part`` from the first URL that answers,
  continuing a part left by an interrupted run with a ``Range`` request (a server that ignores
  Range restarts it); a cut connection is retried while it makes progress. A file is never
  let grow past its cap (the published size plus a margin): a ``Content-Length`` over it is
  refused before the first byte, a body over it is stopped and the part deleted. Each read has
  its timeout, and the whole fetch a deadline, after which the part is kept for the next run.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tqdm import tqdm

from optnet_nets.fetch.sources import RemoteFile, Source
from optnet_theory.errors import OptnetError

__all__ = ["ATTEMPTS", "SIZE_MARGIN", "Budget", "download", "file_urls", "size_cap"]

_CHUNK = 1 << 16
#: Transfers tried per file while each one makes progress (a cut connection is resumed).
ATTEMPTS = 3
#: A file may exceed its published size by 10 % plus this many bytes (a mirror's own packing).
SIZE_MARGIN = 1 << 20


@dataclass(frozen=True)
class Budget:
    """Per-read ``timeout`` and the monotonic time of the overall ``deadline`` (seconds)."""

    timeout: float
    deadline: float

    def read_timeout(self) -> float:
        return max(0.1, min(self.timeout, self.deadline - time.monotonic()))

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


def size_cap(file: RemoteFile) -> int:
    """The most bytes accepted for ``file``: its published size plus a margin."""
    return file.size + file.size // 10 + SIZE_MARGIN


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError as exc:
        parts, problem = None, str(exc)
    else:
        problem = ""
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() or ord(c) < 32 for c in url):
        raise OptnetError(
            f"--url {url!r} is not an http(s) URL{f' ({problem})' if problem else ''}; give a "
            "mirror's base URL (https://host/path/) or the URL of one of its files"
        )


def file_urls(spec: Source, url: str | None) -> dict[str, list[str]]:
    """File name -> URLs to try, from the official mirrors or ``url`` (module docstring)."""
    names = [f.name for f in spec.files]
    if url is None:
        return {n: [base + n for base in spec.mirrors] for n in names}
    _check_url(url)
    path = urlsplit(url).path
    last = path.rpartition("/")[2]
    if last in names or (len(names) == 1 and last.endswith((".tar.gz", ".tgz"))):
        base = url[: len(url) - len(last) - len(url.partition(path)[2])]
        return {n: [url if n == last or len(names) == 1 else base + n] for n in names}
    base = url if url.endswith("/") else url + "/"
    return {n: [base + n] for n in names}


class _Unreachable(Exception):
    """The server could not be asked for the file (no connection, HTTP error)."""


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _open(url: str, offset: int, budget: Budget) -> Any:
    headers = {"User-Agent": "optnet-data-fetch"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=budget.read_timeout())  # fmt: skip
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part already holds the whole file
            exc.close()
            return None
        raise _Unreachable(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _Unreachable(str(exc.reason)) from exc
    except (OSError, HTTPException, ValueError) as exc:
        raise _Unreachable(str(exc) or type(exc).__name__) from exc


def _range_start(response: Any) -> int | None:
    """Start of a 206 answer's ``Content-Range: bytes START-END/TOTAL`` (None if unreadable)."""
    unit, _, span = str(response.headers.get("Content-Range", "")).partition(" ")
    start = span.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _too_big(url: str, part: Path, size: int, cap: int) -> OptnetError:
    part.unlink(missing_ok=True)
    return OptnetError(f"{url} is {size} bytes or more, over the cap of {cap} bytes for this "
                       "file (its published size plus a margin); removed the download")


def _transfer(url: str, part: Path, cap: int, progress: bool, budget: Budget) -> bool:
    """One request for the rest of ``part``; True when the file is complete."""
    offset = _size(part)
    response = _open(url, offset, budget)
    if response is None:
        return True
    with response:
        if offset and (response.status != 206 or _range_start(response) != offset):
            offset = 0  # Range ignored or answered elsewhere: start over
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        if total is not None and total > cap:
            raise _too_big(url, part, total, cap)
        with tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=url.rpartition("/")[2], disable=not progress, leave=False) as bar:
            received = _append(url, response, part, offset, cap, bar, budget)
    return received is not None and (total is None or offset + received >= total)


def _append(url: str, response: Any, part: Path, offset: int, cap: int, bar: tqdm,
            budget: Budget) -> int | None:  # fmt: skip
    """Write the response body to ``part`` from ``offset``; None if the connection broke."""
    received = 0
    try:
        with part.open("ab" if offset else "wb") as out:
            while True:
                if budget.expired():
                    return None
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, HTTPException):  # connection lost: keep what arrived
                    return None
                if not chunk:
                    return received
                if offset + received + len(chunk) > cap:
                    out.close()
                    raise _too_big(url, part, offset + received + len(chunk), cap)
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    except OSError as exc:
        raise OptnetError(f"cannot write {part}: {exc.strerror or exc}") from exc


def _unreachable_error(name: str, tried: list[tuple[str, str]]) -> OptnetError:
    attempts = " nor ".join(f"{url} ({reason})" for url, reason in tried)
    return OptnetError(
        f"cannot download {attempts}; check the network or give a mirror with --url, or get "
        f"{name} another way and pass --data-dir DIR to optnet train"
    )


def download(name: str, urls: Sequence[str], file: RemoteFile, part: Path, progress: bool,
             budget: Budget) -> str:  # fmt: skip
    """Complete ``part`` from the first of ``urls`` that answers; return the URL used."""
    tried: list[tuple[str, str]] = []
    cap = size_cap(file)
    for url in urls:
        try:
            for _ in range(ATTEMPTS):
                before = _size(part)
                if _transfer(url, part, cap, progress, budget):
                    return url
                if _size(part) <= before or budget.expired():
                    break
        except _Unreachable as exc:
            tried.append((url, str(exc)))
            continue
        why = "the overall deadline passed" if budget.expired() else "the transfer stopped"
        raise OptnetError(
            f"the download of {url} stopped at {_size(part)} bytes ({why}); run the same "
            f"command again to resume it from {part}"
        )
    raise _unreachable_error(name, tried)
