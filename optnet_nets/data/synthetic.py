"""A deterministic, learnable synthetic image set for tests and offline demos.

Each class ``k`` has a smooth random prototype image (a coarse 4x4 random grid per channel,
bilinearly upsampled to the image size, spread over [32, 223]); an image of class ``k`` is its
prototype plus Gaussian pixel noise, clipped to uint8. The label is therefore a function of the
image up to noise, and the classes stay apart under small crops and flips because the prototypes
are smooth. Everything is drawn from one generator seeded by ``seed``.
"""

from __future__ import annotations

import torch

from optnet_nets.data.in_memory import Splits
from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int


def make_prototypes(
    num_classes: int, channels: int, size: tuple[int, int], generator: torch.Generator
) -> torch.Tensor:
    """Smooth class prototypes, float32 (K, C, H, W) with values in [32, 223]."""
    coarse = torch.rand((num_classes, channels, 4, 4), generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=size, mode="bilinear", align_corners=True)
    return 32.0 + 191.0 * smooth


def make_split(
    prototypes: torch.Tensor, n: int, noise: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images (uint8) with uniformly drawn labels: prototype of the label plus noise."""
    labels = torch.randint(0, prototypes.shape[0], (n,), generator=generator)
    images = prototypes[labels] + noise * torch.randn(
        (n, *prototypes.shape[1:]), generator=generator
    )
    return images.round().clamp(0, 255).to(torch.uint8), labels


def read_synthetic(
    *,
    num_train: int = 512,
    num_test: int = 256,
    image_size: int | tuple[int, int] = 32,
    channels: int = 3,
    num_classes: int = 10,
    noise: float = 24.0,
    seed: int = 0,
) -> Splits:
    """The synthetic set: ``num_train`` / ``num_test`` images of ``channels`` x ``image_size``."""
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise OptnetError(
            f"synthetic image_size must be an int or (height, width), got {image_size!r}"
        )
    height, width = (check_int(s, "synthetic image_size", 1) for s in size)
    for what, value in (
        ("num_train", num_train),
        ("num_test", num_test),
        ("channels", channels),
        ("num_classes", num_classes),
    ):
        check_int(value, f"synthetic {what}", 1)
    check_int(seed, "synthetic seed", 0)
    if not isinstance(noise, (int, float)) or not noise >= 0:
        raise OptnetError(f"synthetic noise must be a number >= 0, got {noise!r}")
    generator = torch.Generator().manual_seed(seed)
    prototypes = make_prototypes(num_classes, channels, (height, width), generator)
    return Splits(
        name="synthetic",
        train=make_split(prototypes, num_train, float(noise), generator),
        test=make_split(prototypes, num_test, float(noise), generator),
        class_names=tuple(f"class {k}" for k in range(num_classes)),
    )
