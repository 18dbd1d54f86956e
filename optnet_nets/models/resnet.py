"""ResNet and HB-Net: stages of the heavy-ball recurrence (16), Sec. 6.1, Tables 4 and 5.

One network class serves both: each stage runs (16), x_{k+1} = act(T_k(x_k) + beta1 x_k +
beta2 x_{k-1}) with T = conv-BN-Phi-conv-BN, Phi the paper's ReLU unless ``activation``
names another (:mod:`optnet_nets.activation`). ResNet [6] is beta1 = 1, beta2 = 0 with
act = Phi (``activate_sum=True``, Table 3); HB-Net is beta1 = 1, beta2 = -1 with no activation
after the sum, as the equation of Sec. 6.1 is printed (and as makes the layer invertible). Both
have the same modules, so their state_dicts are interchangeable. ``structure="17"`` runs the
Nesterov-style (17) over the same modules instead: x_{k+1} = act(T_k(y_k) + y_k),
y_k = beta1 x_k + beta2 x_{k-1}, by default with (12)'s momentum beta1 = 1 + beta_k,
beta2 = -beta_k of (3), counted from each stage's first layer.

Down-sampling (Sec. 6, "Block Based Structure"): the first layer of a stage has stride 2 and
the stage's shortcut (option A on CIFAR, option B on ImageNet) maps BOTH x_k and x_{k-1} to the
new size, as one map (one BN pass for option B). x_{-1} = x_0 at the stem. ``momentum``:
``"carry"`` (the default) passes x_{k-1} on from one stage to the next; ``"restart"`` sets
x_{-1} = x_0 again at each stage, so each stage runs its own (16) from zero momentum -- what
"the formulations (16), (17) and (18) are used in each block" reads as.
"""

from __future__ import annotations

from torch import Tensor, nn

from optnet_nets.activation import DEFAULT_ACTIVATION, ActivationFactory, make_activation
from optnet_nets.blocks import (
    Learnable,
    Multistep,
    Spec,
    heavy_ball_table,
    nesterov_residual_table,
)
from optnet_nets.models.layers import (
    OptionAShortcut,
    Projection,
    ResidualBranch,
    cifar_stem,
    imagenet_stem,
    init_weights,
)
from optnet_nets.models.two_state import TwoStateNet
from optnet_nets.reversible import hb_reversible
from optnet_theory.coefficients import nesterov_beta
from optnet_theory.errors import OptnetError

__all__ = ["HeavyBallNet", "HeavyBallStage", "cifar_resnet", "imagenet_resnet"]


class HeavyBallStage(Multistep):
    """One stage of (16); ``forward(x_prev, x)`` returns the last two states (x_{K-1}, x_K).

    ``reversible=True`` (HB-Net only: beta1 = 1, beta2 = -1, no activation after the sum)
    runs the first,
    possibly down-sampling, layer normally and the rest through
    :func:`optnet_nets.reversible.hb_reversible`, which rebuilds the states in backward instead
    of storing them. The modules are the same either way.
    """

    def __init__(
        self,
        blocks: list[nn.Module],
        beta1: Spec,
        beta2: Spec,
        shortcut: nn.Module | None,
        activation: nn.Module | None,
        reversible: bool = False,
        structure: str = "16",
    ) -> None:
        if structure == "16":
            table = heavy_ball_table(len(blocks), beta1, beta2)
            equation = "(16) x[k+1] = act(T(x[k]) + beta1 x[k] + beta2 x[k-1])"
        else:
            table = nesterov_residual_table(len(blocks), beta1, beta2)
            equation = "(17) x[k+1] = act(T(y) + y), y = beta1 x[k] + beta2 x[k-1]"
        super().__init__(
            blocks, table, 2, shortcut=shortcut, activation=activation, equation=equation
        )
        if reversible and (
            structure != "16" or beta1 != 1.0 or beta2 != -1.0 or activation is not None
        ):
            raise OptnetError(
                "reversible=True needs the invertible HB layer of Sec. 6.1: structure='16', "
                "fixed beta1=1, beta2=-1 and activate_sum=False"
            )
        self.reversible = reversible

    def forward(self, x_prev: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        if not self.reversible or len(self.blocks) == 1:
            x_prev, x = self.run((x_prev, x), last=2)
            return x_prev, x
        x_prev, x = self.run((x_prev, x), n_steps=1, last=2)
        return hb_reversible(self.blocks[1:], x_prev, x)

    def extra_repr(self) -> str:
        return super().extra_repr() + f"\nreversible={self.reversible}"


class HeavyBallNet(TwoStateNet):
    """stem -> stages of (16) on (x_{k-1}, x_k), x_{-1} = x_0 -> pooling of x_K -> classifier.

    ``momentum="restart"`` begins every stage at x_{-1} = x_0 (see the module docstring).
    """


def _coefficients(
    structure: str, depth: int, beta1: float | None, beta2: float | None, learnable: bool
) -> tuple[Spec, Spec]:
    """beta1, beta2 of one stage: the values given, or the structure's defaults.

    (16): 1 and -1 (HB-Net). (17): (12)'s 1 + beta_k and -beta_k, beta_k of (3). With
    ``learnable`` each layer learns its own pair, starting there (the LM-ResNet idea).
    """
    momentum = nesterov_beta(depth) if structure == "17" else [0.0] * (depth + 1)

    def spec(value: float | None, default: float, sign: float) -> Spec:
        def at(k: int) -> float:
            if value is not None:
                return float(value)
            return default + sign * float(momentum[k])

        if learnable:
            return lambda k: Learnable(at(k))
        if value is not None or structure == "16":
            return at(0)
        return at

    return spec(beta1, 1.0, 1.0), spec(beta2, -1.0 if structure == "16" else 0.0, -1.0)


def _stages(
    widths: list[int],
    depths: list[int],
    strides: list[int],
    in_width: int,
    shortcut: type[nn.Module],
    beta1: float | None,
    beta2: float | None,
    learnable: bool,
    phi: ActivationFactory,
    activate_sum: bool,
    reversible: bool,
    structure: str,
) -> list[HeavyBallStage]:
    stages = []
    for width, depth, stride in zip(widths, depths, strides, strict=True):
        blocks: list[nn.Module] = [
            ResidualBranch(in_width if i == 0 else width, width, stride if i == 0 else 1, phi)
            for i in range(depth)
        ]
        sc = shortcut(in_width, width, stride) if (stride != 1 or in_width != width) else None
        b1, b2 = _coefficients(structure, depth, beta1, beta2, learnable)
        act = phi() if activate_sum else None
        stages.append(HeavyBallStage(blocks, b1, b2, sc, act, reversible, structure))
        in_width = width
    return stages


def cifar_resnet(
    depth: int,
    num_classes: int,
    in_channels: int,
    beta1: float | None = None,
    beta2: float | None = None,
    learnable: bool = False,
    activation: object = DEFAULT_ACTIVATION,
    activate_sum: bool = False,
    reversible: bool = False,
    structure: str = "16",
    momentum: str = "carry",
) -> HeavyBallNet:
    """CIFAR HB-Net/ResNet-(6n+2) [6]: widths 16/32/64, option-A shortcuts.

    The defaults are HB-Net's; ResNet is ``beta1=1, beta2=0, activate_sum=True``.
    """
    phi = make_activation(activation)
    if (depth - 2) % 6:
        raise OptnetError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    n = (depth - 2) // 6
    stem = cifar_stem(in_channels, activation=phi)
    stages = _stages(
        [16, 32, 64], [n] * 3, [1, 2, 2], 16, OptionAShortcut,
        beta1, beta2, learnable, phi, activate_sum, reversible, structure,
    )
    model = HeavyBallNet(stem, stages, 64, num_classes, momentum)
    init_weights(model)
    return model


def imagenet_resnet(
    depths: list[int],
    num_classes: int,
    in_channels: int,
    beta1: float | None = None,
    beta2: float | None = None,
    learnable: bool = False,
    activation: object = DEFAULT_ACTIVATION,
    activate_sum: bool = False,
    reversible: bool = False,
    structure: str = "16",
    momentum: str = "carry",
) -> HeavyBallNet:
    """ImageNet HB-Net/ResNet with basic blocks [6] (34 layers: 3, 4, 6, 3), option B.

    The defaults are HB-Net's; ResNet is ``beta1=1, beta2=0, activate_sum=True``.
    """
    phi = make_activation(activation)
    stem = imagenet_stem(in_channels, 64, phi)
    stages = _stages(
        [64, 128, 256, 512], depths, [1, 2, 2, 2], 64, Projection,
        beta1, beta2, learnable, phi, activate_sum, reversible, structure,
    )
    model = HeavyBallNet(stem, stages, 512, num_classes, momentum)
    init_weights(model)
    return model
