"""The trunks the stages of Sec. 6 run on: stem, the T modules of each stage, shortcuts, head.

A trunk is the part of a network that is not its recurrence: the CIFAR ResNet of He et al.
(widths 16/32/64, option-A shortcuts, :func:`cifar_trunk`) and the ImageNet ResNet (widths
64..512, option-B projections, :func:`imagenet_trunk`), with T = conv-BN-Phi-conv-BN
(:class:`~optnet_nets.models.layers.ResidualBranch`) and a stride-2 first layer per stage. A
stage with ``paths`` T's per layer (ADMM-Net's two, (20)) gets ``paths`` modules per layer, in
order T'_0, T_0, T'_1, T_1, ...; the first ``paths`` of a stage may down-sample. The classifier
is built last, so every family draws its random initial weights in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from optnet_nets.models.activation import ActivationFactory
from optnet_nets.models.layers import (
    OptionAShortcut,
    Projection,
    ResidualBranch,
    cifar_stem,
    imagenet_stem,
)
from optnet_theory.errors import OptnetError

__all__ = ["CIFAR_DEPTHS", "Trunk", "cifar_layers", "cifar_trunk", "imagenet_trunk"]

#: the registered depths 6n+2 of the families on the CIFAR ResNet trunk.
CIFAR_DEPTHS = (20, 32, 44, 56, 110)


@dataclass
class Trunk:
    """The modules of a trunk: ``blocks[s]`` and ``shortcuts[s]`` of stage s, the classifier."""

    stem: nn.Module
    blocks: list[list[nn.Module]]
    shortcuts: list[nn.Module | None]
    fc: nn.Linear


def _trunk(
    stem: nn.Module,
    widths: list[int],
    depths: list[int],
    strides: list[int],
    in_width: int,
    shortcut: type[nn.Module],
    phi: ActivationFactory,
    paths: int,
    classes: int,
) -> Trunk:
    blocks: list[list[nn.Module]] = []
    shortcuts: list[nn.Module | None] = []
    for width, depth, stride in zip(widths, depths, strides, strict=True):
        blocks.append([
            ResidualBranch(in_width if i < paths else width, width, stride if i < paths else 1, phi)
            for i in range(paths * depth)
        ])
        shortcuts.append(
            shortcut(in_width, width, stride) if (stride != 1 or in_width != width) else None
        )
        in_width = width
    return Trunk(stem, blocks, shortcuts, nn.Linear(in_width, classes))


def cifar_layers(depth: int) -> int:
    """n of a CIFAR ResNet-(6n+2): the layers of each of its 3 stages; else a one-line error."""
    if (depth - 2) % 6:
        raise OptnetError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    return (depth - 2) // 6


def cifar_trunk(
    n: int, in_channels: int, classes: int, phi: ActivationFactory, paths: int = 1
) -> Trunk:
    """CIFAR ResNet-(6n+2)'s trunk [6]: 3 stages of n layers, widths 16/32/64, option A."""
    stem = cifar_stem(in_channels, activation=phi)
    return _trunk(stem, [16, 32, 64], [n] * 3, [1, 2, 2], 16, OptionAShortcut, phi, paths,
                  classes)


def imagenet_trunk(
    depths: list[int], in_channels: int, classes: int, phi: ActivationFactory
) -> Trunk:
    """ImageNet ResNet's trunk with basic blocks [6] (34 layers: 3, 4, 6, 3), option B."""
    stem = imagenet_stem(in_channels, 64, phi)
    return _trunk(stem, [64, 128, 256, 512], depths, [1, 2, 2, 2], 64, Projection, phi, 1,
                  classes)
