"""Image folders in the ImageNet layout, decoded with Pillow through a torch DataLoader.

Layout: ``DATA_DIR/train/<class>/<image>`` and ``DATA_DIR/val/<class>/<image>``; classes are
the sub-directories of ``train/`` in sorted order, and ``val/`` uses the same class names.
Files with an image suffix (``.jpg .jpeg .png .ppm .pgm .bmp .tif .tiff .webp``, any case) are
read; other files are ignored.

Sec. 7.1 (ImageNet): "a 224x224 crop is randomly sampled from the images or horizontal flips",
and a single centre crop for validation. Training images get torchvision's ``RandomResizedCrop``
recipe (area 8%-100%, aspect 3/4-4/3, 10 tries then a centre crop) and a flip with probability
1/2; validation images are resized so the shorter side is ``resize`` (256) and centre-cropped to
``image_size`` (224). Both are implemented here with Pillow, so torchvision is not needed; the
random draws of image ``j`` of an epoch come from a generator seeded by ``(seed, epoch, j)``,
so batches are reproducible whatever the worker count and resumable at any step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from optnet_nets.data.augment import normalize
from optnet_nets.data.base import Batch, DatasetError, ImageDataset, channel_stats
from optnet_nets.data.sampling import epoch_permutation, even_subset
from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")
LAYOUT = (
    "expected train/ and val/ in the data directory, each with one sub-directory of images per "
    "class (the ImageNet layout; a flat ImageNet val/ must first be sorted into class folders)"
)
_SCALE = (0.08, 1.0)
_RATIO = (3.0 / 4.0, 4.0 / 3.0)


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OptnetError("dataset 'imagefolder' needs Pillow: pip install pillow") from exc
    return Image


def scan_split(
    split_dir: Path, classes: Sequence[str] | None = None
) -> tuple[list[str], list[int], list[str]]:
    """Image paths, labels and class names of one split directory.

    With ``classes`` given (the training classes), the split's class directories must be among
    them; every class directory must hold at least one image.
    """
    if not split_dir.is_dir():
        raise DatasetError(f"missing directory {split_dir}; {LAYOUT}")
    found = sorted(
        e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith(".")
    )
    if not found:
        raise DatasetError(f"{split_dir} has no class sub-directories; {LAYOUT}")
    names = list(found) if classes is None else list(classes)
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DatasetError(
            f"{split_dir} has class directories not in train/: {', '.join(unknown[:5])}; {LAYOUT}"
        )
    index = {name: k for k, name in enumerate(names)}
    paths: list[str] = []
    labels: list[int] = []
    for name in found:
        class_dir = split_dir / name
        files = sorted(
            e.path
            for e in os.scandir(class_dir)
            if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)
        )
        if not files:
            raise DatasetError(
                f"class directory {class_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})"
            )
        paths.extend(files)
        labels.extend([index[name]] * len(files))
    return paths, labels, names


def random_resized_box(
    width: int, height: int, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """``(left, top, w, h)`` of RandomResizedCrop (torchvision): area 8-100%, ratio 3/4-4/3."""
    area = width * height
    log_ratio = (math.log(_RATIO[0]), math.log(_RATIO[1]))
    for _ in range(10):
        target = area * rng.uniform(*_SCALE)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
    ratio = width / height
    if ratio < _RATIO[0]:
        w, h = width, int(round(width / _RATIO[0]))
    elif ratio > _RATIO[1]:
        w, h = int(round(height * _RATIO[1])), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def center_box(
    width: int, height: int, resize: int, size: int
) -> tuple[float, float, float, float]:
    """Source box of 'shorter side to ``resize``, centre crop ``size``', in source pixels."""
    scale = resize / min(width, height)
    new_w, new_h = width * scale, height * scale
    left = round((new_w - size) / 2) / scale
    top = round((new_h - size) / 2) / scale
    return left, top, left + size / scale, top + size / scale


@dataclass(frozen=True)
class _Failure:
    """An image a worker could not decode; raised as a DatasetError in the main process."""

    path: str
    reason: str


class FolderSplit(Dataset):
    """Decodes one image per item. Items are ``(file index, epoch position or -1)``."""

    def __init__(
        self,
        paths: Sequence[str],
        labels: Sequence[int],
        *,
        image_size: int,
        resize: int,
        flip: bool,
        seed: int = 0,
        epoch: int = 0,
    ) -> None:
        self.paths = list(paths)
        self.labels = list(labels)
        self.image_size = image_size
        self.resize = resize
        self.flip = flip
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int] | _Failure:
        index, position = item
        path = self.paths[index]
        image_module = _pil()
        try:
            with image_module.open(path) as opened:
                image = opened.convert("RGB")
            if position < 0:
                box = center_box(image.width, image.height, self.resize, self.image_size)
                image = image.resize((self.image_size,) * 2, image_module.BILINEAR, box=box)
            else:
                rng = np.random.default_rng([self.seed, self.epoch, position])
                left, top, w, h = random_resized_box(image.width, image.height, rng)
                image = image.resize(
                    (self.image_size,) * 2,
                    image_module.BILINEAR,
                    box=(left, top, left + w, top + h),
                )
                if self.flip and rng.integers(0, 2):
                    image = image.transpose(image_module.FLIP_LEFT_RIGHT)
            pixels = np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as exc:
            return _Failure(path, f"{type(exc).__name__}: {exc}")
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous(), self.labels[index]


class _BatchPlan:
    """The items of each batch, built lazily: ``(file index, epoch position or -1)``.

    ``order`` maps epoch positions to file indices (None: the identity, for the test split);
    the position is passed on only when the batch is augmented.
    """

    def __init__(
        self, slices: list[tuple[int, int]], order: torch.Tensor | None, augment: bool
    ) -> None:
        self.slices = slices
        self.order = order
        self.augment = augment

    def __len__(self) -> int:
        return len(self.slices)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        return (self[step] for step in range(len(self)))

    def __getitem__(self, step: int) -> list[tuple[int, int]]:
        start, stop = self.slices[step]
        files = range(start, stop) if self.order is None else self.order[start:stop].tolist()
        positions = range(start, stop) if self.augment else [-1] * (stop - start)
        return list(zip(files, positions, strict=True))


def _collate(items: list[Any]) -> tuple[torch.Tensor, torch.Tensor] | _Failure:
    for item in items:
        if isinstance(item, _Failure):
            return item
    if not items:
        return torch.empty((0, 3, 0, 0), dtype=torch.uint8), torch.empty(0, dtype=torch.int64)
    images = torch.stack([image for image, _ in items])
    return images, torch.tensor([label for _, label in items], dtype=torch.int64)


class ImageFolderDataset(ImageDataset):
    """Train/val image folders, streamed through a DataLoader with ``num_workers`` processes."""

    def __init__(
        self,
        root: Path,
        device: torch.device,
        *,
        image_size: int,
        resize: int,
        flip: bool,
        num_workers: int,
        limit_train: int | None,
        limit_test: int | None,
        stats_samples: int,
    ) -> None:
        train_paths, train_labels, classes = scan_split(root / "train")
        test_paths, test_labels, _ = scan_split(root / "val", classes)
        keep = even_subset(len(train_paths), limit_train, "limit_train")
        if keep is not None:
            train_paths = [train_paths[i] for i in keep]
            train_labels = [train_labels[i] for i in keep]
        keep = even_subset(len(test_paths), limit_test, "limit_test")
        if keep is not None:
            test_paths, test_labels = [test_paths[i] for i in keep], [test_labels[i] for i in keep]
        self.train_split = FolderSplit(
            train_paths, train_labels, image_size=image_size, resize=resize, flip=flip
        )
        self.test_split = FolderSplit(
            test_paths, test_labels, image_size=image_size, resize=resize, flip=flip
        )
        self.num_workers = num_workers
        self.root = root
        keep = even_subset(len(train_paths), stats_samples, "stats_samples")
        sample = torch.arange(len(train_paths)) if keep is None else torch.tensor(keep)
        plan = _BatchPlan([(0, len(sample))], sample, augment=False)
        images = torch.cat([x for x, _ in self._load(self.train_split, plan, normalise=False)])
        mean, std = channel_stats(images)
        super().__init__(
            name="imagefolder",
            num_classes=len(classes),
            in_channels=3,
            image_size=(image_size, image_size),
            train_size=len(train_paths),
            test_size=len(test_paths),
            mean=mean,
            std=std,
            device=device,
            class_names=classes,
        )
        self._scale, self._shift = self.normalizer()

    def _load(
        self,
        split: FolderSplit,
        batches: _BatchPlan,
        normalise: bool = True,
    ) -> Iterator[Batch]:
        if not batches:
            return
        loader = DataLoader(
            split,
            batch_sampler=batches,
            num_workers=self.num_workers,
            collate_fn=_collate,
            pin_memory=normalise and self.device.type == "cuda",
        )
        for batch in loader:
            if isinstance(batch, _Failure):
                raise DatasetError(f"cannot decode image {batch.path} ({batch.reason})")
            images, labels = batch
            if not normalise:
                yield images, labels
                continue
            images = images.to(self.device, non_blocking=True)
            if images.shape[0] == 0:
                images = images.new_empty((0, 3, *self.image_size))
            yield normalize(images, self._scale, self._shift), labels.to(self.device)

    def epoch_batches(
        self, slices: list[tuple[int, int]], *, epoch: int, seed: int, augment: bool
    ) -> Iterator[Batch]:
        """See :meth:`ImageDataset.epoch_batches`; ``augment=False`` gives the val transform."""
        order = epoch_permutation(self.train_size, seed, epoch)
        split = FolderSplit(
            self.train_split.paths,
            self.train_split.labels,
            image_size=self.image_size[0],
            resize=self.train_split.resize,
            flip=self.train_split.flip,
            seed=seed,
            epoch=epoch,
        )
        batches = _BatchPlan(slices, order, augment)
        return self._load(split, batches)

    def test_batches_at(self, slices: list[tuple[int, int]]) -> Iterator[Batch]:
        """See :meth:`ImageDataset.test_batches_at`: resize + centre crop, file order."""
        return self._load(self.test_split, _BatchPlan(slices, None, False))


def load_imagefolder(
    data_dir: Path,
    device: torch.device,
    *,
    image_size: int = 224,
    resize: int = 256,
    flip: bool = True,
    num_workers: int | None = None,
    limit_train: int | None = None,
    limit_test: int | None = None,
    stats_samples: int = 512,
) -> ImageFolderDataset:
    """Image folders (ImageNet layout) at ``data_dir``; see the module docstring.

    ``num_workers`` defaults to ``min(8, cpu count)``; mean and std are computed from
    ``stats_samples`` training images spread evenly over the file list (centre crops).
    """
    _pil()
    check_int(image_size, "imagefolder image_size", 1)
    check_int(resize, "imagefolder resize", image_size)
    check_int(stats_samples, "imagefolder stats_samples", 1)
    if not isinstance(flip, bool):
        raise OptnetError(f"imagefolder flip must be True or False, got {flip!r}")
    workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
    check_int(workers, "imagefolder num_workers", 0)
    if not data_dir.is_dir():
        raise DatasetError(f"imagefolder directory {data_dir} does not exist; {LAYOUT}")
    return ImageFolderDataset(
        data_dir,
        device,
        image_size=image_size,
        resize=resize,
        flip=flip,
        num_workers=workers,
        limit_train=limit_train,
        limit_test=limit_test,
        stats_samples=stats_samples,
    )
