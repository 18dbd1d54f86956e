"""Datasets for training (Sec. 7.1): readers for the standard on-disk formats and a registry.

``load_dataset(name, data_dir, device=..., **options)`` returns an :class:`ImageDataset`:

=========================  ====================================================================
``cifar10``, ``cifar100``  official python pickles (``cifar-10-batches-py/``,
                           ``cifar-100-python/``)
``mnist``                  IDX files, gzip or raw
``fashion-mnist``          IDX files (also from Debian's ``/usr/share/datasets/fashion-mnist/``)
``imagefolder``            ``train/`` and ``val/``, one sub-directory per class (ImageNet layout)
``synthetic``              a deterministic, learnable set generated in memory (no files)
=========================  ====================================================================

Without a ``data_dir`` the first four are read from where ``optnet data fetch NAME`` puts them
(:func:`optnet_nets.fetch.dataset_dir`, under ``$XDG_CACHE_HOME/optnet``), except that
Fashion-MNIST is read from Debian's directory when that exists; when they are not there, the
error names the fetch command.

All but ``imagefolder`` live on the device as one uint8 tensor per split and are augmented there
in batches; ``imagefolder`` streams and decodes through a DataLoader with worker processes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from optnet_nets.data import idx
from optnet_nets.data.augment import PAD_FILLS, AugmentSpec
from optnet_nets.data.base import DatasetError, ImageDataset, channel_stats
from optnet_nets.data.cifar import read_cifar10, read_cifar100
from optnet_nets.data.idx import read_idx_dataset
from optnet_nets.data.imagefolder import load_imagefolder
from optnet_nets.data.in_memory import InMemoryDataset, Splits
from optnet_nets.data.synthetic import read_synthetic
from optnet_nets.fetch import SOURCES, fetch_hint, reader_dir
from optnet_theory.errors import OptnetError

__all__ = [
    "DATASET_NAMES",
    "PAD_FILLS",
    "AugmentSpec",
    "DatasetError",
    "ImageDataset",
    "channel_stats",
    "dataset_options",
    "default_data_dir",
    "load_dataset",
]

DATASET_NAMES: tuple[str, ...] = (
    "cifar10",
    "cifar100",
    "mnist",
    "fashion-mnist",
    "imagefolder",
    "synthetic",
)


@dataclass(frozen=True)
class _Reader:
    """An in-memory set: its reader (``read(data_dir, **own options) -> Splits``; no
    ``data_dir`` for ``synthetic``) and the default of its flip augmentation."""

    read: Callable[..., Splits]
    flip: bool = True


#: name -> reader of each in-memory set; they all take :class:`InMemoryDataset`'s options too.
_READERS: dict[str, _Reader] = {
    "cifar10": _Reader(read_cifar10),
    "cifar100": _Reader(read_cifar100),
    "mnist": _Reader(partial(read_idx_dataset, "mnist"), flip=idx.FLIP),
    "fashion-mnist": _Reader(partial(read_idx_dataset, "fashion-mnist"), flip=idx.FLIP),
    "synthetic": _Reader(read_synthetic),
}


def _keyword_options(fn: Callable[..., Any]) -> dict[str, Any]:
    parameters = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def dataset_options(name: str) -> dict[str, Any]:
    """The keyword options ``load_dataset(name, ...)`` accepts, with their defaults."""
    check_name(name)
    if name not in _READERS:
        return _keyword_options(load_imagefolder)
    reader = _READERS[name]
    shared = {**_keyword_options(InMemoryDataset), "flip": reader.flip}
    return {**_keyword_options(reader.read), **shared}


def default_data_dir(name: str) -> Path | None:
    """Where ``name`` is read from when no ``data_dir`` is given (None: it must be given).

    The fetch directory under the default root for the fetchable sets, but Debian's
    Fashion-MNIST directory when it exists.
    """
    check_name(name)
    return reader_dir(name) if name in SOURCES else None


def check_name(name: str) -> str:
    """Return ``name`` if it is a dataset name, else raise an :class:`OptnetError` listing them."""
    if name not in DATASET_NAMES:
        raise OptnetError(f"unknown dataset {name!r}; choose from {', '.join(DATASET_NAMES)}")
    return name


def _device(device: torch.device | str) -> torch.device:
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise OptnetError(f"invalid device {device!r}; use e.g. 'cpu', 'cuda', 'cuda:0'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise OptnetError(f"device {device!r} requested but CUDA is not available; use 'cpu'")
    return resolved


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    device: torch.device | str = "cpu",
    **options: Any,
) -> ImageDataset:
    """Load dataset ``name`` (one of :data:`DATASET_NAMES`) from ``data_dir`` onto ``device``.

    ``options`` are the keyword options of that dataset (:func:`dataset_options` lists them):
    augmentation (``padding=4``, ``flip``, ``pad_fill``), ``limit_train`` / ``limit_test``, and
    per-format ones (``pad_to`` for MNIST-likes, ``coarse_labels`` for CIFAR-100, the sizes of
    the synthetic set, ``image_size`` / ``num_workers`` for image folders). Missing or corrupt
    files raise :class:`DatasetError` naming the file and the expected layout, and for a
    missing fetchable set the ``optnet data fetch`` command that downloads it.
    """
    check_name(name)
    accepted = dataset_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise OptnetError(
            f"dataset {name!r} has no option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
    target = _device(device)
    if name == "synthetic" and data_dir is not None:
        raise OptnetError("dataset 'synthetic' is generated in memory and takes no data_dir")
    if name != "synthetic" and data_dir is None:
        data_dir = default_data_dir(name)
        if data_dir is None:
            raise OptnetError(f"dataset {name!r} needs a data directory (--data-dir)")
    folder = None if data_dir is None else Path(data_dir).expanduser()
    try:
        return _load(name, folder, target, {**accepted, **options})
    except DatasetError as exc:
        hint = None if folder is None else fetch_hint(name, folder)
        if hint is None:
            raise
        raise DatasetError(f"{exc}; {hint}") from exc


def _load(name: str, data_dir: Path | None, device: torch.device,
          options: dict[str, Any]) -> ImageDataset:
    """``name`` read with every option given (its defaults filled in)."""
    if name not in _READERS and data_dir is not None:
        return load_imagefolder(data_dir, device, **options)
    read = _READERS[name].read
    own = {k: options.pop(k) for k in _keyword_options(read)}
    splits = read(**own) if data_dir is None else read(data_dir, **own)
    return InMemoryDataset(splits, device, **options)
