"""The dataset interface shared by every reader: splits, statistics and batch iterators.

A dataset is a train split and a test split of labelled images. :class:`ImageDataset` is the
contract the trainer codes against (Sec. 7.1 of the paper: normalisation by the per-channel
mean and standard deviation of the training images, then augmentation of the training batches).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from optnet_nets.data.sampling import steps_per_epoch, test_slices, train_slices
from optnet_theory.errors import OptnetError

Batch = tuple[torch.Tensor, torch.Tensor]


class DatasetError(OptnetError):
    """A dataset file is missing or corrupt; the message names the file and the expected layout."""


class ImageDataset(abc.ABC):
    """Labelled images in two splits, served as normalised float32 NCHW batches.

    Attributes: ``name``, ``num_classes``, ``in_channels``, ``image_size`` (height, width of
    the batches' images), ``train_size``, ``test_size``, ``mean`` and ``std`` (per channel, in
    [0, 1] pixel units, computed from the training split), ``device`` (where batches are
    delivered) and ``class_names``.

    ``batch_size`` in :meth:`train_batches` and :meth:`test_batches` is the per-rank batch; with
    ``world_size`` ranks one global training batch holds ``batch_size * world_size`` images and
    rank ``r`` receives the ``r``-th contiguous shard of it.
    """

    def __init__(
        self,
        *,
        name: str,
        num_classes: int,
        in_channels: int,
        image_size: tuple[int, int],
        train_size: int,
        test_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device,
        class_names: Sequence[str],
    ) -> None:
        self.name = name
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.train_size = int(train_size)
        self.test_size = int(test_size)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.device = device
        self.class_names = tuple(class_names)

    def steps_per_epoch(self, batch_size: int, world_size: int = 1, drop_last: bool = True) -> int:
        """Optimizer steps in one epoch for a per-rank ``batch_size`` on ``world_size`` ranks."""
        return steps_per_epoch(self.train_size, batch_size, world_size, drop_last)

    def train_batches(
        self,
        batch_size: int,
        *,
        epoch: int,
        seed: int,
        augment: bool = True,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        drop_last: bool = True,
    ) -> Iterator[Batch]:
        """Shuffled, optionally augmented training batches of one epoch.

        The order and the augmentation are functions of ``(seed, epoch)`` and the position in the
        epoch only, so ``start_step=s`` yields exactly batches ``s, s+1, ...`` of the full epoch,
        and the union over ranks of step ``s`` is the same images whatever ``world_size`` is.
        """
        slices = train_slices(self.train_size, batch_size, rank=rank, world_size=world_size,
                              start_step=start_step, drop_last=drop_last)
        return self.epoch_batches(slices, epoch=epoch, seed=seed, augment=augment)

    @abc.abstractmethod
    def epoch_batches(
        self, slices: list[tuple[int, int]], *, epoch: int, seed: int, augment: bool
    ) -> Iterator[Batch]:
        """The training batches at ``slices`` (ranges of positions in epoch ``epoch``'s order,
        :func:`~optnet_nets.data.sampling.train_slices`)."""

    def test_batches(
        self, batch_size: int, *, rank: int = 0, world_size: int = 1
    ) -> Iterator[Batch]:
        """The test split once, in file order, unaugmented; rank ``r`` gets its contiguous shard."""
        slices = test_slices(self.test_size, batch_size, rank=rank, world_size=world_size)
        return self.test_batches_at(slices)

    @abc.abstractmethod
    def test_batches_at(self, slices: list[tuple[int, int]]) -> Iterator[Batch]:
        """The test batches at ``slices`` (ranges of the test split, in file order)."""

    def normalizer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scale, shift)`` of shape (C, 1, 1) on the device: ``x_uint8 * scale + shift``."""
        std = torch.tensor(self.std, dtype=torch.float64)
        mean = torch.tensor(self.mean, dtype=torch.float64)
        scale = (1.0 / (255.0 * std)).to(torch.float32).view(-1, 1, 1).to(self.device)
        shift = (-mean / std).to(torch.float32).view(-1, 1, 1).to(self.device)
        return scale, shift

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, classes={self.num_classes}, "
            f"channels={self.in_channels}, size={self.image_size}, train={self.train_size}, "
            f"test={self.test_size}, device={self.device})"
        )


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of uint8 NCHW ``images``, in [0, 1].

    Computed exactly from a 256-bin histogram per channel, so no float copy of the split is made.
    A constant channel (standard deviation 0) gets one grey level, 1/255, so that normalising by
    it stays finite.
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[0] == 0:
        raise OptnetError(
            f"channel_stats needs a non-empty uint8 NCHW tensor, got {images.dtype} "
            f"of shape {tuple(images.shape)}"
        )
    levels = np.arange(256, dtype=np.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).cpu().numpy()
        p = counts.astype(np.float64) / counts.sum()
        mean = float(p @ levels)
        means.append(mean)
        std = float(np.sqrt(max(p @ (levels - mean) ** 2, 0.0)))
        stds.append(std if std > 0.0 else 1.0 / 255.0)
    return tuple(means), tuple(stds)
