"""Whether a fetched dataset's folder is there and checks out, and the manifest that says so.

A fetch writes ``.optnet-fetch.json`` into the folder it installs: the size and MD5 of every
file it put there (for CIFAR, the files unpacked from the verified archive). A folder with a
manifest checks out when every file listed is there with its size and MD5. A folder without one
(copied in by hand, or from an older optnet) checks out when the files the readers need are
there: for the IDX sets with the expected MD5 (the published one, or ``--md5``), for CIFAR, whose
published checksum is the archive's, present and not empty (reported as not MD5-verified).
An empty folder is no dataset (it is filled); anything else is a one-line error naming the
first file that does not check out.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from optnet_nets.fetch.sources import Source
from optnet_theory.atomic import write_text
from optnet_theory.errors import OptnetError

__all__ = ["MANIFEST_NAME", "check_installed", "file_md5", "write_manifest"]

MANIFEST_NAME = ".optnet-fetch.json"


def file_md5(path: Path) -> str:
    """Hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, name: str, urls: list[str]) -> None:
    """Record the size and MD5 of every file under ``folder`` (written atomically)."""
    files = {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size,
                                              "md5": file_md5(path)}
        for path in sorted(folder.rglob("*")) if path.is_file()
    }  # fmt: skip
    record = {"dataset": name, "urls": urls, "files": files}
    write_text(folder / MANIFEST_NAME, json.dumps(record, indent=1) + "\n")


def _problem(path: Path, size: int | None, md5: str | None) -> str | None:
    """Why ``path`` is not the file expected (None when it is)."""
    if not path.is_file():
        return f"{path.name} is missing"
    if size is not None and path.stat().st_size != size:
        return f"{path.name} has {path.stat().st_size} bytes, expected {size}"
    if size is None and path.stat().st_size == 0:
        return f"{path.name} is empty"
    if md5 is not None and file_md5(path) != md5:
        return f"{path.name} has MD5 {file_md5(path)}, expected {md5}"
    return None


def _from_manifest(target: Path) -> str | None:
    try:
        record = json.loads((target / MANIFEST_NAME).read_text())
        files = record["files"]
        checks = [(target / rel, int(v["bytes"]), str(v["md5"])) for rel, v in files.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return f"its manifest {MANIFEST_NAME} cannot be read"
    return next((p for p in (_problem(*c) for c in checks) if p), None)


def check_installed(spec: Source, target: Path, expected: dict[str, str]) -> bool | None:
    """None when ``target`` is absent or empty (fetch it); True when it checks out with MD5s,
    False when only by presence (CIFAR without a manifest); else an :class:`OptnetError`."""
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return None
    if not target.is_dir():
        problem: str | None = f"{target} is a file"
    elif (target / MANIFEST_NAME).exists():
        problem = _from_manifest(target)
    else:
        md5s = {} if spec.archive else expected
        problem = next((p for p in (_problem(target / n, None, md5s.get(n))
                                    for n in spec.contents) if p), None)  # fmt: skip
    if problem is not None:
        raise OptnetError(
            f"{target} exists but does not check out ({problem}); move it away (or remove it) "
            "and fetch again, or pass --root DIR for another place"
        )
    return (target / MANIFEST_NAME).exists() or not spec.archive
