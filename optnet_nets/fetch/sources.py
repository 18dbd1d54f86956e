"""Where the small datasets of Sec. 7.1 are published: URLs, file names, sizes, MD5 checksums.

Published constants only, each with its source: the official download locations and the file
sizes and MD5 checksums their publishers (and torchvision, which checks the same files) give.
CIFAR: https://www.cs.toronto.edu/~kriz/cifar.html; MNIST: http://yann.lecun.com/exdb/mnist/
(no longer served; torchvision's mirror https://ossci-datasets.s3.amazonaws.com/mnist/ is tried
first); Fashion-MNIST: https://github.com/zalandoresearch/fashion-mnist (README, "Get the
Data"). ``contents`` names the files the readers of :mod:`optnet_nets.data` need in the
dataset's folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optnet_theory.errors import OptnetError

__all__ = ["CIFAR100_DIR", "CIFAR10_DIR", "SOURCES", "RemoteFile", "Source", "parse_md5",
           "source"]  # fmt: skip

#: Folder names of the official layouts (the readers in ``optnet_nets.data`` import these).
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, published MD5 checksum and size in bytes."""

    name: str
    md5: str
    size: int


@dataclass(frozen=True)
class Source:
    """Where a dataset is published and how it lands under the root.

    ``mirrors`` are base URLs tried in order (each file is ``mirror + file name``); with
    ``archive`` the single file is a ``.tar.gz`` holding ``folder/``, otherwise the files
    themselves are placed in ``folder/``. ``contents``: the files the readers need there.
    """

    folder: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    archive: bool
    published: str
    contents: tuple[str, ...]


_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _idx_source(folder: str, mirrors: tuple[str, ...], published: str,
                checksums: tuple[tuple[str, int], ...]) -> Source:
    """An IDX set (MNIST's layout): the four files of ``_IDX_NAMES`` placed as they are, with
    their published (MD5, size in bytes) in that order."""
    files = tuple(RemoteFile(n, md5, size)
                  for n, (md5, size) in zip(_IDX_NAMES, checksums, strict=True))
    return Source(folder, mirrors, files, archive=False, published=published, contents=_IDX_NAMES)


def _cifar_source(folder: str, archive: str, checksum: tuple[str, int],
                  contents: tuple[str, ...]) -> Source:
    """A CIFAR set: one ``.tar.gz`` from the Toronto page, with its published (MD5, size)."""
    return Source(folder, ("https://www.cs.toronto.edu/~kriz/",), (RemoteFile(archive, *checksum),),
                  archive=True, published="https://www.cs.toronto.edu/~kriz/cifar.html",
                  contents=contents)


SOURCES: dict[str, Source] = {
    "cifar10": _cifar_source(CIFAR10_DIR, "cifar-10-python.tar.gz",
                             ("c58f30108f718f92721af3b95e74349a", 170498071),
                             contents=(*CIFAR10_TRAIN, "test_batch", "batches.meta")),
    "cifar100": _cifar_source(CIFAR100_DIR, "cifar-100-python.tar.gz",
                              ("eb9058c3a382ffc7106e4002c42a8d85", 169001437),
                              contents=("train", "test", "meta")),
    "mnist": _idx_source(
        "mnist",
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        published="http://yann.lecun.com/exdb/mnist/",
        checksums=(("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
                   ("d53e105ee54ea40749a09fcbcd1e9432", 28881),
                   ("9fb629c4189551a2d022fa330f9573f3", 1648877),
                   ("ec29112dd5afa0611ce80d1b7f02629c", 4542)),
    ),
    "fashion-mnist": _idx_source(
        "fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        published="https://github.com/zalandoresearch/fashion-mnist",
        checksums=(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
                   ("25c81989df183df01b3e8a0aad5dffbe", 29515),
                   ("bef4ecab320f06d8554ea6380940ec79", 4422102),
                   ("bb300cfdad3c16e7a12a480ee83cd310", 5148)),
    ),
}


def source(name: str) -> Source:
    """The published source of dataset ``name``, or an error listing the fetchable names."""
    if name not in SOURCES:
        raise OptnetError(f"cannot fetch {name!r}; fetchable datasets: {', '.join(SOURCES)}")
    return SOURCES[name]


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
