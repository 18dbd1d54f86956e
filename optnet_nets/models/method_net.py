"""Method-nets: the CNN of any registered method by the relaxation rule of Sec. 6.

Layer k of the network is the method's sub-step k with the gradient step replaced by a learned T_k
(:mod:`optnet_nets.models.method_rule`):

    y_k = C_k xi_k,    xi_{k+1} = A_k xi_k + B_k (y_k - T_k(y_k)),    output x = D xi,

run in its collected form by :class:`~optnet_nets.models.stage.MethodStage`, xi holding m feature
maps (the method's state slots), all begun at the stem's output times the method's ``initial``
multipliers (x_{-1} = x_0 for hb, as HB-Net). A method given by its dense form (18) (a method
file, a ``blend:A:B:T`` family, a designed method: state (x_k, u_0, ..., u_{N-1})) runs in that
form with history: layer k computes x_{k+1} = x_k - sum_{j<=k} h_{k,j} u_j with
u_k = x_k - T_k(x_k) appended to the state, the stored u_j never recombined
(:func:`~optnet_nets.models.method_rule.history_layer`). The trunk is the CIFAR ResNet's
(:func:`~optnet_nets.models.trunk.cifar_trunk`: stem, T_k = conv-BN-Phi-conv-BN, a stride-2
first layer and option-A shortcut per stage, pooled classifier, their initialisation), so for hb
with step 1 and beta = 1 the network is ``hbnet`` bit for bit (tested), and every method-net has
ResNet's parameters plus its learnable coefficients.

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
values: K (m^2 + 2m) + m scalars with carry, K (m^2 + 2m) + S m with S stages and restart. In
the dense form the k + 2 weights of x_{k+1} are learned instead (the stage's ``coefficients``),
and the read-out is x.

The per-layer coefficients of a built net, as floats:
:func:`optnet_nets.learned.coefficients.net_coefficients`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from optnet_nets.models.activation import DEFAULT_ACTIVATION, make_activation
from optnet_nets.models.layers import init_weights
from optnet_nets.models.method_rule import (
    DEFAULT_KAPPA,
    RelaxedLayer,
    history_layer,
    learned_layer,
    relaxed_schedule,
    rule_layer,
)
from optnet_nets.models.registry import ACTIVATION, SYNC, Option, register_model, unregister
from optnet_nets.models.stage import MOMENTUM_CHOICES, MethodNet, MethodStage, check_momentum
from optnet_nets.models.trunk import CIFAR_DEPTHS, cifar_layers, cifar_trunk
from optnet_theory.errors import OptnetError
from optnet_theory.lazy import computed_names
from optnet_theory.methods import Method, get_spec
from optnet_theory.methods.catalogue.paper import GD

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
    "method_stage",
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


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"METHOD_NETS": method_nets})

#: accepted values of ``coefficients=``.
COEFFICIENT_CHOICES = ("fixed", "learnable")


def method_stage(
    blocks: Sequence[nn.Module],
    layers: Sequence[RelaxedLayer],
    shortcut: nn.Module | None = None,
    learnable: bool = False,
    history: int | None = None,
) -> MethodStage:
    """The stage running the rule's ``layers`` (one per block) of a method.

    ``learnable``: the (a, b, C) of every layer become the stage's parameters ``transform``,
    ``skip`` and ``point`` (from these values). ``history`` = k0: the layers are layers
    k0, k0 + 1, ... of a method in its dense form (18), run with history
    (:func:`~optnet_nets.models.method_rule.history_layer`).
    """
    if len(blocks) != len(layers):
        raise OptnetError(f"a stage of {len(blocks)} blocks got {len(layers)} layers")
    if history is not None:
        rule, first = [], 0
        for k, lay in enumerate(layers):
            rule.append(history_layer(lay, history + k, k, first if learnable else None))
            first += history + k + 2
        start = [v for lay, r in zip(layers, rule, strict=True) for v in
                 (lay.transform[0], *lay.skip[0][: len(r.slots) - 1])] if learnable else []
        return MethodStage(blocks, rule, shortcut=shortcut, equation="18",
                           parameters={"coefficients": start} if learnable else None)
    if not learnable:
        return MethodStage(blocks, [rule_layer(lay, k) for k, lay in enumerate(layers)],
                           shortcut=shortcut, equation="rule")
    m = len(layers[0].point)
    return MethodStage(
        blocks, [learned_layer(k, m, k) for k in range(len(layers))], shortcut=shortcut,
        equation="rule", parameters={
            "transform": [lay.transform for lay in layers],
            "skip": [lay.skip for lay in layers],
            "point": [lay.point for lay in layers],
        },
    )


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
    check_momentum(momentum)
    n = cifar_layers(depth)
    runs = [3 * n] if momentum == "carry" else [n] * 3  # layers of each run of the method
    bound = [bind_method(method, size, mu, params) for size in runs]
    schedules = [relaxed_schedule(b, size) for b, size in zip(bound, runs, strict=True)]
    layers = [lay for run, _ in schedules for lay in run]
    dense = bound[0].spec.network == "(18)"  # a method given by its dense form runs in it
    trunk = cifar_trunk(n, in_channels, num_classes, make_activation(activation))
    learnable = coefficients == "learnable"
    stages = [
        method_stage(blocks, layers[s * n : (s + 1) * n], shortcut, learnable,
                     history=((s * n if momentum == "carry" else 0) if dense else None))
        for s, (blocks, shortcut) in enumerate(zip(trunk.blocks, trunk.shortcuts, strict=True))
    ]
    readouts = [readout[:1] if dense else readout for _, readout in schedules]
    initial = bound[0].spec.initial[:1] if dense else bound[0].spec.initial
    model = MethodNet(trunk.stem, stages, trunk.fc, initial, readouts, momentum,
                      learnable and not dense, bound[0], "rule")
    init_weights(model)
    return model


def method_net_equation(method: str) -> str:
    """The registry's one-line equation of a method-net family."""
    return f"Sec. 6 rule on {method}: xi' = A xi + B (y - T(y)), y = C xi (docs/method-nets.md)"


#: the options of every method-net: fixed or learnable coefficients, one run or one per stage.
_RUN_OPTIONS = {
    "coefficients": Option(
        "fixed", "the method's coefficients (L = 1) fixed, or learnable from them",
        COEFFICIENT_CHOICES,
    ),
    "momentum": Option(
        "carry", "one run of the method over all layers (carry) or one per stage (restart)",
        MOMENTUM_CHOICES,
    ),
}


def generic_method_options() -> dict[str, Option]:
    """The options of the generic family ``methodnet{depth}`` (any method by name)."""
    return {
        "method": Option(None, "the method: a registered name, a method file (PATH.json) or a "
                         "family string blend:A:B:T (required)", kind=str),
        "mu": Option(None, f"mu with L = 1 for a strongly convex method (default 1/"
                     f"{DEFAULT_KAPPA:g}, or the mu a method file was made for)", kind=float),
        **_RUN_OPTIONS,
    }


def method_net_options(method: str) -> dict[str, Option]:
    """The options of ``method``'s family in the model registry (activation aside)."""
    options = dict(_RUN_OPTIONS)
    if get_spec(method).function_class == "smooth-strongly-convex":
        options["mu"] = Option(
            1.0 / DEFAULT_KAPPA, f"mu = 1/kappa of {method} with L = 1 (default kappa = "
            f"{DEFAULT_KAPPA:g})",
        )
    return options


@register_model(
    "methodnet{}", CIFAR_DEPTHS, equation=method_net_equation("METHOD"), baseline="resnet{}",
    options={**generic_method_options(), "activation": ACTIVATION},
    example={"method": GD.name},  # fixed coefficients: every method has ResNet's count
)
def methodnet(depth: int, *, num_classes: int, in_channels: int, **options: Any) -> MethodNet:
    """The method-net of any method (``method=``: a name, a method file or a family string)."""
    return cifar_method_net(depth, num_classes, in_channels, **options)


#: model name -> method, for the families :func:`_sync_families` registered.
_FAMILIES: dict[str, str] = {}


def _family(prefix: str, method: str) -> None:
    """Register ``method``'s family (``ogmnet`` for ogm, ...) at the CIFAR depths."""

    @register_model(
        prefix + "{}", CIFAR_DEPTHS, equation=method_net_equation(method), baseline="resnet{}",
        options={**method_net_options(method), "activation": ACTIVATION},
    )
    def family(depth: int, *, num_classes: int, in_channels: int, **options: Any) -> MethodNet:
        return cifar_method_net(depth, num_classes, in_channels, method=method, **options)

    _FAMILIES.update((f"{prefix}{d}", method) for d in CIFAR_DEPTHS)


def _sync_families() -> None:
    """The family of every registered method with a network prefix (Sec. 6's rule on it),
    and none for a method no longer registered."""
    current = method_nets()
    gone = [name for name, method in _FAMILIES.items() if method not in current.values()]
    unregister(gone)
    for name in gone:
        del _FAMILIES[name]
    for prefix, method in current.items():
        if f"{prefix}{CIFAR_DEPTHS[0]}" not in _FAMILIES:
            _family(prefix, method)


SYNC.append(_sync_families)
_sync_families()
