"""Method-nets: the CNN of any registered method by the relaxation rule of Sec. 6.

Layer k of the network is the method's sub-step k with the gradient step replaced by a learned T_k
(:mod:`optnet_nets.models.method_rule`):

    y_k = C_k xi_k,    xi_{k+1} = A_k xi_k + B_k (y_k - T_k(y_k)),    output x = D xi,

xi holding m feature maps (the method's state slots), all begun at the stem's output times the
method's ``initial`` multipliers (x_{-1} = x_0 for hb, as HB-Net). The trunk is the CIFAR
ResNet's, built by :func:`optnet_nets.models.resnet.cifar_resnet` and taken over module by
module: the stem, every T_k = conv-BN-Phi-conv-BN
(:class:`~optnet_nets.models.layers.ResidualBranch`), the stride-2 first layer and option-A
shortcut of each stage, the pooled classifier and their initialisation. Only the recurrence is
new, so for hb with step 1 and beta = 1 the network is ``hbnet`` bit for bit (tested), and every
method-net has ResNet's parameters plus its learnable coefficients.

Stage transitions (Sec. 6, "Block Based Structure"), as HB-Net does for x_{k-1}: the first layer
of a stage reads y = C xi from the un-mapped slots (its T down-samples), and EVERY slot of xi
that the layer's sum reads is mapped by the stage's shortcut before the sum.

``momentum``: ``"carry"`` (default) runs the method once over all K layers of the network:
coefficient index k = 0..K-1 across stages, horizon N = K (ogm), one read-out D at the end.
``"restart"`` runs it afresh in every stage: before each stage xi = initial (x) (D xi), the
schedule restarts at k = 0 with horizon N = the stage's layer count, as if each stage were a
network of its own (HB-Net's ``momentum="restart"``).

``coefficients``: ``"fixed"`` uses the method's values with L = 1 (no parameters); ``"learnable"``
makes every layer's a (m), b (m x m) and C (m) of the rule's collected form, and the read-out D
(one per stage with ``restart``, else one), ``nn.Parameter`` s initialised at the method's
values: K (m^2 + 2m) + m scalars with carry, K (m^2 + 2m) + S m with S stages and restart.

The per-layer coefficients of a built net, as floats:
:func:`optnet_nets.net_coefficients.net_coefficients`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from optnet_nets.activation import DEFAULT_ACTIVATION
from optnet_nets.blocks import MOMENTUM_CHOICES, combine, map_states
from optnet_nets.models.method_rule import DEFAULT_KAPPA, RelaxedLayer, relaxed_schedule
from optnet_nets.models.resnet import HeavyBallStage, cifar_resnet
from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method, get_spec

if TYPE_CHECKING:  # pragma: no cover
    from optnet_nets.models import Option

__all__ = [
    "COEFFICIENT_CHOICES",
    "MethodNet",
    "MethodStage",
    "bind_method",
    "cifar_method_net",
    "generic_method_options",
    "method_net_equation",
    "method_net_options",
    "method_nets",
]  # and METHOD_NETS (computed)



def method_nets() -> dict[str, str]:
    """The families: model name prefix -> method (at the CIFAR depths 20, 32, 44, 56, 110), one
    per registered method with a :attr:`~optnet_theory.methods.MethodSpec.network_prefix`, read
    when called (a method registered later has its family)."""
    from optnet_theory.methods import list_methods

    out = {}
    for name in list_methods():
        prefix = get_spec(name).network_prefix
        if prefix is not None:
            out[prefix] = name
    return out


def __getattr__(name: str) -> Any:
    if name == "METHOD_NETS":  # computed when read: the registry may have grown
        return method_nets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: accepted values of ``coefficients=``.
COEFFICIENT_CHOICES = ("fixed", "learnable")


class MethodStage(nn.Module):
    """One stage: ``forward(xi)`` runs its layers on the m slots and returns the new slots.

    ``layers[k]`` are layer k's coefficients (the start values when ``learnable``).
    """

    def __init__(
        self,
        blocks: nn.ModuleList,
        shortcut: nn.Module | None,
        layers: Sequence[RelaxedLayer],
        learnable: bool,
    ) -> None:
        super().__init__()
        if len(blocks) != len(layers):
            raise OptnetError(f"a stage of {len(blocks)} blocks got {len(layers)} layers")
        self.blocks = blocks
        self.shortcut = shortcut
        self.layers = tuple(layers)
        self.transform: nn.Parameter | None = None
        self.skip: nn.Parameter | None = None
        self.point: nn.Parameter | None = None
        if learnable:
            self.transform = nn.Parameter(torch.tensor([lay.transform for lay in layers]))
            self.skip = nn.Parameter(torch.tensor([lay.skip for lay in layers]))
            self.point = nn.Parameter(torch.tensor([lay.point for lay in layers]))

    def coefficients(self, k: int) -> tuple[Any, Any, Any]:
        """(a, b, c) of layer k: floats when fixed, rows of the parameters when learnable."""
        if self.transform is None or self.skip is None or self.point is None:
            lay = self.layers[k]
            return lay.transform, lay.skip, lay.point
        return self.transform[k], self.skip[k], self.point[k]

    def _map(self, xi: list[Tensor], b: Any) -> list[Tensor]:
        """The slots the sum reads, through the shortcut in one :func:`map_states` call (as
        HB-Net's stages map theirs)."""
        assert self.shortcut is not None
        m = len(xi)
        read = [
            l for l in range(m)
            if any(isinstance(b[i][l], Tensor) or b[i][l] != 0.0 for i in range(m))
        ]
        out = list(xi)
        for l, image in zip(read, map_states(self.shortcut, [xi[l] for l in read]), strict=True):
            out[l] = image
        return out

    def forward(self, xi: list[Tensor]) -> list[Tensor]:
        m = len(xi)
        for k, block in enumerate(self.blocks):
            a, b, c = self.coefficients(k)
            y = combine([(xi[l], c[l]) for l in range(m)])
            assert y is not None  # relaxed_schedule refuses a layer with C_k = 0
            t = block(y)
            if k == 0 and self.shortcut is not None:
                xi = self._map(xi, b)
            new = []
            for i in range(m):
                slot = combine([(t, a[i])] + [(xi[l], b[i][l]) for l in range(m)])
                new.append(torch.zeros_like(t) if slot is None else slot)
            xi = new
        return xi

    def extra_repr(self) -> str:
        kind = "fixed" if self.transform is None else "learnable"
        return f"layers={len(self.layers)}, coefficients={kind}"


class MethodNet(nn.Module):
    """stem -> xi_0 = initial (x) x_0 -> stages -> x = D xi -> pooling -> classifier."""

    def __init__(
        self,
        method: Method,
        stem: nn.Module,
        stages: Sequence[MethodStage],
        fc: nn.Module,
        readouts: Sequence[tuple[float, ...]],
        learnable: bool,
        momentum: str,
    ) -> None:
        super().__init__()
        expected = len(stages) if momentum == "restart" else 1
        if len(readouts) != expected:
            raise OptnetError(f"momentum={momentum!r} needs {expected} read-outs")
        if not all(any(d) for d in readouts):
            raise OptnetError(f"method {method.name!r} reads out nothing (D = 0)")
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = fc
        self.method = method
        self.momentum = momentum
        self.initial = tuple(float(v) for v in method.spec.initial)
        self.readouts = tuple(readouts)
        self.readout = nn.Parameter(torch.tensor(readouts)) if learnable else None

    def read(self, xi: list[Tensor], stage: int) -> Tensor:
        """x = D xi with the read-out of ``stage`` (the only one with carry)."""
        r = stage if self.momentum == "restart" else 0
        D = self.readouts[r] if self.readout is None else self.readout[r]
        x = combine([(xi[l], D[l]) for l in range(len(xi))])
        assert x is not None  # D = 0 is refused when built
        return x

    def start(self, x: Tensor) -> list[Tensor]:
        """xi_0 = initial (x) x: slot l is x itself for 1, zeros for 0, else a multiple."""
        return [x if v == 1.0 else torch.zeros_like(x) if v == 0.0 else x * v for v in self.initial]

    def forward(self, x: Tensor) -> Tensor:
        xi = self.start(self.stem(x))
        for s, stage in enumerate(self.stages):
            if self.momentum == "restart" and s > 0:
                xi = self.start(self.read(xi, s - 1))
            xi = stage(xi)
        x = self.read(xi, len(self.stages) - 1)
        return self.fc(torch.flatten(self.pool(x), 1))

    def extra_repr(self) -> str:
        return f"method={self.method!r}, momentum={self.momentum!r}"


def bind_method(name: str | None, layers: int, mu: float | None, params: dict[str, Any]
                ) -> Method:
    """``name`` (the method grammar) with L = 1 (footnote 3) for a run of ``layers`` layers:
    horizon N = layers where the method needs one (a method file's own horizon must be
    ``layers``); mu = the method file's mu, else 1/DEFAULT_KAPPA for a strongly convex method,
    unless given."""
    if name is None:
        raise OptnetError("methodnet needs method=NAME (a registered method, a method file or "
                          "a family string blend:A:B:T)")
    spec = get_spec(name)
    if spec.horizon is not None and spec.horizon != layers * spec.substeps:
        raise OptnetError(
            f"method {name!r} is defined for N = {spec.horizon} steps; its network needs "
            f"{layers} layers in each run of the method here (momentum carry: all layers; "
            f"restart: each stage's), so build a network of that size or design for N = "
            f"{layers}"
        )
    if mu is None:
        mu = (spec.default_mu if spec.default_mu else 1.0 / DEFAULT_KAPPA) if (
            spec.function_class == "smooth-strongly-convex") else 0.0
    horizon = layers if spec.needs_horizon else None
    return spec.bind(L=1.0, mu=mu, N=horizon, **params)


def cifar_method_net(
    depth: int,
    num_classes: int,
    in_channels: int,
    method: str | None,
    mu: float | None = None,
    coefficients: str = "fixed",
    momentum: str = "carry",
    activation: object = DEFAULT_ACTIVATION,
    **params: Any,
) -> MethodNet:
    """The method-net of ``method`` on the CIFAR ResNet-``depth`` trunk (module docstring).

    ``params`` are the method's own (e.g. ``beta=1.0, step=1.0`` for hb).
    """
    if coefficients not in COEFFICIENT_CHOICES:
        raise OptnetError(
            f"coefficients={coefficients!r}; accepted: {', '.join(COEFFICIENT_CHOICES)}"
        )
    if momentum not in MOMENTUM_CHOICES:
        raise OptnetError(f"momentum={momentum!r}; accepted: {', '.join(MOMENTUM_CHOICES)}")
    trunk = cifar_resnet(depth, num_classes, in_channels, activation=activation)
    hb_stages = [stage for stage in trunk.stages if isinstance(stage, HeavyBallStage)]
    assert len(hb_stages) == len(trunk.stages)  # cifar_resnet builds only these
    sizes = [len(stage.blocks) for stage in hb_stages]
    runs = [sum(sizes)] if momentum == "carry" else sizes  # layers of each run of the method
    bound = [bind_method(method, n, mu, params) for n in runs]
    schedules = [relaxed_schedule(b, n) for b, n in zip(bound, runs, strict=True)]
    layers = [lay for run, _ in schedules for lay in run]
    learnable = coefficients == "learnable"
    stages = [
        MethodStage(stage.blocks, stage.shortcut, layers[sum(sizes[:s]) : sum(sizes[: s + 1])],
                    learnable)
        for s, stage in enumerate(hb_stages)
    ]
    readouts = [readout for _, readout in schedules]
    return MethodNet(bound[0], trunk.stem, stages, trunk.fc, readouts, learnable, momentum)


def method_net_equation(method: str) -> str:
    """The registry's one-line equation of a method-net family."""
    return f"Sec. 6 rule on {method}: xi' = A xi + B (y - T(y)), y = C xi (docs/method-nets.md)"


def generic_method_options() -> dict[str, Option]:
    """The options of the generic family ``methodnet{depth}`` (any method by name)."""
    from optnet_nets.models import Option  # the registry's class; it imports this module

    return {
        "method": Option(None, "the method: a registered name, a method file (PATH.json) or a "
                         "family string blend:A:B:T (required)", kind=str),
        "mu": Option(None, f"mu with L = 1 for a strongly convex method (default 1/"
                     f"{DEFAULT_KAPPA:g}, or the mu a method file was made for)", kind=float),
        "coefficients": Option(
            "fixed", "the method's coefficients (L = 1) fixed, or learnable from them",
            COEFFICIENT_CHOICES,
        ),
        "momentum": Option(
            "carry", "one run of the method over all layers (carry) or one per stage (restart)",
            MOMENTUM_CHOICES,
        ),
    }


def method_net_options(method: str) -> dict[str, Option]:
    """The options of ``method``'s family in the model registry (activation aside)."""
    from optnet_nets.models import Option  # the registry's class; it imports this module

    options = {
        "coefficients": Option(
            "fixed", "the method's coefficients (L = 1) fixed, or learnable from them",
            COEFFICIENT_CHOICES,
        ),
        "momentum": Option(
            "carry", "one run of the method over all layers (carry) or one per stage (restart)",
            MOMENTUM_CHOICES,
        ),
    }
    if get_spec(method).function_class == "smooth-strongly-convex":
        options["mu"] = Option(
            1.0 / DEFAULT_KAPPA, f"mu = 1/kappa of {method} with L = 1 (default kappa = "
            f"{DEFAULT_KAPPA:g})",
        )
    return options
