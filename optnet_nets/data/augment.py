"""Batched augmentation and normalisation of Sec. 7.1, as tensor ops on the batch's device.

The paper (Sec. 7.1, CIFAR): "images are padded by 4 pixels on each side, filled with 0,
resulting in 40x40 images, and then a 32x32 crop is randomly sampled from each image or its
horizontal flip", after normalising by the mean and standard deviation. Every image gets its own
crop offset and flip, applied to the whole batch at once by one gather over the padded batch
(no per-image Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

#: ``"normalized"``: the padding is 0 after normalising, i.e. the training mean colour (the
#: fb.resnet.torch recipe the DenseNet paper trained with). ``"pixel"``: the padding is pixel
#: value 0, black, before normalising (torchvision's ``RandomCrop(padding=4)``).
PAD_FILLS = ("normalized", "pixel")


@dataclass(frozen=True)
class AugmentSpec:
    """Which augmentations a dataset applies to training batches (Sec. 7.1 defaults)."""

    padding: int = 4
    flip: bool = True
    pad_fill: str = "normalized"

    def __post_init__(self) -> None:
        check_int(self.padding, "padding", 0)
        if not isinstance(self.flip, bool):
            raise OptnetError(f"flip must be True or False, got {self.flip!r}")
        if self.pad_fill not in PAD_FILLS:
            raise OptnetError(
                f"pad_fill must be one of {', '.join(PAD_FILLS)}, got {self.pad_fill!r}"
            )


@dataclass(frozen=True)
class AugmentParams:
    """Per-image crop offsets ``dy, dx`` in ``[0, 2p]`` and flip flags, one entry per image."""

    dy: torch.Tensor
    dx: torch.Tensor
    flip: torch.Tensor

    def select(self, start: int, stop: int) -> AugmentParams:
        return AugmentParams(self.dy[start:stop], self.dx[start:stop], self.flip[start:stop])

    def to(self, device: torch.device) -> AugmentParams:
        return AugmentParams(self.dy.to(device), self.dx.to(device), self.flip.to(device))


def sample_params(n: int, spec: AugmentSpec, generator: torch.Generator) -> AugmentParams:
    """Draw crop offsets and flips for ``n`` images from ``generator`` (CPU)."""
    span = 2 * spec.padding + 1
    dy = torch.randint(0, span, (n,), generator=generator)
    dx = torch.randint(0, span, (n,), generator=generator)
    flip = torch.randint(0, 2, (n,), generator=generator).bool()
    if not spec.flip:
        flip = torch.zeros_like(flip)
    return AugmentParams(dy, dx, flip)


def normalize(images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> float32 ``(x/255 - mean)/std``, written as ``x*scale + shift``."""
    return torch.addcmul(shift, images.to(torch.float32), scale)


def crop_flip(padded: torch.Tensor, params: AugmentParams, size: tuple[int, int]) -> torch.Tensor:
    """Crop ``size`` at ``(dy, dx)`` from each padded image and mirror the flipped ones.

    One gather over the flattened spatial axes: output pixel ``(i, j)`` of image ``b`` reads
    padded pixel ``(i + dy_b, j' + dx_b)`` with ``j' = W - 1 - j`` if ``b`` is flipped, else ``j``.
    """
    batch, channels, _, padded_width = padded.shape
    height, width = size
    device = padded.device
    cols = torch.arange(width, device=device).expand(batch, width)
    cols = torch.where(params.flip.to(device).view(batch, 1), width - 1 - cols, cols)
    cols = cols + params.dx.to(device).view(batch, 1)
    rows = torch.arange(height, device=device).view(1, height) + params.dy.to(device).view(batch, 1)
    flat = (rows * padded_width).view(batch, height, 1) + cols.view(batch, 1, width)
    index = flat.view(batch, 1, height * width).expand(batch, channels, height * width)
    return padded.flatten(2).gather(2, index).view(batch, channels, height, width)


def pad_crop_flip(
    images: torch.Tensor, params: AugmentParams, padding: int, fill: float = 0.0
) -> torch.Tensor:
    """Pad by ``padding`` with ``fill``, crop back to the input size at ``(dy, dx)``, mirror.

    Equivalent to ``F.pad(x, (p,)*4, value=fill)[b, :, dy:dy+H, dx:dx+W]`` followed by
    ``.flip(-1)`` where flipped, for every image ``b`` of the (B, C, H, W) batch at once.
    """
    padded = torch.nn.functional.pad(images, (padding,) * 4, value=fill)
    return crop_flip(padded, params, (images.shape[2], images.shape[3]))
