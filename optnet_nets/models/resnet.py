"""ResNet and HB-Net: the recurrences (16) and (17) under the rule, Sec. 6.1, Tables 4 and 5.

The state is (x_k, x_{k-1}), both begun at the stem's output (x_{-1} = x_0), and layer k, with
T_k = conv-BN-Phi-conv-BN (Phi the paper's ReLU unless ``activation`` names another,
:mod:`optnet_nets.models.activation`), is one :class:`~optnet_nets.models.method_rule.Layer`
(:func:`heavy_ball_layer`), run by :class:`~optnet_nets.models.stage.MethodStage`:

* (16): x_{k+1} = act(T_k(x_k) + beta1 x_k + beta2 x_{k-1}), and x_k is kept as x_{k-1};
  HB-Net (Sec. 6.1) is beta1 = 1, beta2 = -1, x_{k+1} = T_k(x_k) + x_k - x_{k-1}; ResNet [6]
  (Table 3) is beta1 = 1, beta2 = 0 with act = Phi, x_{k+1} = Phi(T_k(x_k) + x_k);
* (17) over residual units (``structure="nesterov"``): x_{k+1} = act(T_k(y_k) + y_k) with
  y_k = beta1 x_k + beta2 x_{k-1}, by default (12)'s momentum beta1 = 1 + beta_k,
  beta2 = -beta_k of (3), counted from each stage's first layer.

Read through the rule, (16) is the method with a = (1, 0), b = ((beta1, beta2), (1, 0)),
C = (1, 0): hb (2) with step 1 and beta = 1 is HB-Net. ``learnable``: each layer learns its own
beta1, beta2 from their start (LM-ResNet), elements 2k, 2k + 1 of the stage's
``coefficients``. All variants have the same modules (learnable ones add that vector).

Down-sampling (Sec. 6, "Block Based Structure"): the first layer of a stage has stride 2 and
the stage's shortcut (option A on CIFAR, option B on ImageNet) maps every state the sum reads,
as one map (one BN pass for option B). ``momentum``: ``"carry"`` passes x_{k-1} on from one
stage to the next; ``"restart"`` sets x_{-1} = x_0 again at each stage ("the formulations
(16), (17) and (18) are used in each block"). ``reversible=True``: HB-Net's layers after the
first rebuild their states in backward (:func:`optnet_nets.models.reversible.hb_reversible`).
"""

from __future__ import annotations

import math
from typing import Any

from optnet_nets.models.activation import DEFAULT_ACTIVATION, ActivationFactory, make_activation
from optnet_nets.models.layers import init_weights
from optnet_nets.models.method_rule import Entry, Layer, Learned, Path, Update
from optnet_nets.models.registry import ACTIVATION, Option, register_model
from optnet_nets.models.stage import MOMENTUM_CHOICES, MethodNet, MethodStage, check_momentum
from optnet_nets.models.trunk import (
    CIFAR_DEPTHS,
    Trunk,
    cifar_layers,
    cifar_trunk,
    imagenet_trunk,
)
from optnet_theory.coefficients import nesterov_beta
from optnet_theory.errors import OptnetError

__all__ = [
    "STRUCTURES",
    "check_structure",
    "cifar_resnet",
    "heavy_ball_layer",
    "imagenet_resnet",
]

#: ``structure=`` of the heavy-ball family -> the paper's equation it runs.
STRUCTURES = {"heavy-ball": "16", "nesterov": "17"}


def heavy_ball_layer(k: int, beta1: Entry, beta2: Entry, structure: str, activate: bool) -> Layer:
    """Layer k of (16) (``structure="heavy-ball"``) or (17) on (x_k, x_{k-1}): the new x_k is
    act(T_k(y) + beta1 x_k + beta2 x_{k-1}) with y = x_k for (16), y = beta1 x_k + beta2 x_{k-1}
    for (17); the new x_{k-1} is x_k."""
    point = (1.0, 0.0) if structure == "heavy-ball" else (beta1, beta2)
    return Layer((Path(k, point),), (Update((1.0,), (beta1, beta2), activate), 0))


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


def _betas(
    structure: str, n: int, beta1: float | None, beta2: float | None, learnable: bool
) -> tuple[list[tuple[Entry, Entry]], list[float]]:
    """(beta1_k, beta2_k) of a stage's n layers and the start of its learned ``coefficients``.

    The values given, or the structure's defaults: (16) 1 and -1 (HB-Net); (17) (12)'s
    1 + beta_k and -beta_k with beta_k of (3). ``learnable``: each layer's own pair, from there.
    """
    momentum = nesterov_beta(n) if structure == "nesterov" else [0.0] * (n + 1)
    default2 = 0.0 if structure == "nesterov" else -1.0
    values = [
        (1.0 + float(momentum[k]) if beta1 is None else float(beta1),
         default2 - float(momentum[k]) if beta2 is None else float(beta2))
        for k in range(n)
    ]
    if not all(math.isfinite(v) for pair in values for v in pair):
        raise OptnetError(f"beta1={beta1}, beta2={beta2}; accepted: finite numbers")
    if structure == "nesterov" and not all(b1 or b2 for b1, b2 in values):
        raise OptnetError("structure='nesterov' needs beta1 or beta2 nonzero in every layer")
    if not learnable:
        return list(values), []
    entries = [(Learned("coefficients", (2 * k,)), Learned("coefficients", (2 * k + 1,)))
               for k in range(n)]
    return list(entries), [v for pair in values for v in pair]


def _network(
    trunk: Trunk,
    phi: ActivationFactory,
    *,
    beta1: float | None = None,
    beta2: float | None = None,
    learnable: bool = False,
    activate_sum: bool = False,
    reversible: bool = False,
    structure: str = "heavy-ball",
    momentum: str = "carry",
) -> MethodNet:
    """The network of (16)/(17) on ``trunk``: one stage of heavy-ball layers per trunk stage."""
    structure = check_structure(structure)
    check_momentum(momentum)
    stages = []
    for blocks, shortcut in zip(trunk.blocks, trunk.shortcuts, strict=True):
        betas, start = _betas(structure, len(blocks), beta1, beta2, learnable)
        layers = [heavy_ball_layer(k, b1, b2, structure, activate_sum)
                  for k, (b1, b2) in enumerate(betas)]
        stages.append(MethodStage(
            blocks, layers, shortcut=shortcut, activation=phi() if activate_sum else None,
            parameters={"coefficients": start} if start else None, reversible=reversible,
            equation=STRUCTURES[structure],
        ))
    readouts = [(1.0, 0.0)] * (len(stages) if momentum == "restart" else 1)
    model = MethodNet(trunk.stem, stages, trunk.fc, (1.0, 1.0), readouts, momentum,
                      equation=STRUCTURES[structure])
    init_weights(model)
    return model


def cifar_resnet(
    depth: int, num_classes: int, in_channels: int, activation: object = DEFAULT_ACTIVATION,
    **options: Any,
) -> MethodNet:
    """CIFAR HB-Net/ResNet-(6n+2) [6]: widths 16/32/64, option-A shortcuts. ``options``: beta1,
    beta2, learnable, activate_sum, reversible, structure, momentum (see the registry).

    The defaults are HB-Net's; ResNet is ``beta1=1, beta2=0, activate_sum=True``.
    """
    phi = make_activation(activation)
    return _network(cifar_trunk(cifar_layers(depth), in_channels, num_classes, phi), phi,
                    **options)


def imagenet_resnet(
    depths: list[int], num_classes: int, in_channels: int,
    activation: object = DEFAULT_ACTIVATION, **options: Any,
) -> MethodNet:
    """ImageNet HB-Net/ResNet with basic blocks [6] (34 layers: 3, 4, 6, 3), option B;
    ``options`` as :func:`cifar_resnet`'s.

    The defaults are HB-Net's; ResNet is ``beta1=1, beta2=0, activate_sum=True``.
    """
    phi = make_activation(activation)
    return _network(imagenet_trunk(depths, in_channels, num_classes, phi), phi, **options)


_RESNET_EQ = "(16) with beta1=1, beta2=0: x_{k+1} = ReLU(T(x_k) + x_k)"
_HBNET_EQ = "Sec. 6.1, (16) with beta1=1, beta2=-1: x_{k+1} = T(x_k) + x_k - x_{k-1}"
_HB_OPTIONS = {
    "structure": Option(
        "heavy-ball", "heavy-ball (16), or nesterov: (17) over T(y) + y", tuple(STRUCTURES),
        renamed={number: name for name, number in STRUCTURES.items()},
    ),
    "beta1": Option(None, "coefficient of x_k: default 1 in (16), 1 + beta_k in (17)", kind=float),
    "beta2": Option(None, "coefficient of x_{k-1}: -1 in (16), -beta_k in (17)", kind=float),
    "learnable": Option(False, "learn beta1, beta2 per layer from their start (LM-ResNet)"),
    "activate_sum": Option(False, "apply Phi after the sum too, as ResNet's ReLU(T(x) + x)"),
    "reversible": Option(False, "rebuild states in backward instead of storing them"),
    "momentum": Option(
        "carry", "x_{k-1} at a new stage: carried (mapped) or restarted (= x_k)", MOMENTUM_CHOICES
    ),
    "activation": ACTIVATION,
}
_IMAGENET = {"34": [3, 4, 6, 3]}


@register_model("resnet{}", CIFAR_DEPTHS, equation=_RESNET_EQ,
                options={"activation": ACTIVATION})
def resnet(depth: int, *, num_classes: int, in_channels: int, activation: object) -> MethodNet:
    """ResNet [6] (Table 3): (16) with beta1 = 1, beta2 = 0 and Phi after the sum."""
    return cifar_resnet(depth, num_classes, in_channels, beta1=1.0, beta2=0.0,
                        activate_sum=True, activation=activation)


@register_model("hbnet{}", CIFAR_DEPTHS, equation=_HBNET_EQ, baseline="resnet{}",
                options=_HB_OPTIONS)
def hbnet(depth: int, *, num_classes: int, in_channels: int, **options: object) -> MethodNet:
    """HB-Net (Sec. 6.1) and the (16)/(17) family on the CIFAR trunk."""
    return cifar_resnet(depth, num_classes, in_channels, **options)


@register_model("resnet{}", _IMAGENET, equation=_RESNET_EQ, dataset="imagenet",
                options={"activation": ACTIVATION})
def resnet_imagenet(
    depths: list[int], *, num_classes: int, in_channels: int, activation: object
) -> MethodNet:
    """ImageNet ResNet-34 [6]: (16) with beta1 = 1, beta2 = 0 and Phi after the sum."""
    return imagenet_resnet(depths, num_classes, in_channels, beta1=1.0, beta2=0.0,
                           activate_sum=True, activation=activation)


@register_model("hbnet{}", _IMAGENET, equation=_HBNET_EQ, baseline="resnet{}",
                dataset="imagenet", options=_HB_OPTIONS)
def hbnet_imagenet(
    depths: list[int], *, num_classes: int, in_channels: int, **options: object
) -> MethodNet:
    """HB-Net-34 (Table 5) and the (16)/(17) family on the ImageNet trunk."""
    return imagenet_resnet(depths, num_classes, in_channels, **options)
