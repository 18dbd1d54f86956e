"""CIFAR-10 and CIFAR-100 from the official python pickles.

Layouts (as downloaded from https://www.cs.toronto.edu/~kriz/cifar.html):

* ``cifar-10-batches-py/``: ``data_batch_1`` .. ``data_batch_5`` (train) and ``test_batch``,
  each a dict with ``b'data'`` (uint8 array, N x 3072: 1024 red, 1024 green, 1024 blue values,
  rows of 32) and ``b'labels'`` (N ints in 0..9); ``batches.meta`` with ``b'label_names'``.
* ``cifar-100-python/``: ``train`` and ``test`` with ``b'data'``, ``b'fine_labels'`` (0..99)
  and ``b'coarse_labels'`` (0..19); ``meta`` with ``b'fine_label_names'`` and
  ``b'coarse_label_names'``.

The pickles are read by an unpickler that only builds dicts, lists, strings, numbers and NumPy
arrays, so a tampered file cannot run code; and since an array pickle names its own shape, every
array it asks for is checked against the largest CIFAR array (50,000 images x 3,072 bytes)
before anything is allocated, as is the file's size before it is read (a regular file only).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optnet_nets.data.base import DatasetError
from optnet_nets.data.in_memory import Splits
from optnet_nets.fetch import CIFAR10_DIR, CIFAR100_DIR

CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_LAYOUT = (
    f"expected {CIFAR10_DIR}/ with {', '.join(CIFAR10_TRAIN)}, test_batch and batches.meta "
    "(the official python version)"
)
CIFAR100_LAYOUT = (
    f"expected {CIFAR100_DIR}/ with train, test and meta (the official python version)"
)

# NumPy's array pickles name these; numpy.core was renamed numpy._core in NumPy 2.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}


#: The largest array of an official CIFAR pickle: the 50,000 training images of 3 x 32 x 32
#: bytes; and the largest file accepted: that, plus room for the labels and names.
MAX_ARRAY_BYTES = 50_000 * 3 * 32 * 32
MAX_FILE_BYTES = MAX_ARRAY_BYTES + (16 << 20)


def _check_array(shape: Any, dtype: Any) -> None:
    """Refuse an array of ``shape`` and ``dtype`` larger than MAX_ARRAY_BYTES, unallocated."""
    try:
        dims = (shape,) if isinstance(shape, int) else tuple(int(d) for d in shape)
        size = np.dtype(dtype).itemsize
    except (TypeError, ValueError) as exc:
        raise pickle.UnpicklingError(f"an array of shape {shape!r}: {exc}") from None
    if any(d < 0 for d in dims) or math.prod(dims) * size > MAX_ARRAY_BYTES:
        raise pickle.UnpicklingError(
            f"an array of shape {dims} and {size}-byte items is larger than any CIFAR array "
            f"({MAX_ARRAY_BYTES} bytes)"
        )


def _new_array(shape: Any, dtype: Any = float, *args: Any) -> np.ndarray:
    """``numpy.ndarray(shape, dtype, ...)``, the size checked first."""
    _check_array(shape, dtype)
    return np.ndarray(shape, dtype, *args)


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """NumPy's pickle constructor ``_reconstruct(ndarray, shape, dtype)``, checked first."""
    if subtype is not _new_array and subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"refusing to reconstruct a {subtype!r}")
    _check_array(shape, dtype)
    return np.ndarray.__new__(np.ndarray, shape, dtype)


#: allowed names that take a shape and allocate it -> their checked stand-ins (the other
#: allowed names only wrap bytes that are already in the file).
_CHECKED = {"_reconstruct": _reconstruct, "ndarray": _new_array}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays of at most MAX_ARRAY_BYTES only."""

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return _CHECKED.get(name) or super().find_class(*target)


def _read_capped(path: Path, layout: str) -> bytes:
    """The bytes of ``path``, a regular file of at most MAX_FILE_BYTES (checked first)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a fifo opens without waiting
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise DatasetError(f"{path} is not a regular file; {layout}")
        if info.st_size > MAX_FILE_BYTES:
            raise DatasetError(f"{path} has {info.st_size} bytes, more than any CIFAR pickle "
                               f"({MAX_FILE_BYTES} at most); {layout}")  # fmt: skip
        return handle.read(MAX_FILE_BYTES + 1)


def read_pickle(path: Path, layout: str) -> dict[bytes, Any]:
    """Load one official CIFAR pickle (a dict) with the restricted unpickler."""
    if not path.exists():
        raise DatasetError(f"missing {path}; {layout}")
    try:
        blob = _read_capped(path, layout)
        obj = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
    ) as exc:
        raise DatasetError(f"{path} is not a readable CIFAR pickle ({exc}); {layout}") from exc
    if not isinstance(obj, dict):
        raise DatasetError(f"{path} holds a {type(obj).__name__}, expected a dict; {layout}")
    return {(k.encode() if isinstance(k, str) else k): v for k, v in obj.items()}


def _field(batch: dict[bytes, Any], key: str, path: Path, layout: str) -> Any:
    if key.encode() not in batch:
        found = ", ".join(sorted(repr(k) for k in batch)) or "none"
        raise DatasetError(f"{path} has no key b'{key}' (keys: {found}); {layout}")
    return batch[key.encode()]


def read_batch(
    path: Path, label_key: str, num_classes: int, layout: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one pickle file."""
    batch = read_pickle(path, layout)
    data = _field(batch, "data", path, layout)
    labels = _field(batch, label_key, path, layout)
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        shape = getattr(data, "shape", None)
        raise DatasetError(
            f"{path}: b'data' must be a uint8 array of shape (N, 3072), got "
            f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}"
        )
    try:
        label_array = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: b'{label_key}' is not a list of integers") from exc
    if label_array.shape != (data.shape[0],):
        raise DatasetError(
            f"{path}: {data.shape[0]} images but b'{label_key}' has shape {label_array.shape}"
        )
    if label_array.size and (label_array.min() < 0 or label_array.max() >= num_classes):
        raise DatasetError(
            f"{path}: b'{label_key}' must lie in 0..{num_classes - 1}, got "
            f"{label_array.min()}..{label_array.max()}"
        )
    images = torch.from_numpy(np.ascontiguousarray(data).reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(label_array)


def _concat(
    parts: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _names(
    meta: dict[bytes, Any], key: str, path: Path, count: int, layout: str
) -> tuple[str, ...]:
    names = _field(meta, key, path, layout)
    if not isinstance(names, (list, tuple)) or len(names) != count:
        raise DatasetError(f"{path}: b'{key}' must list {count} names; {layout}")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def resolve_root(data_dir: Path, folder: str, layout: str) -> Path:
    """``data_dir/folder`` if it exists, else ``data_dir`` itself if it is that folder."""
    if (data_dir / folder).is_dir():
        return data_dir / folder
    if data_dir.is_dir() and data_dir.name == folder:
        return data_dir
    raise DatasetError(f"no {folder}/ under {data_dir}; {layout}")


def read_cifar10(data_dir: Path) -> Splits:
    """CIFAR-10: 50,000 train / 10,000 test 32x32 RGB images in 10 classes (Sec. 7.1)."""
    root = resolve_root(data_dir, CIFAR10_DIR, CIFAR10_LAYOUT)
    train = _concat([read_batch(root / f, "labels", 10, CIFAR10_LAYOUT) for f in CIFAR10_TRAIN])
    test = read_batch(root / "test_batch", "labels", 10, CIFAR10_LAYOUT)
    meta_path = root / "batches.meta"
    names = _names(
        read_pickle(meta_path, CIFAR10_LAYOUT), "label_names", meta_path, 10, CIFAR10_LAYOUT
    )
    return Splits(name="cifar10", train=train, test=test, class_names=names)


def read_cifar100(data_dir: Path, *, coarse_labels: bool = False) -> Splits:
    """CIFAR-100: 100 fine classes, or the 20 superclasses with ``coarse_labels=True``."""
    if not isinstance(coarse_labels, bool):
        raise DatasetError(f"coarse_labels must be True or False, got {coarse_labels!r}")
    root = resolve_root(data_dir, CIFAR100_DIR, CIFAR100_LAYOUT)
    key, classes = ("coarse_labels", 20) if coarse_labels else ("fine_labels", 100)
    train = read_batch(root / "train", key, classes, CIFAR100_LAYOUT)
    test = read_batch(root / "test", key, classes, CIFAR100_LAYOUT)
    meta_path = root / "meta"
    name_key = "coarse_label_names" if coarse_labels else "fine_label_names"
    names = _names(
        read_pickle(meta_path, CIFAR100_LAYOUT), name_key, meta_path, classes, CIFAR100_LAYOUT
    )
    return Splits(name="cifar100", train=train, test=test, class_names=names)
