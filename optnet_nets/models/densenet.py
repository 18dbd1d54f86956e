"""DenseNet and AGD-Net: dense blocks of (18), in the practical form (21), Sec. 6.2.

A dense block runs (18) with T = :class:`~optnet_nets.models.layers.DenseLayer`:

    z_{k+1} = sum_j alpha_{k+1}^j T(z_j) + beta (z_k - sum_j h_{k+1}^j z_j)        (21)

and outputs the concatenation [z_0, ..., z_K] as DenseNet does. DenseNet (19) is alpha = 1,
beta = 0 (Table 3); AGD-Net is alpha learnable (initialised at 1), beta =
``paper_values.AGDNET_BETA`` and h from (5) (``optnet_theory.nesterov_h``).

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

import torch
from torch import Tensor, nn

from optnet_nets.activation import DEFAULT_ACTIVATION, ActivationFactory, make_activation
from optnet_nets.blocks import MOMENTUM_CHOICES, CoefficientModule, Learnable, live
from optnet_nets.models.layers import DenseLayer, Transition, imagenet_stem, init_weights
from optnet_nets.tables import Spec, agd_beta, dense_table
from optnet_theory import nesterov_h
from optnet_theory.errors import OptnetError

__all__ = ["DenseBlock", "DenseNet", "cifar_densenet", "imagenet_densenet", "method_h_rows"]


class DenseBlock(CoefficientModule):
    """A dense block of (18)/(21); ``forward(z_0)`` returns the concatenation of z_0..z_K.

    Its coefficients are the entries of :func:`~optnet_nets.tables.dense_table`: alpha_{k+1}^j
    (learnable in AGD-Net) and the fixed b_{k+1,j} = beta ([j = k] - h_{k+1,j}) of (21).
    """

    def __init__(
        self,
        in_channels: int,
        n_layers: int,
        growth_rate: int,
        bottleneck: int | None,
        alpha: Spec,
        beta: float,
        memory_efficient: bool,
        phi: ActivationFactory,
        dropout: float = 0.0,
        offset: int = 0,
        h: Sequence[Sequence[float]] | None = None,
    ) -> None:
        layers = [
            DenseLayer(
                [in_channels] + [growth_rate] * k, growth_rate, bottleneck, memory_efficient,
                phi, dropout,
            )
            for k in range(n_layers)
        ]
        if beta == 0.0:
            table = dense_table(n_layers, alpha, 0.0, lambda k: ())
        else:
            first = 0 if in_channels == growth_rate else 1
            table = dense_table(
                n_layers, alpha, agd_beta(beta, _h_rows(n_layers, offset) if h is None else h),
                lambda k: range(first, k + 1),
            )
        super().__init__(
            table,
            1,
            equation="(21) z[k+1] = sum_j alpha_j T(z[j]) + beta (z[k] - sum_j h[k+1][j] z[j])",
        )
        self.blocks = nn.ModuleList(layers)
        #: per layer k: alpha_{k+1}^0..alpha_{k+1}^k, and the nonzero (j, b_{k+1,j}) of the
        #: beta-term (compiled table entries)
        self.alpha = [[self.compiled(t.weight) for t in row.terms] for row in table]
        self.beta_term = [[(j, self.compiled(b)) for j, b in row.skips if live(b)] for row in table]
        self.beta = beta
        self.offset = offset
        self.out_channels = in_channels + n_layers * growth_rate

    def forward(self, z0: Tensor) -> Tensor:
        z = [z0]
        for k, T in enumerate(self.blocks):
            alpha = [self.value(a) for a in self.alpha[k]]
            b = [(j, self.value(c)) for j, c in self.beta_term[k]]
            # z_{k+1} = sum_j alpha_j T(z_j) + sum_j b_j z_j: the alpha_j scale one convolution,
            # and T reads the beta-term from its own concatenation of z_0..z_k
            z.append(T(z, alpha, b))
        return torch.cat(z, 1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f"\nbeta={self.beta:g}, h offset={self.offset}"


def _h_rows(n_layers: int, offset: int) -> list[list[float]]:
    """h_{k+1,j} of (5) for one block, rows 0..n_layers, counted from layer ``offset``.

    ``offset = 0``: ``nesterov_h(n_layers)`` (the schedule restarts). Otherwise the rows
    k0+1..k0+n of ``nesterov_h(k0 + n)``, restricted to the block's columns k0..
    """
    h = nesterov_h(offset + n_layers)
    return [
        [float(h[offset + k1][offset + j]) for j in range(k1)] for k1 in range(n_layers + 1)
    ]


class DenseNet(nn.Module):
    """stem -> dense blocks with transitions -> BN-ReLU -> global pooling -> classifier."""

    def __init__(
        self,
        stem: nn.Module,
        blocks: Sequence[DenseBlock],
        transitions: Sequence[nn.Module],
        classes: int,
        phi: ActivationFactory,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.transitions = nn.ModuleList(transitions)
        width = blocks[-1].out_channels
        self.norm = nn.BatchNorm2d(width)
        self.relu = phi(inplace=True)
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


def method_h_rows(method: str, n_layers: int) -> list[list[float]]:
    """The rows h_{k+1,j} (k1 = k + 1 = 0..n_layers) of ``method``'s dense form (18) for one
    dense block of ``n_layers`` layers: row k1 holds h_{k1-1,0..k1-1} of x_{k+1} = x_k -
    sum_{j<=k} h_{k,j} g_j (:func:`~optnet_theory.methods.history.dense_h`; any name of the
    grammar, e.g. a method file written by ``optnet design``, bound with L = 1 and N = the
    block's layer count). With alpha = h and beta = 1, (21) is then the method's (18) with
    g_j = z_j - T(z_j)."""
    from optnet_theory.methods import get_method, get_spec
    from optnet_theory.methods.history import dense_h

    spec = get_spec(method)
    if spec.horizon is not None and spec.horizon != n_layers:
        raise OptnetError(
            f"method {method!r} is defined for N = {spec.horizon} steps; a dense block here has "
            f"{n_layers} layers, so design for N = {n_layers} (momentum=restart: one run of the "
            f"method per block)"
        )
    bound = get_method(method, L=1.0, N=n_layers if spec.needs_horizon else None)
    return [[], *([float(v) for v in row] for row in dense_h(bound, n_layers))]


def _method_alpha(h: list[list[float]], learnable: bool) -> Spec:
    """alpha_{k+1}^j = h_{k+1,j}: fixed, or learnable from that start."""
    return (lambda k1, j: Learnable(h[k1][j])) if learnable else (lambda k1, j: h[k1][j])


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
    phi: ActivationFactory,
    dropout: float,
    momentum: str,
    method: str | None = None,
) -> DenseNet:
    if momentum not in MOMENTUM_CHOICES:
        raise OptnetError(f"momentum={momentum!r}; accepted: {', '.join(MOMENTUM_CHOICES)}")
    if not 0.0 <= dropout < 1.0:
        raise OptnetError(f"dropout={dropout!r}; accepted: a rate in [0, 1)")
    if method is not None and (momentum != "restart" or beta == 0.0):
        raise OptnetError("method= sets alpha and the h of (21) block by block: it needs "
                          f"momentum=restart and beta != 0, got momentum={momentum!r}, "
                          f"beta={beta!r}")
    blocks, transitions = [], []
    for i, n in enumerate(layers):
        offset = sum(layers[:i]) if momentum == "carry" else 0
        h = None if method is None else method_h_rows(method, n)
        block = DenseBlock(
            width, n, growth_rate, bottleneck,
            _alpha(alpha, learnable_alpha) if h is None else _method_alpha(h, learnable_alpha),
            beta, memory_efficient, phi, dropout, offset, h,
        )
        blocks.append(block)
        width = block.out_channels
        if i < len(layers) - 1:
            out = int(width * compression)
            transitions.append(Transition(width, out, phi, dropout))
            width = out
    model = DenseNet(stem, blocks, transitions, classes, phi)
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
    activation: object = DEFAULT_ACTIVATION,
    dropout: float = 0.0,
    momentum: str = "restart",
    method: str | None = None,
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
        alpha, learnable_alpha, beta, memory_efficient, make_activation(activation), dropout,
        momentum, method,
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
    activation: object = DEFAULT_ACTIVATION,
    dropout: float = 0.0,
    momentum: str = "restart",
    method: str | None = None,
) -> DenseNet:
    """Huang et al.'s ImageNet DenseNet-BC (DenseNet-121: 6, 12, 24, 16; k = 32)."""
    phi = make_activation(activation)
    stem = imagenet_stem(in_channels, 2 * growth_rate, phi)
    return _build(
        stem, 2 * growth_rate, layers, growth_rate, 4 * growth_rate, 0.5, num_classes,
        alpha, learnable_alpha, beta, memory_efficient, phi, dropout, momentum, method,
    )
