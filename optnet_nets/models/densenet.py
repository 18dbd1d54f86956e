"""DenseNet and AGD-Net: dense blocks of (18), in the practical form (21), Sec. 6.2.

A dense block keeps every state it has made (history) and layer k appends

    z_{k+1} = sum_j alpha_{k+1}^j T(z_j) + beta (z_k - sum_j h_{k+1}^j z_j)        (21)

(:func:`dense_layer`, run by :class:`~optnet_nets.models.stage.MethodStage`); the block outputs
the concatenation [z_0, ..., z_K] as DenseNet does. T = :class:`~optnet_nets.models.layers.
DenseLayer` computes the alpha-sum over all the z_j from their concatenation (one BN-Phi-conv
per input, as one convolution); the h-term is a weighted sum of the block's states, one batched
product. DenseNet (19), z_{k+1} = T([z_0, ..., z_k]), is alpha = 1, beta = 0 (Table 3);
AGD-Net is alpha learnable (initialised at 1; layer k's alpha^j is element k(k+1)/2 + j of the
block's ``coefficients``), beta = ``paper_values.AGDNET_BETA`` and h from (5)
(``optnet_theory.nesterov_h``).

The beta-term needs equal channel counts: it runs over the z_j with the growth rate's channel
count, i.e. z_1..z_k, and z_0 too only when its channel count equals the growth rate. Its
j = k - 0 term at k = 0 vanishes anyway (h_{1,0} = 1).

``momentum``: ``"restart"`` (the default) takes h from (5) afresh in each dense block,
``nesterov_h(K)`` with K the block's layer count -- each block runs its own (18), as "the
formulations ... are used in each block" (Sec. 6, "Block Based Structure") reads.
``"carry"`` continues the theta schedule of (3) across blocks: layer k of a block after
k0 earlier layers uses h_{k0+k+1, k0+j} of ``nesterov_h(total layers)``. Only the schedule can
carry: the states z_j of earlier blocks have other sizes and widths after a transition (whose
input, their concatenation, is how they reach the next block), so the beta-term sums over the
block's own states in both modes.

T uses Phi (``activation``, the paper's ReLU by default) and, with ``dropout`` p > 0, drops
after each convolution except the stem's (Huang et al.'s recipe for un-augmented CIFAR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from optnet_nets.models.activation import DEFAULT_ACTIVATION, ActivationFactory, make_activation
from optnet_nets.models.layers import DenseLayer, Transition, imagenet_stem, init_weights
from optnet_nets.models.method_rule import Entry, Layer, Learned, Path, Update
from optnet_nets.models.registry import ACTIVATION, Option, register_model
from optnet_nets.models.stage import MOMENTUM_CHOICES, MethodStage, check_momentum
from optnet_theory import nesterov_h
from optnet_theory.errors import OptnetError
from optnet_theory.paper_values import AGDNET_BETA

__all__ = [
    "DenseNet",
    "cifar_densenet",
    "dense_block",
    "dense_layer",
    "imagenet_densenet",
    "method_h_rows",
]


def dense_layer(k: int, alpha: Sequence[Entry], b: Sequence[float]) -> Layer:
    """Layer k of (18)/(21) on (z_0, ..., z_k): every z_j kept, and z_{k+1} =
    sum_j alpha_j T_k(z_j) + sum_j b_j z_j appended (T_k: the block's dense layer k)."""
    return Layer((Path(k, tuple(alpha), concat=True),), (*range(k + 1), Update((1.0,), tuple(b))))


def _h_rows(n_layers: int, offset: int) -> list[list[float]]:
    """h_{k+1,j} of (5) for one block, rows 0..n_layers, counted from layer ``offset``.

    ``offset = 0``: ``nesterov_h(n_layers)`` (the schedule restarts). Otherwise the rows
    k0+1..k0+n of ``nesterov_h(k0 + n)``, restricted to the block's columns k0..
    """
    h = nesterov_h(offset + n_layers)
    return [
        [float(h[offset + k1][offset + j]) for j in range(k1)] for k1 in range(n_layers + 1)
    ]


def method_h_rows(method: str, n_layers: int) -> list[list[float]]:
    """The rows h_{k+1,j} (k1 = k + 1 = 0..n_layers) of ``method``'s dense form (18) for one
    dense block of ``n_layers`` layers: row k1 holds h_{k1-1,0..k1-1} of x_{k+1} = x_k -
    sum_{j<=k} h_{k,j} g_j (:func:`~optnet_theory.methods.dense.history.dense_h`; any name of the
    grammar, e.g. a method file written by ``optnet design``, bound with L = 1 and N = the
    block's layer count). With alpha = h and beta = 1, (21) is then the method's (18) with
    g_j = z_j - T(z_j)."""
    from optnet_theory.methods import get_method, get_spec
    from optnet_theory.methods.dense.history import dense_h

    spec = get_spec(method)
    if spec.horizon is not None and spec.horizon != n_layers:
        raise OptnetError(
            f"method {method!r} is defined for N = {spec.horizon} steps; a dense block here has "
            f"{n_layers} layers, so design for N = {n_layers} (momentum=restart: one run of the "
            f"method per block)"
        )
    bound = get_method(method, L=1.0, N=n_layers if spec.needs_horizon else None)
    return [[], *([float(v) for v in row] for row in dense_h(bound, n_layers))]


def dense_block(
    in_channels: int,
    n_layers: int,
    growth_rate: int,
    bottleneck: int | None,
    alpha: float,
    learnable_alpha: bool,
    beta: float,
    memory_efficient: bool,
    phi: ActivationFactory,
    dropout: float = 0.0,
    offset: int = 0,
    method: str | None = None,
) -> MethodStage:
    """A dense block of (21): the weights b_{k+1,j} = beta ([j = k] - h_{k+1,j}) of its
    h-term, over the z_j of the growth rate's width (module docstring). ``method``: h from
    that method's dense form (:func:`method_h_rows`) and alpha_{k+1}^j = h_{k+1,j} (the
    start of the learned alpha)."""
    layers = [
        DenseLayer(
            [in_channels] + [growth_rate] * k, growth_rate, bottleneck, memory_efficient,
            phi, dropout,
        )
        for k in range(n_layers)
    ]
    first = 0 if in_channels == growth_rate else 1
    h = (method_h_rows(method, n_layers) if method is not None
         else _h_rows(n_layers, offset) if beta != 0.0 else [])
    rule, start = [], []
    for k in range(n_layers):
        alphas = [float(alpha)] * (k + 1) if method is None else h[k + 1][: k + 1]
        weights: list[Entry] = list(alphas)
        if learnable_alpha:
            weights = [Learned("coefficients", (k * (k + 1) // 2 + j,)) for j in range(k + 1)]
            start += alphas
        b = [beta * ((1.0 if j == k else 0.0) - h[k + 1][j]) if j >= first else 0.0
             for j in range(k + 1)] if h else []
        rule.append(dense_layer(k, weights, b))
    return MethodStage(layers, rule, parameters={"coefficients": start} if start else None,
                       concat=True, equation="21" if h else "19")


class DenseNet(nn.Module):
    """stem -> dense blocks with transitions -> BN-ReLU -> global pooling -> classifier."""

    def __init__(
        self,
        stem: nn.Module,
        blocks: Sequence[MethodStage],
        transitions: Sequence[nn.Module],
        width: int,
        classes: int,
        phi: ActivationFactory,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.transitions = nn.ModuleList(transitions)
        self.norm = nn.BatchNorm2d(width)
        self.relu = phi(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            (x,) = block([x])  # [z_0, ..., z_K] of (19)/(21)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return self.fc(torch.flatten(self.pool(self.relu(self.norm(x))), 1))


def _build(
    stem: nn.Module,
    width: int,
    layers: list[int],
    growth_rate: int,
    bottleneck: int | None,
    compression: float,
    classes: int,
    phi: ActivationFactory,
    *,
    alpha: float = 1.0,
    learnable_alpha: bool = False,
    beta: float = 0.0,
    memory_efficient: bool = False,
    dropout: float = 0.0,
    momentum: str = "restart",
    method: str | None = None,
) -> DenseNet:
    """The DenseNet/AGD-Net of dense blocks of ``layers`` layers after ``stem`` (the options
    of both sizes: alpha, beta and h of (21), checkpointing, dropout, ``momentum``, ``method``)."""
    check_momentum(momentum)
    if not 0.0 <= dropout < 1.0:
        raise OptnetError(f"dropout={dropout!r}; accepted: a rate in [0, 1)")
    if method is not None and (momentum != "restart" or beta == 0.0):
        raise OptnetError("method= sets alpha and the h of (21) block by block: it needs "
                          f"momentum=restart and beta != 0, got momentum={momentum!r}, "
                          f"beta={beta!r}")
    blocks, transitions = [], []
    for i, n in enumerate(layers):
        offset = sum(layers[:i]) if momentum == "carry" else 0
        blocks.append(dense_block(
            width, n, growth_rate, bottleneck, alpha, learnable_alpha, beta, memory_efficient,
            phi, dropout, offset, method,
        ))
        width += n * growth_rate
        if i < len(layers) - 1:
            out = int(width * compression)
            transitions.append(Transition(width, out, phi, dropout))
            width = out
    model = DenseNet(stem, blocks, transitions, width, classes, phi)
    init_weights(model)
    return model


def cifar_densenet(
    depth: int,
    num_classes: int,
    in_channels: int,
    bc: bool = False,
    growth_rate: int = 12,
    activation: object = DEFAULT_ACTIVATION,
    **options: Any,
) -> DenseNet:
    """Huang et al.'s CIFAR DenseNet (3 blocks, 16 initial channels) or DenseNet-BC;
    ``options``: those of both sizes (alpha, learnable_alpha, beta, memory_efficient, dropout,
    momentum, method; see the registry)."""
    per_block = 6 if bc else 3
    if (depth - 4) % per_block:
        raise OptnetError(f"CIFAR DenseNet{'-BC' if bc else ''} depth must be {per_block}n+4")
    width = 2 * growth_rate if bc else 16
    stem = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
    return _build(stem, width, [(depth - 4) // per_block] * 3, growth_rate,
                  4 * growth_rate if bc else None, 0.5 if bc else 1.0, num_classes,
                  make_activation(activation), **options)


def imagenet_densenet(
    layers: list[int],
    num_classes: int,
    in_channels: int,
    growth_rate: int = 32,
    activation: object = DEFAULT_ACTIVATION,
    **options: Any,
) -> DenseNet:
    """Huang et al.'s ImageNet DenseNet-BC (DenseNet-121: 6, 12, 24, 16; k = 32); ``options`` as
    :func:`cifar_densenet`'s."""
    phi = make_activation(activation)
    stem = imagenet_stem(in_channels, 2 * growth_rate, phi)
    return _build(stem, 2 * growth_rate, layers, growth_rate, 4 * growth_rate, 0.5, num_classes,
                  phi, **options)


_DENSE_EQ = "(19) = (18) with alpha=1, beta=0: z_{k+1} = T([z_0, ..., z_k])"
_AGD_EQ = "(21): z_{k+1} = sum_j alpha_j T(z_j) + beta (z_k - sum_j h_{k+1,j} z_j), h from (5)"
_DENSE_OPTIONS = {
    "activation": ACTIVATION,
    "memory_efficient": Option(
        False, "checkpoint each dense layer's BN-Phi-conv (recomputed in backward)"),
    "dropout": Option(0.0, "dropout rate after each convolution but the first (Huang et al.)"),
}
_AGD_OPTIONS = {
    **_DENSE_OPTIONS,
    "alpha": Option(1.0, "initial alpha_{k+1}^j of (21)"),
    "learnable_alpha": Option(True, "learn the alpha_{k+1}^j of (21)"),
    "beta": Option(AGDNET_BETA, "beta of (21), the weight of the h-term"),
    "momentum": Option(
        "restart", "h of (5) per dense block (restart) or continued across blocks (carry)",
        MOMENTUM_CHOICES,
    ),
    "method": Option(None, "initialise alpha and take the h of (21) from this method's dense "
                     "form (18), e.g. a method file from optnet design (N = a block's layers)",
                     kind=str),
}
_CIFAR_DEPTHS = (40, 52, 100)
_IMAGENET = {"121": [6, 12, 24, 16]}


@register_model("densenet{}", _CIFAR_DEPTHS, equation=_DENSE_EQ, trunk="densenet",
                options=_DENSE_OPTIONS)
def densenet(depth: int, *, num_classes: int, in_channels: int, **options: object) -> DenseNet:
    """DenseNet (19) (Huang et al., k = 12)."""
    return cifar_densenet(depth, num_classes, in_channels, **options)  # type: ignore[arg-type]


@register_model("agdnet{}", _CIFAR_DEPTHS, equation=_AGD_EQ, baseline="densenet{}",
                trunk="densenet", options=_AGD_OPTIONS)
def agdnet(depth: int, *, num_classes: int, in_channels: int, **options: object) -> DenseNet:
    """AGD-Net (21), Sec. 6.2, on DenseNet's layout."""
    return cifar_densenet(depth, num_classes, in_channels, **options)  # type: ignore[arg-type]


@register_model("densenet_bc{}", {"100": 100}, trunk="densenet", options=_DENSE_OPTIONS,
                equation=_DENSE_EQ + ", DenseNet-BC (bottleneck, compression 0.5)")
def densenet_bc(depth: int, *, num_classes: int, in_channels: int, **options: object
                ) -> DenseNet:
    """DenseNet-BC (19) with bottleneck layers and compression 0.5."""
    return cifar_densenet(depth, num_classes, in_channels, bc=True, **options)  # type: ignore[arg-type]


@register_model("densenet{}", _IMAGENET, equation=_DENSE_EQ + ", DenseNet-BC",
                dataset="imagenet", trunk="densenet", options=_DENSE_OPTIONS)
def densenet_imagenet(layers: list[int], *, num_classes: int, in_channels: int,
                      **options: object) -> DenseNet:
    """DenseNet-121 (19), Huang et al.'s ImageNet DenseNet-BC."""
    return imagenet_densenet(layers, num_classes, in_channels, **options)  # type: ignore[arg-type]


@register_model("agdnet{}", _IMAGENET, equation=_AGD_EQ + ", DenseNet-BC", baseline="densenet{}",
                dataset="imagenet", trunk="densenet", options=_AGD_OPTIONS)
def agdnet_imagenet(layers: list[int], *, num_classes: int, in_channels: int,
                    **options: object) -> DenseNet:
    """AGD-Net-121 (21), Table 5, on DenseNet-121's layout."""
    return imagenet_densenet(layers, num_classes, in_channels, **options)  # type: ignore[arg-type]
