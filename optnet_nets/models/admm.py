"""ADMM-Net and DMRNet: (20) under the rule, two sub-steps per layer, Sec. 6.

Layer k has two paths, T'_k on x'_k and T_k on x_k (each conv-BN-Phi-conv-BN), and appends the
pair

    x'_{k+1} = T'_k(x'_k) + S_k,    x_{k+1} = T_k(x_k) + S_k,
    S_k = sum_{t<=k} alpha_{k+1,t} x'_t + sum_{t<=k} beta_{k+1,t} x_t,

to the state, which keeps every earlier pair (history; :func:`admm_layer`): S_k, shared by both
paths, is computed once. Each stage begins at its input pair (x'_0 = x_0 at the stem) with the
sums from t = 0, so that Table 3's alpha = beta = 1/2 on the newest pair gives DMRNet's
merge-and-run [36] from the first layer on, and returns its last pair. ADMM-Net learns every
alpha_{k+1,t}, beta_{k+1,t} (elements k(k+1) + 2t and k(k+1) + 2t + 1 of the stage's
``coefficients``), starting from DMRNet's values. Each path of ``admmnet{D}``/``dmrnet{D}`` has
the layout of CIFAR ResNet-D (widths 16/32/64, option-A shortcuts applied to both paths' input
states); the classifier reads the mean (x'_K + x_K) / 2 of the two paths.
"""

from __future__ import annotations

from optnet_nets.models.activation import DEFAULT_ACTIVATION, make_activation
from optnet_nets.models.layers import init_weights
from optnet_nets.models.method_rule import Entry, Layer, Learned, Path, Update
from optnet_nets.models.registry import ACTIVATION, register_model
from optnet_nets.models.stage import MethodNet, MethodStage
from optnet_nets.models.trunk import CIFAR_DEPTHS, cifar_layers, cifar_trunk


def dmrnet_coefficient(k1: int, t: int) -> float:
    """Table 3's DMRNet setting of (20): 1/2 on the newest pair (t = k), 0 before."""
    return 0.5 if t == k1 - 1 else 0.0

__all__ = ["admm_layer", "cifar_admmnet"]


def admm_layer(k: int, alpha: list[Entry], beta: list[Entry]) -> Layer:
    """Layer k of (20) on (x'_0, x_0, ..., x'_k, x_k): T'_k (block 2k) and T_k (block 2k + 1),
    every slot kept, the new pair appended; ``alpha[t]``, ``beta[t]`` weigh x'_t and x_t."""
    m = 2 * (k + 1)
    merge = tuple(alpha[l // 2] if l % 2 == 0 else beta[l // 2] for l in range(m))

    def one(l: int) -> tuple[float, ...]:
        return tuple(1.0 if i == l else 0.0 for i in range(m))

    return Layer(
        (Path(2 * k, one(2 * k)), Path(2 * k + 1, one(2 * k + 1))),
        (*range(m), Update((1.0, 0.0), merge), Update((0.0, 1.0), merge)),
    )


def cifar_admmnet(
    depth: int, num_classes: int, in_channels: int, learnable: bool = True,
    activation: object = DEFAULT_ACTIVATION,
) -> MethodNet:
    """ADMM-Net (learnable merge coefficients) or DMRNet (fixed 1/2), paths of ResNet-depth."""
    n = cifar_layers(depth)
    trunk = cifar_trunk(n, in_channels, num_classes, make_activation(activation), paths=2)
    start = [dmrnet_coefficient(k + 1, t) for k in range(n) for t in range(k + 1) for _ in "ab"]
    layers = []
    for k in range(n):
        first = k * (k + 1)
        if learnable:
            alpha: list[Entry] = [Learned("coefficients", (first + 2 * t,)) for t in range(k + 1)]
            beta: list[Entry] = [Learned("coefficients", (first + 2 * t + 1,))
                                 for t in range(k + 1)]
        else:
            alpha = beta = [dmrnet_coefficient(k + 1, t) for t in range(k + 1)]
        layers.append(admm_layer(k, alpha, beta))
    stages = [
        MethodStage(blocks, layers, shortcut=shortcut, keep=2, equation="20",
                    parameters={"coefficients": start} if learnable else None)
        for blocks, shortcut in zip(trunk.blocks, trunk.shortcuts, strict=True)
    ]
    model = MethodNet(trunk.stem, stages, trunk.fc, (1.0, 1.0), [(0.5, 0.5)], equation="20")
    init_weights(model)
    return model


@register_model(
    "dmrnet{}", CIFAR_DEPTHS, baseline="resnet{}", options={"activation": ACTIVATION},
    equation="(20) with alpha=beta=1/2 on the newest pair (merge-and-run [36])",
)
def dmrnet(depth: int, *, num_classes: int, in_channels: int, activation: object) -> MethodNet:
    """DMRNet [36] (Table 3): (20) with alpha = beta = 1/2 on the newest pair."""
    return cifar_admmnet(depth, num_classes, in_channels, learnable=False, activation=activation)


@register_model(
    "admmnet{}", CIFAR_DEPTHS, baseline="dmrnet{}", options={"activation": ACTIVATION},
    equation="(20) with learnable alpha_{k+1,t}, beta_{k+1,t} (initialised at DMRNet's)",
)
def admmnet(depth: int, *, num_classes: int, in_channels: int, activation: object) -> MethodNet:
    """ADMM-Net (Sec. 6): (20) with learnable merge coefficients, from DMRNet's."""
    return cifar_admmnet(depth, num_classes, in_channels, learnable=True, activation=activation)
