"""ResNet and HB-Net: stages of the heavy-ball recurrence (16), Sec. 6.1, Tables 4 and 5.

Each stage runs (16) with T = conv-BN-Phi-conv-BN (Phi the paper's ReLU unless ``activation``
names another, :mod:`optnet_nets.activation`), and each named network's stage writes its layer
out as printed:

* HB-Net (Sec. 6.1), :class:`HeavyBallStage`: x_{k+1} = T_k(x_k) + x_k - x_{k-1};
* ResNet [6] (Table 3), :class:`ResidualStage`: x_{k+1} = Phi(T_k(x_k) + x_k);
* any other coefficients, :class:`MomentumStage`: (16), x_{k+1} = act(T_k(x_k) + beta1 x_k +
  beta2 x_{k-1}), or with ``structure="nesterov"`` (17) over the same modules,
  x_{k+1} = act(T_k(y_k) + y_k), y_k = beta1 x_k + beta2 x_{k-1}, by default with (12)'s
  momentum beta1 = 1 + beta_k, beta2 = -beta_k of (3), counted from each stage's first layer.

All have the same modules, so their state_dicts are interchangeable (learnable coefficients
add one ``coefficients`` vector per stage), and each keeps the table of
:mod:`optnet_nets.tables` it implements (tested equal to :class:`~optnet_nets.blocks.Multistep`
running it).

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
from optnet_nets.blocks import CoefficientModule, Learnable, combine, live, map_states
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
from optnet_nets.tables import Spec, heavy_ball_table, nesterov_residual_table
from optnet_theory.coefficients import nesterov_beta
from optnet_theory.errors import OptnetError

__all__ = [
    "STRUCTURES",
    "check_structure",
    "HeavyBallStage",
    "MomentumStage",
    "ResidualStage",
    "cifar_resnet",
    "imagenet_resnet",
    "momentum_stages",
]

#: ``structure=`` of the heavy-ball family -> the paper's equation it runs.
STRUCTURES = {"heavy-ball": "16", "nesterov": "17"}


class MomentumStage(CoefficientModule):
    """One stage of (16) or (17) with any coefficients; ``forward(x_prev, x)`` -> (x_{K-1}, x_K).

    ``structure="heavy-ball"``, (16): x_{k+1} = act(T_k(x_k) + beta1_k x_k + beta2_k x_{k-1}).
    ``structure="nesterov"``, (17) over residual units: x_{k+1} = act(T_k(y_k) + y_k) with
    y_k = beta1_k x_k + beta2_k x_{k-1}. ``beta1``/``beta2``: numbers, Learnables or schedules
    of k (:data:`~optnet_nets.tables.Spec`). ResNet and HB-Net are the special cases below.
    """

    def __init__(
        self,
        blocks: list[nn.Module],
        beta1: Spec,
        beta2: Spec,
        shortcut: nn.Module | None,
        activation: nn.Module | None,
        structure: str = "heavy-ball",
    ) -> None:
        if structure == "heavy-ball":
            table = heavy_ball_table(len(blocks), beta1, beta2)
            equation = "(16) x[k+1] = act(T(x[k]) + beta1 x[k] + beta2 x[k-1])"
        else:
            table = nesterov_residual_table(len(blocks), beta1, beta2)
            equation = "(17) x[k+1] = act(T(y) + y), y = beta1 x[k] + beta2 x[k-1]"
        super().__init__(table, 2, equation)
        self.blocks = nn.ModuleList(blocks)
        self.shortcut = shortcut
        self.activation = activation
        self.structure = structure
        pairs = [(dict(row.skips)[k + 1], dict(row.skips)[k]) for k, row in enumerate(table)]
        if structure == "nesterov" and not all(live(b1) or live(b2) for b1, b2 in pairs):
            raise OptnetError("structure='nesterov' needs beta1 or beta2 nonzero in every layer")
        #: (beta1_k, beta2_k) of each layer, compiled table entries (read with ``value``)
        self.betas = [(self.compiled(b1), self.compiled(b2)) for b1, b2 in pairs]

    @property
    def rule(self) -> str:
        """The paper's equation number of the recurrence: "16" or "17"."""
        return STRUCTURES[self.structure]

    def forward(self, x_prev: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        for k, T in enumerate(self.blocks):
            beta1, beta2 = (self.value(b) for b in self.betas[k])
            if self.structure == "heavy-ball":
                t = T(x)  # T_k(x_k); the first layer may down-sample
            else:
                t = T(combine([(x, beta1), (x_prev, beta2)]))  # T_k(y_k)
            if k == 0 and self.shortcut is not None:  # the states the sum reads, to the new size
                if isinstance(beta2, Tensor) or beta2 != 0.0:
                    x_prev, x = map_states(self.shortcut, [x_prev, x])
                else:
                    x = self.shortcut(x)
            # (16): T_k(x_k) + beta1 x_k + beta2 x_{k-1}; (17): T_k(y_k) + y_k, the same sum
            new = combine([(t, 1.0), (x, beta1), (x_prev, beta2)])
            assert new is not None  # t is always there
            x_prev, x = x, new if self.activation is None else self.activation(new)
        return x_prev, x


class HeavyBallStage(MomentumStage):
    """HB-Net's stage, Sec. 6.1: (16) with beta1 = 1, beta2 = -1 and nothing after the sum.

    ``reversible=True`` runs the first, possibly down-sampling, layer normally and the rest
    through :func:`optnet_nets.reversible.hb_reversible`, which rebuilds the states in backward
    instead of storing them. The modules and the forward values are the same either way.
    """

    def __init__(
        self, blocks: list[nn.Module], shortcut: nn.Module | None, reversible: bool = False
    ) -> None:
        super().__init__(blocks, 1.0, -1.0, shortcut, None)
        self.reversible = reversible

    def forward(self, x_prev: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        for k, T in enumerate(self.blocks):
            if k == 1 and self.reversible:
                return hb_reversible(self.blocks[1:], x_prev, x)
            t = T(x)  # T_k(x_k); the first layer may down-sample
            if k == 0 and self.shortcut is not None:  # both states to the new size, one pass
                x_prev, x = map_states(self.shortcut, [x_prev, x])
            x_prev, x = x, t + x - x_prev  # x_{k+1} = T_k(x_k) + x_k - x_{k-1}
        return x_prev, x

    def extra_repr(self) -> str:
        return super().extra_repr() + f"\nreversible={self.reversible}"


class ResidualStage(MomentumStage):
    """ResNet's stage [6]: (16) with beta1 = 1, beta2 = 0 and Phi after the sum (Table 3)."""

    def __init__(
        self, blocks: list[nn.Module], shortcut: nn.Module | None, activation: nn.Module
    ) -> None:
        super().__init__(blocks, 1.0, 0.0, shortcut, activation)

    def forward(self, x_prev: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        phi = self.activation
        assert phi is not None
        for k, T in enumerate(self.blocks):
            t = T(x)  # T_k(x_k); the first layer may down-sample
            if k == 0 and self.shortcut is not None:
                x = self.shortcut(x)
            x_prev, x = x, phi(t + x)  # x_{k+1} = Phi(T_k(x_k) + x_k)
        return x_prev, x


def momentum_stages(model: nn.Module) -> list[MomentumStage] | None:
    """The stages of a ResNet/HB-Net of (16)/(17), or None for any other model."""
    if not isinstance(model, TwoStateNet):
        return None
    stages = list(model.stages)
    return stages if all(isinstance(s, MomentumStage) for s in stages) else None  # type: ignore[return-value]


def check_structure(structure: object) -> str:
    """``structure`` if :data:`STRUCTURES` names it; else a one-line error (the equation numbers
    "16" and "17", the old spelling, are answered with their names)."""
    if isinstance(structure, str) and structure in STRUCTURES:
        return structure
    renamed = {number: name for name, number in STRUCTURES.items()}
    if isinstance(structure, str) and structure in renamed:
        raise OptnetError(
            f"structure={structure!r} is now spelled structure={renamed[structure]!r}; "
            f"accepted: {', '.join(STRUCTURES)}"
        )
    raise OptnetError(f"structure={structure!r}; accepted: {', '.join(STRUCTURES)}")


def _coefficients(
    structure: str, depth: int, beta1: float | None, beta2: float | None, learnable: bool
) -> tuple[Spec, Spec]:
    """beta1, beta2 of one stage: the values given, or the structure's defaults.

    (16): 1 and -1 (HB-Net). (17): (12)'s 1 + beta_k and -beta_k, beta_k of (3). With
    ``learnable`` each layer learns its own pair, starting there (the LM-ResNet idea).
    """
    nesterov = structure == "nesterov"
    momentum = nesterov_beta(depth) if nesterov else [0.0] * (depth + 1)

    def spec(value: float | None, default: float, sign: float) -> Spec:
        def at(k: int) -> float:
            if value is not None:
                return float(value)
            return default + sign * float(momentum[k])

        if learnable:
            return lambda k: Learnable(at(k))
        if value is not None or not nesterov:
            return at(0)
        return at

    return spec(beta1, 1.0, 1.0), spec(beta2, 0.0 if nesterov else -1.0, -1.0)


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
) -> list[MomentumStage]:
    """The stages; the named special cases get their own, written-out forward passes."""
    structure = check_structure(structure)
    stages: list[MomentumStage] = []
    for width, depth, stride in zip(widths, depths, strides, strict=True):
        blocks: list[nn.Module] = [
            ResidualBranch(in_width if i == 0 else width, width, stride if i == 0 else 1, phi)
            for i in range(depth)
        ]
        sc = shortcut(in_width, width, stride) if (stride != 1 or in_width != width) else None
        b1, b2 = _coefficients(structure, depth, beta1, beta2, learnable)
        plain = structure == "heavy-ball" and not learnable
        if plain and (b1, b2, activate_sum) == (1.0, -1.0, False):
            stages.append(HeavyBallStage(blocks, sc, reversible))
        elif reversible:
            raise OptnetError(
                "reversible=True needs the invertible HB layer of Sec. 6.1: structure="
                "'heavy-ball', fixed beta1=1, beta2=-1 and activate_sum=False"
            )
        elif plain and (b1, b2, activate_sum) == (1.0, 0.0, True):
            stages.append(ResidualStage(blocks, sc, phi()))
        else:
            act = phi() if activate_sum else None
            stages.append(MomentumStage(blocks, b1, b2, sc, act, structure))
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
    structure: str = "heavy-ball",
    momentum: str = "carry",
) -> TwoStateNet:
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
    model = TwoStateNet(stem, stages, 64, num_classes, momentum)
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
    structure: str = "heavy-ball",
    momentum: str = "carry",
) -> TwoStateNet:
    """ImageNet HB-Net/ResNet with basic blocks [6] (34 layers: 3, 4, 6, 3), option B.

    The defaults are HB-Net's; ResNet is ``beta1=1, beta2=0, activate_sum=True``.
    """
    phi = make_activation(activation)
    stem = imagenet_stem(in_channels, 64, phi)
    stages = _stages(
        [64, 128, 256, 512], depths, [1, 2, 2, 2], 64, Projection,
        beta1, beta2, learnable, phi, activate_sum, reversible, structure,
    )
    model = TwoStateNet(stem, stages, 512, num_classes, momentum)
    init_weights(model)
    return model
