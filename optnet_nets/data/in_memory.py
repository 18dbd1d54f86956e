"""Small datasets held on the training device as one uint8 tensor per split (airbench-style).

CIFAR, MNIST-likes and the synthetic set fit in memory: the whole training split is one uint8
(N, C, H, W) tensor on the device, and a batch is an index gather followed by the batched
normalisation and augmentation of :mod:`optnet_nets.data.augment` on the same device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from optnet_nets.data.augment import (
    AugmentParams,
    AugmentSpec,
    crop_flip,
    normalize,
    sample_params,
)
from optnet_nets.data.base import Batch, ImageDataset, channel_stats
from optnet_nets.data.sampling import epoch_generator, even_subset
from optnet_theory.errors import OptnetError


def _check_split(images: torch.Tensor, labels: torch.Tensor, num_classes: int, what: str) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise OptnetError(
            f"{what} images must be uint8 NCHW, got {images.dtype} {tuple(images.shape)}"
        )
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise OptnetError(
            f"{what}: {images.shape[0]} images but labels of shape {tuple(labels.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise OptnetError(
            f"{what} labels must lie in [0, {num_classes}), got range "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )


@dataclass(frozen=True)
class Splits:
    """What an in-memory reader gives: both splits as (uint8 NCHW images, labels), the class
    names, and ``pad_to`` (zero-pad the stored images to a square of that side, e.g. 32 for the
    28x28 MNIST-likes)."""

    name: str
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    class_names: Sequence[str]
    pad_to: int | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


class InMemoryDataset(ImageDataset):
    """An :class:`ImageDataset` whose splits are uint8 tensors on ``device``.

    The options every in-memory set takes (its reader adds its own, see
    :func:`optnet_nets.data.dataset_options`): augmentation as in Sec. 7.1 (an
    :class:`AugmentSpec` of ``padding``, random crop, ``flip`` and ``pad_fill``), and
    ``limit_train`` / ``limit_test`` (keep that many images, evenly spaced in file order, for
    quick runs). Mean and std are computed from the stored training split (after
    ``limit_train`` and ``pad_to``).
    """

    def __init__(
        self,
        splits: Splits,
        device: torch.device,
        *,
        padding: int = 4,
        flip: bool = True,
        pad_fill: str = "normalized",
        limit_train: int | None = None,
        limit_test: int | None = None,
    ) -> None:
        name, num_classes, pad_to = splits.name, splits.num_classes, splits.pad_to
        augment = AugmentSpec(padding=padding, flip=flip, pad_fill=pad_fill)
        train_x, train_y = splits.train
        test_x, test_y = splits.test
        _check_split(train_x, train_y, num_classes, f"{name} train")
        _check_split(test_x, test_y, num_classes, f"{name} test")
        keep = even_subset(train_x.shape[0], limit_train, "limit_train")
        if keep is not None:
            train_x, train_y = train_x[keep], train_y[keep]
        keep = even_subset(test_x.shape[0], limit_test, "limit_test")
        if keep is not None:
            test_x, test_y = test_x[keep], test_y[keep]
        if pad_to is not None:
            train_x, test_x = _pad_to(train_x, pad_to), _pad_to(test_x, pad_to)
        # On the CPU copy: bincount has no deterministic CUDA kernel.
        mean, std = channel_stats(train_x.cpu())
        self.train_images = train_x.contiguous().to(device)
        self.train_labels = train_y.to(torch.int64).to(device)
        self.test_images = test_x.contiguous().to(device)
        self.test_labels = test_y.to(torch.int64).to(device)
        self.augment = augment
        super().__init__(
            name=name,
            num_classes=num_classes,
            in_channels=train_x.shape[1],
            image_size=(train_x.shape[2], train_x.shape[3]),
            train_size=train_x.shape[0],
            test_size=test_x.shape[0],
            mean=mean,
            std=std,
            device=device,
            class_names=splits.class_names,
        )
        self._scale, self._shift = self.normalizer()

    def epoch_batches(
        self, slices: list[tuple[int, int]], *, epoch: int, seed: int, augment: bool
    ) -> Iterator[Batch]:
        """See :meth:`ImageDataset.epoch_batches`; augmentation per :attr:`augment`."""
        order, params = self.epoch_plan(seed, epoch)
        return self._iterate_train(slices, order, params if augment else None)

    def epoch_plan(self, seed: int, epoch: int) -> tuple[torch.Tensor, AugmentParams]:
        """The epoch's image order and the augmentation of each epoch position, on the device."""
        generator = epoch_generator(seed, epoch)
        order = torch.randperm(self.train_size, generator=generator)
        params = sample_params(self.train_size, self.augment, generator)
        return order.to(self.device), params.to(self.device)

    def _iterate_train(
        self, slices: list[tuple[int, int]], order: torch.Tensor, params: AugmentParams | None
    ) -> Iterator[Batch]:
        padding = self.augment.padding
        size = self.image_size
        for start, stop in slices:
            index = order[start:stop]
            images = self.train_images[index]
            if params is None:
                images = normalize(images, self._scale, self._shift)
            elif self.augment.pad_fill == "pixel":  # pad with black, then normalise
                padded = torch.nn.functional.pad(images, (padding,) * 4)
                images = crop_flip(
                    normalize(padded, self._scale, self._shift), params.select(start, stop), size
                )
            else:  # normalise, then pad with 0 = the mean colour
                padded = torch.nn.functional.pad(
                    normalize(images, self._scale, self._shift), (padding,) * 4
                )
                images = crop_flip(padded, params.select(start, stop), size)
            yield images, self.train_labels[index]

    def test_batches_at(self, slices: list[tuple[int, int]]) -> Iterator[Batch]:
        """See :meth:`ImageDataset.test_batches_at`."""
        for start, stop in slices:
            images = normalize(self.test_images[start:stop], self._scale, self._shift)
            yield images, self.test_labels[start:stop]


def _pad_to(images: torch.Tensor, side: int) -> torch.Tensor:
    height, width = images.shape[2], images.shape[3]
    if isinstance(side, bool) or not isinstance(side, int) or side < max(height, width):
        raise OptnetError(
            f"pad_to must be an integer >= the image side {max(height, width)}, got {side!r}"
        )
    top, left = (side - height) // 2, (side - width) // 2
    return torch.nn.functional.pad(images, (left, side - width - left, top, side - height - top))
