"""Download, verify and unpack the small datasets of Sec. 7.1: CIFAR-10/100, MNIST, Fashion-MNIST.

Length note: over 400 lines because the published sources table, the resumable transfer, the
checksum and the safe unpacking are one transaction (download to a temporary file, verify,
extract, rename); split, each piece would have to re-check what the previous one guaranteed.

``fetch(name, root)`` leaves the data where the readers look for it (:func:`dataset_dir`):
``ROOT/cifar-10-batches-py/``, ``ROOT/cifar-100-python/`` (the official archives, unpacked),
``ROOT/mnist/`` and ``ROOT/fashion-mnist/`` (the four official ``.gz`` IDX files, kept
compressed: the IDX reader decompresses them). Every step is safe to interrupt:

1. each file is downloaded to ``ROOT/.NAME.FILE.part``; a part left by an interrupted run is
   continued with an HTTP ``Range`` request (a server that ignores Range restarts it);
2. its MD5 is checked against the published checksum; on a mismatch every part of the dataset
   is deleted and nothing is installed;
3. the files are unpacked (archives) or moved (IDX files) into a temporary directory
   ``ROOT/.NAME-*``, whose dataset folder is then renamed into place in one step.

The default root, :func:`default_root`, is ``$XDG_CACHE_HOME/optnet`` (or ``~/.cache/optnet``);
it is also where :func:`optnet_nets.data.load_dataset` looks when no directory is given.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from optnet_theory.errors import OptnetError

#: Folder names of the official layouts (the readers in ``optnet_nets.data`` import these).
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
#: Where Debian's ``dataset-fashion-mnist`` package puts the Fashion-MNIST IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_CHUNK = 1 << 16
#: Transfers tried per file while each one makes progress (a cut connection is resumed).
ATTEMPTS = 3


@dataclass(frozen=True)
class RemoteFile:
    """One published file and its published MD5 checksum."""

    name: str
    md5: str


@dataclass(frozen=True)
class Source:
    """Where a dataset is published and how it lands under the root.

    ``mirrors`` are base URLs tried in order (each file is ``mirror + file name``); with
    ``archive`` the single file is a ``.tar.gz`` holding ``folder/``, otherwise the files
    themselves are placed in ``folder/``.
    """

    folder: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    archive: bool
    published: str


def _idx_files(md5s: tuple[str, str, str, str]) -> tuple[RemoteFile, ...]:
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    return tuple(RemoteFile(n, m) for n, m in zip(names, md5s, strict=True))


#: Published constants: the official download locations and the MD5 checksums their publishers
#: (and torchvision, which checks the same files) give. Sources: CIFAR
#: https://www.cs.toronto.edu/~kriz/cifar.html; MNIST http://yann.lecun.com/exdb/mnist/ (no
#: longer served; torchvision's mirror https://ossci-datasets.s3.amazonaws.com/mnist/ is tried
#: first); Fashion-MNIST https://github.com/zalandoresearch/fashion-mnist (README, "Get the Data").
SOURCES: dict[str, Source] = {
    "cifar10": Source(
        folder=CIFAR10_DIR,
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        archive=True,
        published="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    "cifar100": Source(
        folder=CIFAR100_DIR,
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(RemoteFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
        archive=True,
        published="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    "mnist": Source(
        folder="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        files=_idx_files(
            (
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3",
                "ec29112dd5afa0611ce80d1b7f02629c",
            )
        ),
        archive=False,
        published="http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": Source(
        folder="fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=_idx_files(
            (
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            )
        ),
        archive=False,
        published="https://github.com/zalandoresearch/fashion-mnist",
    ),
}


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


def source(name: str) -> Source:
    """The published source of dataset ``name``, or an error listing the fetchable names."""
    if name not in SOURCES:
        raise OptnetError(f"cannot fetch {name!r}; fetchable datasets: {', '.join(SOURCES)}")
    return SOURCES[name]


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

def fetch_hint(name: str, data_dir: str | os.PathLike[str]) -> str | None:
    """The command that would put ``name`` where ``data_dir`` points, if it is not there yet.

    None when ``name`` is not fetchable or its folder already exists (a corrupt copy is the
    reader's error to report, not a missing one).
    """
    if name not in SOURCES:
        return None
    where = Path(data_dir).expanduser()
    folder = SOURCES[name].folder
    root = where.parent if where.name == folder else where
    target = root / folder
    if target.exists():
        return None
    command = f"optnet data fetch {name}"
    if root != default_root():
        command += f" --root {shlex.quote(str(root))}"
    then = "" if where == target else f", then pass --data-dir {shlex.quote(str(target))}"
    return f"download it with: {command}{then}"


def parse_md5(name: str, items: Sequence[str]) -> dict[str, str]:
    """``--md5`` values: ``HEX`` (datasets of one file) or ``FILE=HEX`` -> {file: md5}."""
    files = [f.name for f in source(name).files]
    checksums: dict[str, str] = {}
    for item in items:
        file, sep, digest = item.rpartition("=")
        if not sep:
            if len(files) != 1:
                raise OptnetError(
                    f"{name} has {len(files)} files; give --md5 FILE=HEX for each of "
                    f"{', '.join(files)}"
                )
            file = files[0]
        if file not in files:
            raise OptnetError(f"--md5 {item!r}: {name} has no file {file!r}; its files: "
                              f"{', '.join(files)}")
        digest = digest.lower()
        if len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
            raise OptnetError(f"--md5 {item!r}: an MD5 checksum is 32 hexadecimal digits")
        checksums[file] = digest
    return checksums


def file_md5(path: Path) -> str:
    """Hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _Unreachable(Exception):
    """The server could not be asked for the file (no connection, HTTP error)."""


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _open(url: str, offset: int, timeout: float) -> Any:
    headers = {"User-Agent": "optnet-data-fetch"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part already holds the whole file
            exc.close()
            return None
        raise _Unreachable(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _Unreachable(str(exc.reason)) from exc
    except (OSError, HTTPException) as exc:
        raise _Unreachable(str(exc) or type(exc).__name__) from exc


def _range_start(response: Any) -> int | None:
    """Start of a 206 answer's ``Content-Range: bytes START-END/TOTAL`` (None if unreadable)."""
    unit, _, span = str(response.headers.get("Content-Range", "")).partition(" ")
    start = span.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _transfer(url: str, part: Path, progress: bool, timeout: float) -> bool:
    """One request for the rest of ``part``; True when the file is complete."""
    offset = _size(part)
    response = _open(url, offset, timeout)
    if response is None:
        return True
    with response:
        if offset and (response.status != 206 or _range_start(response) != offset):
            offset = 0  # Range ignored or answered elsewhere: start over
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        with tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=url.rpartition("/")[2], disable=not progress, leave=False) as bar:
            received = _append(response, part, offset, bar)
    return received is not None and (total is None or offset + received >= total)


def _append(response: Any, part: Path, offset: int, bar: tqdm) -> int | None:
    """Write the response body to ``part`` from ``offset``; None if the connection broke."""
    received = 0
    try:
        with part.open("ab" if offset else "wb") as out:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, HTTPException):  # connection lost: keep what arrived
                    return None
                if not chunk:
                    return received
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


def _download(name: str, bases: Sequence[str], file: str, part: Path, progress: bool,
              timeout: float) -> str:
    """Complete ``part`` from the first base URL that answers; return the URL used."""
    tried: list[tuple[str, str]] = []
    for base in bases:
        url = base + file
        try:
            for _ in range(ATTEMPTS):
                before = _size(part)
                if _transfer(url, part, progress, timeout):
                    return url
                if _size(part) <= before:
                    break
        except _Unreachable as exc:
            tried.append((url, str(exc)))
            continue
        raise OptnetError(
            f"the download of {url} stopped at {_size(part)} bytes; run the same command again "
            f"to resume it from {part}"
        )
    raise _unreachable_error(name, tried)


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


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def fetch(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    md5: dict[str, str] | None = None,
    progress: bool = False,
    timeout: float = 60.0,
) -> FetchResult:
    """Download ``name`` into ``root`` (default :func:`default_root`), verified and unpacked.

    ``url`` replaces the official base URLs by a mirror holding the same file names; ``md5``
    ({file: hex}, see :func:`parse_md5`) replaces their checksums. Nothing is downloaded when
    the dataset's folder already exists.
    """
    spec = source(name)
    base_dir = Path(root if root is not None else default_root()).expanduser()
    target = base_dir / spec.folder
    start = time.monotonic()
    if target.exists():
        return FetchResult(name, str(base_dir), str(target), True, False, (), 0,
                           time.monotonic() - start)  # fmt: skip
    expected = {f.name: f.md5 for f in spec.files} | (md5 or {})
    bases = (url if url.endswith("/") else url + "/",) if url else spec.mirrors
    try:
        base_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptnetError(f"cannot create {base_dir}: {exc.strerror or exc}") from exc
    parts = [base_dir / f".{name}.{f.name}.part" for f in spec.files]
    fetched = []
    for file, part in zip(spec.files, parts, strict=True):
        resumed = _size(part)
        used = _download(name, bases, file.name, part, progress, timeout)
        found = file_md5(part)
        if found != expected[file.name]:
            _remove(parts)
            raise OptnetError(
                f"{used} has MD5 {found}, expected {expected[file.name]}; removed the download "
                f"(a mirror with other files needs --md5)"
            )
        fetched.append(FetchedFile(file.name, used, found, _size(part), resumed))
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base_dir))
    try:
        if spec.archive:
            _extract(parts[0], staging, spec.folder)
        else:
            (staging / spec.folder).mkdir()
            for file, part in zip(spec.files, parts, strict=True):
                os.replace(part, staging / spec.folder / file.name)
        os.replace(staging / spec.folder, target)
    except OptnetError:
        _remove(parts)
        raise
    except OSError as exc:
        raise OptnetError(f"cannot install {name} into {target}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove(parts)
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
