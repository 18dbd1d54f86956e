"""ADMM-Net and DMRNet: two-path stages of (20), Sec. 6.

Each stage runs (20) over pairs of residual branches (T'_k, T_k), each conv-BN-ReLU-conv-BN:

    x'_{k+1} = T'_k(x'_k) + sum_{t<=k} alpha_{k+1,t} x'_t + sum_{t<=k} beta_{k+1,t} x_t,
    x_{k+1}  = T_k(x_k)   + (the same sums),

begun at x'_0 = x_0 (the stem's output), with the sums from t = 0 so that Table 3's setting
alpha = beta = 1/2 on the newest pair gives DMRNet's merge-and-run [36] from the first block
on. ADMM-Net learns every alpha_{k+1,t}, beta_{k+1,t} (shared by both paths, as in (20)),
starting from DMRNet's values. Each path of ``admmnet{D}`` / ``dmrnet{D}`` has the layout of
CIFAR ResNet-D (widths 16/32/64, option-A shortcuts applied to both paths' input states); the
classifier reads the mean of the two paths. T uses Phi (``activation``, the paper's ReLU by
default).
"""

from __future__ import annotations

from torch import Tensor, nn

from optnet_nets.activation import DEFAULT_ACTIVATION, make_activation
from optnet_nets.blocks import CoefficientModule, Learnable, combine, map_states
from optnet_nets.models.layers import OptionAShortcut, ResidualBranch, cifar_stem, init_weights
from optnet_nets.models.two_state import TwoStateNet
from optnet_nets.tables import Spec, admm_table, dmrnet_coefficient
from optnet_theory.errors import OptnetError

__all__ = ["AdmmNet", "AdmmStage", "cifar_admmnet"]


class AdmmStage(CoefficientModule):
    """One stage of (20); ``forward(x_dash, x)`` returns the last pair (x'_K, x_K).

    ``blocks`` alternate T'_0, T_0, T'_1, T_1, ...; the merge coefficients alpha_{k+1,t},
    beta_{k+1,t} are the entries of :func:`~optnet_nets.tables.admm_table`.
    """

    def __init__(
        self, blocks: list[nn.Module], alpha: Spec, beta: Spec, shortcut: nn.Module | None
    ) -> None:
        table = admm_table(len(blocks) // 2, alpha, beta)
        super().__init__(
            table,
            2,
            equation="(20) x'[k+1] = T'(x'[k]) + S, x[k+1] = T(x[k]) + S, "
            "S = sum_t alpha[k+1,t] x'[t] + beta[k+1,t] x[t]",
        )
        self.blocks = nn.ModuleList(blocks)
        self.shortcut = shortcut
        #: per layer k: alpha_{k+1,0}, beta_{k+1,0}, ..., alpha_{k+1,k}, beta_{k+1,k} (compiled)
        self.merge = [[self.compiled(b) for _, b in row.skips] for row in table[::2]]

    def forward(self, x_dash: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        states: list[Tensor] = []  # x'_0, x_0, ..., x'_k, x_k at the stage's size
        for k, (T_dash, T) in enumerate(zip(self.blocks[0::2], self.blocks[1::2], strict=True)):
            t_dash, t = T_dash(x_dash), T(x)  # the first pair may down-sample
            if k == 0 and self.shortcut is not None:
                x_dash, x = map_states(self.shortcut, [x_dash, x])
            states += [x_dash, x]
            # S_k = sum_{t<=k} alpha_{k+1,t} x'_t + beta_{k+1,t} x_t
            weights = [self.value(c) for c in self.merge[k]]
            merged = combine(list(zip(states, weights, strict=True)))
            if merged is None:  # every coefficient a fixed zero
                x_dash, x = t_dash, t
            else:
                x_dash, x = t_dash + merged, t + merged  # x'_{k+1}, x_{k+1}
        return x_dash, x


class AdmmNet(TwoStateNet):
    """stem -> stages of (20) on (x'_k, x_k), x'_0 = x_0 -> mean of both paths -> classifier."""

    def readout(self, s: Tensor, x: Tensor) -> Tensor:
        """The mean (x'_K + x_K) / 2 of the two paths."""
        return (s + x) / 2


def cifar_admmnet(
    depth: int,
    num_classes: int,
    in_channels: int,
    learnable: bool = True,
    activation: object = DEFAULT_ACTIVATION,
) -> AdmmNet:
    """ADMM-Net (learnable merge coefficients) or DMRNet (fixed 1/2), paths of ResNet-depth."""
    if (depth - 2) % 6:
        raise OptnetError(f"ADMM-Net/DMRNet depth must be 6n+2, got {depth}")
    n = (depth - 2) // 6
    coefficient: Spec = (
        (lambda k1, t: Learnable(dmrnet_coefficient(k1, t))) if learnable else dmrnet_coefficient
    )
    phi = make_activation(activation)
    stem = cifar_stem(in_channels, activation=phi)
    stages, in_width = [], 16
    for width, stride in zip([16, 32, 64], [1, 2, 2], strict=True):
        blocks: list[nn.Module] = [
            ResidualBranch(in_width if i < 2 else width, width, stride if i < 2 else 1, phi)
            for i in range(2 * n)
        ]
        shortcut = OptionAShortcut(in_width, width, stride) if stride != 1 else None
        stages.append(AdmmStage(blocks, coefficient, coefficient, shortcut))
        in_width = width
    model = AdmmNet(stem, stages, 64, num_classes)
    init_weights(model)
    return model
