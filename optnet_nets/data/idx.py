"""MNIST and Fashion-MNIST in the IDX format, gzip-compressed or raw.

An IDX file is a big-endian header -- two zero bytes, a type code (0x08: unsigned byte) and the
number of dimensions -- then one 32-bit big-endian size per dimension, then the data. As
32-bit magic numbers: 2051 for the image files (uint8, 3 dims: N, rows, cols) and 2049 for
the label files (uint8, 1 dim: N). Files may carry a ``.gz`` suffix (detected by content).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from optnet_nets.data.base import DatasetError
from optnet_nets.data.in_memory import Splits

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
#: Debian's ``dataset-fashion-mnist`` package installs the IDX files here.

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
LAYOUT = (
    "expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
    "t10k-labels-idx1-ubyte (each optionally .gz) in the directory or its raw/ subdirectory"
)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one uint8 IDX file whose 32-bit magic number must be ``magic`` (2051 or 2049)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path} is not a valid gzip file ({exc})") from exc
    if len(blob) < 4:
        raise DatasetError(f"{path} is truncated: {len(blob)} bytes, no IDX header")
    found = int.from_bytes(blob[:4], "big")
    if found != magic:
        raise DatasetError(
            f"{path} has magic number {found}, expected {magic} "
            f"({'uint8 images, 3 dims' if magic == IMAGES_MAGIC else 'uint8 labels, 1 dim'})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DatasetError(f"{path} is truncated inside its IDX header ({len(blob)} bytes)")
    dims = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(blob) != expected:
        raise DatasetError(
            f"{path} has {len(blob)} bytes but its header {dims} needs {expected}"
            + (" (truncated)" if len(blob) < expected else " (trailing data)")
        )
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims)


def find_idx_file(data_dir: Path, split: str, kind: str) -> Path:
    """The IDX file of ``split`` (train/test) and ``kind`` (images/labels) under ``data_dir``."""
    prefix = _SPLIT_PREFIX[split]
    ndim = 3 if kind == "images" else 1
    stems = (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte")
    for folder in (data_dir, data_dir / "raw"):
        for stem in stems:
            for suffix in ("", ".gz"):
                path = folder / f"{stem}{suffix}"
                if path.is_file():
                    return path
    raise DatasetError(f"missing {stems[0]}[.gz] in {data_dir}; {LAYOUT}")


def read_split(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, rows, cols) uint8 and labels (N,) int64 of one split."""
    images_path = find_idx_file(data_dir, split, "images")
    labels_path = find_idx_file(data_dir, split, "labels")
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= 10:
        raise DatasetError(f"{labels_path} has label {labels.max()}, expected 0..9")
    return (
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels.astype(np.int64)),
    )


#: Flipping is off by default for these sets (a mirrored digit is a different glyph);
#: ``flip=True`` turns it on. Padding and random crop are on, as for CIFAR (Sec. 7.1).
FLIP = False


def read_idx_dataset(name: str, data_dir: Path, *, pad_to: int | None = None) -> Splits:
    """MNIST or Fashion-MNIST (10 classes, 1 channel, 28x28; ``pad_to=32`` pads to 32x32)."""
    if not data_dir.is_dir():
        raise DatasetError(f"{name} directory {data_dir} does not exist; {LAYOUT}")
    return Splits(
        name=name,
        train=read_split(data_dir, "train"),
        test=read_split(data_dir, "test"),
        class_names=FASHION_MNIST_CLASSES if name == "fashion-mnist" else MNIST_CLASSES,
        pad_to=pad_to,
    )
