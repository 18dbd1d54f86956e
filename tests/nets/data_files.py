"""Builders of tiny datasets in the official on-disk formats, for the data tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_pickle(path: Path, obj: dict, py2: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if py2:
        path.write_bytes(py2_pickle(obj))
        return
    with path.open("wb") as handle:
        pickle.dump(obj, handle, protocol=2)


def _py2_str(raw: bytes) -> bytes:
    if len(raw) < 256:
        return b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
    return b"T" + struct.pack("<I", len(raw)) + raw  # BINSTRING


def _py2_int(n: int) -> bytes:
    return b"K" + bytes([n]) if n < 256 else b"J" + struct.pack("<i", n)


def _py2_value(value: object) -> bytes:
    if isinstance(value, bytes):
        return _py2_str(value)
    if isinstance(value, int):
        return _py2_int(value)
    if isinstance(value, list):
        return b"](" + b"".join(_py2_value(v) for v in value) + b"e"  # EMPTY_LIST MARK APPENDS
    assert isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 2
    # numpy.core.multiarray._reconstruct(ndarray, (0,), 'b'), then BUILD with the array state
    # (version, shape, dtype('u1'), fortran, raw bytes), as Python 2 pickled NumPy arrays.
    dtype = (
        b"cnumpy\ndtype\n" + _py2_str(b"u1") + _py2_int(0) + _py2_int(1) + b"\x87R"
        + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNN" + b"J\xff\xff\xff\xff" * 2
        + _py2_int(0) + b"tb"
    )  # fmt: skip
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        + _py2_int(0) + b"\x85" + _py2_str(b"b") + b"\x87R"
        + b"(" + _py2_int(1) + _py2_int(value.shape[0]) + _py2_int(value.shape[1]) + b"\x86"
        + dtype + b"\x89" + _py2_str(value.tobytes()) + b"tb"
    )  # fmt: skip


def py2_pickle(obj: dict[bytes, object]) -> bytes:
    """Protocol-2 bytes as Python 2's cPickle wrote the official CIFAR files (str = bytes)."""
    items = b"".join(_py2_str(k) + _py2_value(v) for k, v in obj.items())
    return b"\x80\x02}(" + items + b"u."


def cifar_batch(rng: np.random.Generator, n: int, label_keys: dict[str, int]) -> dict:
    """One official-format batch dict: b'data' uint8 (n, 3072) and a list per label key."""
    batch = {
        b"batch_label": b"testing batch",
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    for key, classes in label_keys.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, classes, n)]
    return batch


def write_cifar10(root: Path, per_batch: int = 6, seed: int = 0, py2: bool = False) -> dict:
    """``root/cifar-10-batches-py`` with 5 train batches, a test batch and batches.meta."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    batches = [cifar_batch(rng, per_batch, {"labels": 10}) for _ in range(5)]
    for i, batch in enumerate(batches, start=1):
        write_pickle(folder / f"data_batch_{i}", batch, py2)
    test = cifar_batch(rng, per_batch + 1, {"labels": 10})
    write_pickle(folder / "test_batch", test, py2)
    names = [f"name{k}".encode() for k in range(10)]
    write_pickle(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072}, py2)
    return {
        "train_data": np.concatenate([b[b"data"] for b in batches]),
        "train_labels": np.concatenate([b[b"labels"] for b in batches]),
        "test_data": test[b"data"],
        "test_labels": np.asarray(test[b"labels"]),
        "folder": folder,
    }


def write_cifar100(root: Path, n_train: int = 20, n_test: int = 9, seed: int = 1) -> dict:
    """``root/cifar-100-python`` with train, test and meta."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    keys = {"fine_labels": 100, "coarse_labels": 20}
    train, test = cifar_batch(rng, n_train, keys), cifar_batch(rng, n_test, keys)
    write_pickle(folder / "train", train)
    write_pickle(folder / "test", test)
    write_pickle(
        folder / "meta",
        {
            b"fine_label_names": [f"fine{k}".encode() for k in range(100)],
            b"coarse_label_names": [f"coarse{k}".encode() for k in range(20)],
        },
    )
    return {"train": train, "test": test, "folder": folder}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dims, then data."""
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_dir(
    folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = True, seed: int = 2
) -> dict:
    """The four MNIST-style IDX files (``.gz`` or raw) with random 28x28 images."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        blob = idx_bytes(array)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(blob))
        else:
            (folder / stem).write_bytes(blob)
    return arrays


def write_image_folder(
    root: Path,
    classes: tuple[str, ...] = ("cat", "dog", "emu"),
    per_class: tuple[int, int] = (3, 2),
    size: tuple[int, int] = (8, 8),
    seed: int = 3,
) -> dict:
    """``root/train/<class>/*.png`` and ``root/val/<class>/*.png`` with random RGB pixels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "val": []}
    for split, count in zip(("train", "val"), per_class, strict=True):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                array = rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)
                path = folder / f"{i:03d}.png"
                Image.fromarray(array).save(path)
                pixels[split].append((name, array))
    return pixels
