"""DenseNet and AGD-Net: dense blocks of (18), in the practical form (21), Sec. 6.2.

A dense block runs (18) with T = :class:`~optnet_nets.models.layers.DenseLayer`:

    z_{k+1} = sum_j alpha_{k+1}^j T(z_j) + beta (z_k - sum_j h_{k+1}^j z_j)        (21)

and outputs the concatenation [z_0, ..., z_K] as DenseNet does. DenseNet (19) is alpha = 1,
beta = 0 (Table 3); AGD-Net is alpha learnable (initialised at 1), beta =
``paper_values.AGDNET_BETA`` and h from (5) (``optnet_theory.nesterov_h``).

The beta-term needs equal channel counts: it runs over the z_j with the growth rate's channel
count, i.e. z_1..z_k, and z_0 too only when its channel count equals the growth rate. Its
j = k - 0 term at k = 0 vanishes anyway (h_{1,0} = 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from optnet_nets.blocks import Learnable, Multistep, Spec, agd_beta, dense_table
from optnet_nets.models.layers import DenseLayer, Transition, imagenet_stem, init_weights
from optnet_theory import nesterov_h
from optnet_theory.errors import OptnetError

__all__ = ["DenseBlock", "DenseNet", "cifar_densenet", "imagenet_densenet"]


class DenseBlock(Multistep):
    """A dense block of (18)/(21); ``forward(z_0)`` returns the concatenation of z_0..z_K."""

    def __init__(
        self,
        in_channels: int,
        n_layers: int,
        growth_rate: int,
        bottleneck: int | None,
        alpha: Spec,
        beta: float,
        memory_efficient: bool,
    ) -> None:
        layers = [
            DenseLayer(
                [in_channels] + [growth_rate] * k, growth_rate, bottleneck, memory_efficient
            )
            for k in range(n_layers)
        ]
        if beta == 0.0:
            table = dense_table(n_layers, alpha, 0.0, lambda k: ())
        else:
            first = 0 if in_channels == growth_rate else 1
            table = dense_table(
                n_layers, alpha, agd_beta(beta, nesterov_h(n_layers)),
                lambda k: range(first, k + 1),
            )
        super().__init__(
            layers,
            table,
            1,
            equation="(21) z[k+1] = sum_j alpha_j T(z[j]) + beta (z[k] - sum_j h[k+1][j] z[j])",
        )
        self.beta = beta
        self.out_channels = in_channels + n_layers * growth_rate

    def forward(self, z0: Tensor) -> Tensor:  # type: ignore[override]
        return torch.cat(self.run((z0,)), 1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f"\nbeta={self.beta:g}"


class DenseNet(nn.Module):
    """stem -> dense blocks with transitions -> BN-ReLU -> global pooling -> classifier."""

    def __init__(
        self,
        stem: nn.Module,
        blocks: Sequence[DenseBlock],
        transitions: Sequence[nn.Module],
        classes: int,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.transitions = nn.ModuleList(transitions)
        width = blocks[-1].out_channels
        self.norm = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return self.fc(torch.flatten(self.pool(self.relu(self.norm(x))), 1))


def _alpha(alpha: float, learnable: bool) -> Spec:
    return (lambda k1, j: Learnable(alpha)) if learnable else float(alpha)


def _build(
    stem: nn.Module,
    width: int,
    layers: list[int],
    growth_rate: int,
    bottleneck: int | None,
    compression: float,
    classes: int,
    alpha: float,
    learnable_alpha: bool,
    beta: float,
    memory_efficient: bool,
) -> DenseNet:
    blocks, transitions = [], []
    for i, n in enumerate(layers):
        block = DenseBlock(
            width, n, growth_rate, bottleneck, _alpha(alpha, learnable_alpha), beta,
            memory_efficient,
        )
        blocks.append(block)
        width = block.out_channels
        if i < len(layers) - 1:
            out = int(width * compression)
            transitions.append(Transition(width, out))
            width = out
    model = DenseNet(stem, blocks, transitions, classes)
    init_weights(model)
    return model


def cifar_densenet(
    depth: int,
    num_classes: int,
    in_channels: int,
    bc: bool = False,
    growth_rate: int = 12,
    alpha: float = 1.0,
    learnable_alpha: bool = False,
    beta: float = 0.0,
    memory_efficient: bool = False,
) -> DenseNet:
    """Huang et al.'s CIFAR DenseNet (3 blocks, 16 initial channels) or DenseNet-BC."""
    per_block = 6 if bc else 3
    if (depth - 4) % per_block:
        raise OptnetError(f"CIFAR DenseNet{'-BC' if bc else ''} depth must be {per_block}n+4")
    width = 2 * growth_rate if bc else 16
    stem = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
    return _build(
        stem, width, [(depth - 4) // per_block] * 3, growth_rate,
        4 * growth_rate if bc else None, 0.5 if bc else 1.0, num_classes,
        alpha, learnable_alpha, beta, memory_efficient,
    )


def imagenet_densenet(
    layers: list[int],
    num_classes: int,
    in_channels: int,
    growth_rate: int = 32,
    alpha: float = 1.0,
    learnable_alpha: bool = False,
    beta: float = 0.0,
    memory_efficient: bool = False,
) -> DenseNet:
    """Huang et al.'s ImageNet DenseNet-BC (DenseNet-121: 6, 12, 24, 16; k = 32)."""
    stem = imagenet_stem(in_channels, 2 * growth_rate)
    return _build(
        stem, 2 * growth_rate, layers, growth_rate, 4 * growth_rate, 0.5, num_classes,
        alpha, learnable_alpha, beta, memory_efficient,
    )
