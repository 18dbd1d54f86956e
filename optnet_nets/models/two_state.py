"""The trunk shared by the two-state networks of (16) and (20): stem, stages, pooled head.

Each stage of HB-Net/ResNet (16) and of ADMM-Net/DMRNet (20) carries a pair of states, both
begun at the stem's output (x_{-1} = x_0 for (16), x'_0 = x_0 for (20)); the classifier reads
:meth:`TwoStateNet.readout` of the last pair after global average pooling. With
``momentum="restart"`` every stage begins that way (its first state set to its second), as if
each stage were a network of its own; ``"carry"`` passes the pair on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from optnet_nets.blocks import MOMENTUM_CHOICES
from optnet_theory.errors import OptnetError

__all__ = ["TwoStateNet"]


class TwoStateNet(nn.Module):
    """stem -> stages mapping (s, x) to the next pair -> readout -> pooling -> classifier."""

    def __init__(
        self,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        width: int,
        classes: int,
        momentum: str = "carry",
    ):
        super().__init__()
        if momentum not in MOMENTUM_CHOICES:
            raise OptnetError(f"momentum={momentum!r}; accepted: {', '.join(MOMENTUM_CHOICES)}")
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, classes)
        self.momentum = momentum

    def readout(self, s: Tensor, x: Tensor) -> Tensor:
        """What the classifier sees of the last pair: x_K (override to combine the two)."""
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        s = x  # both states begin at the stem's output
        for stage in self.stages:
            if self.momentum == "restart":
                s = x
            s, x = stage(s, x)
        return self.fc(torch.flatten(self.pool(self.readout(s, x)), 1))

    def extra_repr(self) -> str:
        return f"momentum={self.momentum!r}"
