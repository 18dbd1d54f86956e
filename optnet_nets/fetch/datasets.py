"""Download, verify and unpack the small datasets of Sec. 7.1: CIFAR-10/100, MNIST, Fashion-MNIST.

``fetch(name, root)`` leaves the data where the readers look for it (:func:`dataset_dir`):
``ROOT/cifar-10-batches-py/``, ``ROOT/cifar-100-python/`` (the official archives, unpacked),
``ROOT/mnist/`` and ``ROOT/fashion-mnist/`` (the four official ``.gz`` IDX files, kept
compressed: the IDX reader decompresses them). One fetch at a time works in a root: the root's
lock (:mod:`optnet_nets.folders.lock`) is taken first, and a second fetch waits for it (within
its deadline) and then finds the data present. Every step is safe to interrupt:

1. a staging folder left by a killed fetch is removed;
2. each file is downloaded to ``ROOT/.NAME.FILE.part`` (:mod:`optnet_nets.fetch.transfer`:
   resumed with a Range request, capped at the published size plus a margin, within a per-read
   timeout and an overall deadline);
3. its MD5 is checked against the published checksum; on a mismatch every part of the dataset
   is deleted and nothing is installed;
4. the files are unpacked (archives) or moved (IDX files) into a temporary directory
   ``ROOT/.NAME-*`` with a manifest of what was installed (``.optnet-fetch.json``: each
   file's size and MD5), whose dataset folder is then renamed into place in one step.

"Already present" is said only of a folder that checks out (:mod:`optnet_nets.fetch.check`); an
empty folder is filled, any other folder that does not check out is a one-line error.

The default root, :func:`default_root`, is ``$XDG_CACHE_HOME/optnet`` (or ``~/.cache/optnet``);
it is also where :func:`optnet_nets.data.load_dataset` looks when no directory is given.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tarfile
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from optnet_nets.fetch.check import MANIFEST_NAME, check_installed, file_md5, write_manifest
from optnet_nets.fetch.sources import (
    CIFAR10_DIR,
    CIFAR100_DIR,
    SOURCES,
    RemoteFile,
    Source,
    parse_md5,
    source,
)
from optnet_nets.fetch.transfer import Budget, download, file_urls
from optnet_nets.folders.lock import folder_lock
from optnet_theory.errors import OptnetError

__all__ = [
    "CIFAR100_DIR",
    "CIFAR10_DIR",
    "FASHION_MNIST_DIR",
    "MANIFEST_NAME",
    "SOURCES",
    "FetchResult",
    "FetchedFile",
    "RemoteFile",
    "Source",
    "dataset_dir",
    "default_root",
    "fetch",
    "fetch_hint",
    "file_md5",
    "parse_md5",
    "reader_dir",
    "source",
]

#: Where Debian's ``dataset-fashion-mnist`` package puts the Fashion-MNIST IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Default overall deadline of one fetch, seconds (CIFAR's 170 MB at 50 kB/s is an hour).
DEADLINE = 7200.0


@dataclass(frozen=True)
class FetchedFile:
    """One downloaded file: its URL, verified MD5, size, and the part found on disk at start."""

    name: str
    url: str
    md5: str
    bytes: int
    partial_at_start: int


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did. ``path`` is the directory to pass as ``--data-dir``."""

    name: str
    root: str
    path: str
    already_present: bool
    md5_verified: bool
    files: tuple[FetchedFile, ...]
    bytes: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_root() -> Path:
    """``$XDG_CACHE_HOME/optnet``, or ``~/.cache/optnet`` if it is unset or relative (XDG)."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "optnet"


def dataset_dir(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The directory ``fetch(name, root)`` fills: the one to read ``name`` from."""
    return Path(root if root is not None else default_root()).expanduser() / source(name).folder


def reader_dir(name: str) -> Path:
    """Where the readers look for the fetchable set ``name`` when no ``data_dir`` is given:
    :func:`dataset_dir` under the default root, but Debian's Fashion-MNIST directory when it
    exists."""
    if name == "fashion-mnist" and FASHION_MNIST_DIR.is_dir():
        return FASHION_MNIST_DIR
    return dataset_dir(name)


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def fetch_hint(name: str, data_dir: str | os.PathLike[str]) -> str | None:
    """The command that would put ``name`` where ``data_dir`` points, if it is not there yet.

    None when ``name`` is not fetchable or its folder already holds something (a corrupt copy
    is the reader's error to report, not a missing one).
    """
    if name not in SOURCES:
        return None
    where = Path(data_dir).expanduser()
    folder = SOURCES[name].folder
    root = where.parent if where.name == folder else where
    target = root / folder
    if target.exists() and not _empty_dir(target):
        return None
    command = f"optnet data fetch {name}"
    if root != default_root():
        command += f" --root {shlex.quote(str(root))}"
    then = "" if where == target else f", then pass --data-dir {shlex.quote(str(target))}"
    return f"download it with: {command}{then}"


def _check_members(archive: Path, members: list[tarfile.TarInfo], folder: str) -> None:
    for member in members:
        parts = PurePosixPath(member.name).parts
        if (
            not (member.isfile() or member.isdir())
            or member.name.startswith("/")
            or not parts
            or parts[0] != folder
            or ".." in parts
        ):
            raise OptnetError(
                f"{archive.name} holds {member.name!r}; expected only files and folders "
                f"under {folder}/"
            )


def _extract(archive: Path, into: Path, folder: str) -> None:
    """Unpack a ``.tar.gz`` whose members all lie under ``folder/`` into ``into``."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            _check_members(archive, members, folder)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(into, members)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise OptnetError(f"{archive.name} is not a readable .tar.gz ({exc})") from exc
    if not (into / folder).is_dir():
        raise OptnetError(f"{archive.name} holds no {folder}/ folder")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _clear_staging(base_dir: Path, name: str) -> None:
    """Remove staging folders ``.NAME-*`` left by a killed fetch (we hold the root's lock)."""
    for stale in base_dir.glob(f".{name}-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def _install(name: str, spec: Source, base_dir: Path, parts: list[Path],
             fetched: list[FetchedFile]) -> Path:  # fmt: skip
    """Unpack or move the verified parts into a staging folder, write the manifest, rename."""
    target = base_dir / spec.folder
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base_dir))
    try:
        if spec.archive:
            _extract(parts[0], staging, spec.folder)
        else:
            (staging / spec.folder).mkdir()
            for file, part in zip(spec.files, parts, strict=True):
                os.replace(part, staging / spec.folder / file.name)
        write_manifest(staging / spec.folder, name, [f.url for f in fetched])
        if _empty_dir(target):
            target.rmdir()
        os.replace(staging / spec.folder, target)
    except OptnetError:
        _remove(parts)
        raise
    except OSError as exc:
        raise OptnetError(f"cannot install {name} into {target}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove(parts)
    return target


def fetch(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    md5: dict[str, str] | None = None,
    progress: bool = False,
    timeout: float = 60.0,
    deadline: float = DEADLINE,
) -> FetchResult:
    """Download ``name`` into ``root`` (default :func:`default_root`), verified and unpacked.

    ``url`` replaces the official locations by a mirror: its base URL or one file's full URL;
    ``md5`` ({file: hex}, see :func:`parse_md5`) replaces their checksums. ``timeout`` bounds
    each read, ``deadline`` the whole fetch (waiting for another fetch in the same root
    included), in seconds. Nothing is downloaded when the dataset's folder checks out.
    """
    spec = source(name)
    start = time.monotonic()
    budget = Budget(timeout, start + deadline)
    urls = file_urls(spec, url)
    base_dir = Path(root if root is not None else default_root()).expanduser()
    expected = {f.name: f.md5 for f in spec.files} | (md5 or {})

    def say(line: str) -> None:
        print(f"optnet data fetch: {line}", file=sys.stderr, flush=True)

    with folder_lock(base_dir, "optnet data fetch", wait=deadline, say=say):
        target = base_dir / spec.folder
        present = check_installed(spec, target, expected)
        if present is not None:
            return FetchResult(name, str(base_dir), str(target), True, present, (), 0,
                               time.monotonic() - start)  # fmt: skip
        _clear_staging(base_dir, name)
        parts = [base_dir / f".{name}.{f.name}.part" for f in spec.files]
        fetched = []
        for file, part in zip(spec.files, parts, strict=True):
            resumed = part.stat().st_size if part.is_file() else 0
            used = download(name, urls[file.name], file, part, progress, budget)
            found = file_md5(part)
            if found != expected[file.name]:
                _remove(parts)
                raise OptnetError(
                    f"{used} has MD5 {found}, expected {expected[file.name]}; removed the "
                    "download (a mirror with other files needs --md5)"
                )
            fetched.append(FetchedFile(file.name, used, found, part.stat().st_size, resumed))
        target = _install(name, spec, base_dir, parts, fetched)
    return FetchResult(
        name=name,
        root=str(base_dir),
        path=str(target),
        already_present=False,
        md5_verified=True,
        files=tuple(fetched),
        bytes=sum(f.bytes for f in fetched),
        seconds=time.monotonic() - start,
    )
