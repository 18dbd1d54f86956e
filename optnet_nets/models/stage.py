"""The one stage of every CNN of Sec. 6: a method's step with the gradient step relaxed.

A method is the linear system xi' = A xi + B u, y = C xi, u = grad f(y) (L = 1); by Lemma 1 a
gradient step is u = y - Phi(W y), and Sec. 6 ("Relax Phi and W") replaces Phi(W y) by a learned
T. :class:`MethodStage` runs that step layer by layer, in the rule's collected form
(:mod:`optnet_nets.models.method_rule`, :class:`~optnet_nets.models.method_rule.Layer`):

    y_p = C_p xi,    xi'_i = Phi( sum_p a_ip T_p(y_p) + sum_l b_il xi_l )   (or xi'_i = xi_l),

which is xi' = A xi + B (y - T(y)) with a = -B, b = A + B C^T, and computes the network's own
equation in its own order: HB-Net (Sec. 6.1) T(x_k) + x_k - x_{k-1}, ResNet ReLU(T(x_k) + x_k),
(16), (17), ADMM-Net/DMRNet (20) with two paths and a merge sum, DenseNet (19) and AGD-Net (21)
over all earlier states, and the layers of any registered method (method-nets).

The arithmetic, per new slot: the T-terms first, then the b-terms in slot order, term by term
(:func:`combine`: a fixed 0 is left out, a fixed 1 not multiplied). A b-sum
that several new slots share (the merge S_k of (20)) is computed once and added after their
T-terms; one over three or more fixed terms of equal shape (the dense form (18)) is one batched
product over their stack. A dense layer whose one update is T plus fixed b-terms over states of
the growth rate's width (the h-term of AGD-Net (21)) is one call of its block, which reads the
b-sum from the concatenation it makes anyway
(:meth:`~optnet_nets.models.layers.DenseLayer.can_fuse`; no copy of the states).

Stage transitions (Sec. 6, "Block Based Structure"): the first layer's T reads the un-mapped
state (its first convolution has stride 2), and every slot that the layer's sums read or keep
is mapped by the stage's shortcut, all in one :func:`map_states` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from optnet_nets.models.method_rule import Entry, Layer, Learned, Path, Update, describe_layer
from optnet_nets.models.reversible import hb_reversible
from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method

__all__ = ["MOMENTUM_CHOICES", "MethodNet", "MethodStage", "check_momentum", "combine",
           "map_states"]

#: How a network of several stages (Sec. 6, "Block Based Structure") treats the momentum state
#: at a stage boundary: ``carry`` it on (mapped by the shortcut), or ``restart`` the recurrence
#: from zero momentum in each stage.
MOMENTUM_CHOICES = ("carry", "restart")


def check_momentum(momentum: object) -> str:
    """``momentum`` if it is one of :data:`MOMENTUM_CHOICES`, else a one-line error."""
    if momentum not in MOMENTUM_CHOICES:
        raise OptnetError(f"momentum={momentum!r}; accepted: {', '.join(MOMENTUM_CHOICES)}")
    return str(momentum)


#: a b-sum over at least this many fixed terms of equal shape is one batched product.
BATCHED = 3

_Terms = tuple[tuple[int, Entry], ...]


def combine(pairs: Sequence[tuple[Tensor, float | Tensor]]) -> Tensor | None:
    """sum_i c_i x_i in the order given, None for an empty sum.

    A constant 0 drops its term (so a state it names is never needed), a constant 1 is not
    multiplied and a constant -1 is subtracted (HB-Net's - x_{k-1}: the same bits as adding
    -x_{k-1}, and a negation in backward rather than a product). Every stage and the tests'
    multistep oracle share this arithmetic, so that a model and its table compute the same bits
    wherever their sums agree.
    """
    out: Tensor | None = None
    for x, c in pairs:
        if isinstance(c, Tensor):
            out = x * c if out is None else out + x * c
        elif c == 0.0:
            continue
        elif out is None:
            out = x if c == 1.0 else x * c
        elif c == 1.0:
            out = out + x
        else:
            out = out - x if c == -1.0 else torch.add(out, x, alpha=c)
    return out


def map_states(shortcut: nn.Module, states: Sequence[Tensor]) -> list[Tensor]:
    """The shortcut images of ``states`` (Sec. 6, "Block Based Structure"); a tensor given twice
    is mapped once. A shortcut with a ``map_states`` method maps them all in one call (a
    projection with BN: one pass, one running-statistics update); any other module is called
    once per distinct tensor."""
    distinct: list[Tensor] = []
    for x in states:
        if not any(d is x for d in distinct):
            distinct.append(x)
    several = getattr(shortcut, "map_states", None)
    images = list(several(distinct)) if several is not None else [shortcut(d) for d in distinct]
    return [images[next(n for n, d in enumerate(distinct) if d is x)] for x in states]


@dataclass(frozen=True)
class _Slot:
    """A compiled :class:`Update`: live T-terms (path, a), the b-terms or a shared sum's index."""

    transform: _Terms
    skip: _Terms | int
    activate: bool


@dataclass(frozen=True)
class _Plan:
    """A compiled :class:`Layer`: live terms only, shared sums found, mapped slots listed."""

    paths: tuple[tuple[int, bool, _Terms], ...]  # (block, concat, point terms)
    sums: tuple[tuple[_Terms, bool], ...]  # (terms, batched)
    slots: tuple[int | _Slot, ...]
    mapped: tuple[int, ...]  # slots the shortcut maps at a stage transition


def _live(terms: Sequence[Entry]) -> _Terms:
    return tuple((l, v) for l, v in enumerate(terms) if isinstance(v, Learned) or v != 0.0)


def _compile(layer: Layer) -> _Plan:
    paths = tuple(
        (p.block, p.concat, tuple(enumerate(p.point)) if p.concat else _live(p.point))
        for p in layer.paths
    )
    skips = [_live(s.skip) for s in layer.slots if isinstance(s, Update)]
    shared = [t for t in dict.fromkeys(skips) if len(t) >= 2 and skips.count(t) >= 2]
    sums = list(shared) + [
        t for t in dict.fromkeys(skips)
        if t not in shared and len(t) >= BATCHED and all(isinstance(v, float) for _, v in t)
    ]
    slots: list[int | _Slot] = []
    for s in layer.slots:
        if isinstance(s, int):
            slots.append(s)
            continue
        terms = _live(s.skip)
        skip: _Terms | int = sums.index(terms) if terms in sums else terms
        slots.append(_Slot(_live(s.transform), skip, s.activate))
    read = {l for t in skips for l, _ in t} | {s for s in layer.slots if isinstance(s, int)}
    batched = [len(t) >= BATCHED and all(isinstance(v, float) for _, v in t) for t in sums]
    return _Plan(paths, tuple(zip(sums, batched, strict=True)), tuple(slots),
                 tuple(sorted(read)))


class MethodStage(nn.Module):
    """One stage of a CNN of Sec. 6: ``forward(xi)`` runs its layers on the state slots.

    ``blocks`` are the T modules the layers' paths name; ``layers`` the rule's layers
    (:class:`~optnet_nets.models.method_rule.Layer`); ``parameters`` the initial values of the
    learned coefficients by name (one ``nn.Parameter`` each, e.g. ``coefficients``).
    ``activation``: the Phi of an update with ``activate``. ``keep``: return only the last
    ``keep`` slots (ADMM's pair); ``concat``: return their concatenation (a dense block).
    ``reversible``: layers 1.. are HB-Net's, run by
    :func:`~optnet_nets.models.reversible.hb_reversible`.
    """

    def __init__(
        self,
        blocks: Sequence[nn.Module],
        layers: Sequence[Layer],
        *,
        shortcut: nn.Module | None = None,
        activation: nn.Module | None = None,
        parameters: Mapping[str, Any] | None = None,
        keep: int | None = None,
        concat: bool = False,
        reversible: bool = False,
        equation: str = "",
    ) -> None:
        super().__init__()
        for name, init in (parameters or {}).items():
            self.register_parameter(name, nn.Parameter(torch.tensor(init)))
        self.blocks = nn.ModuleList(blocks)
        self.shortcut = shortcut
        self.activation = activation
        self.layers = tuple(layers)
        self.keep, self.concat, self.reversible = keep, concat, reversible
        self.equation = equation
        self._plans = [_compile(layer) for layer in self.layers]
        #: per layer: (slot, b-terms) of an update its one dense path computes with its T
        self._fused = [None if shortcut is not None else _fusable(layer, self.blocks)
                       for layer in self.layers]
        if reversible and not all(_is_hb(layer, k) for k, layer in enumerate(self.layers)):
            raise OptnetError(
                "reversible=True needs the invertible HB layer of Sec. 6.1: structure="
                "'heavy-ball', fixed beta1=1, beta2=-1 and activate_sum=False"
            )
        if any(s.activate for p in self._plans for s in p.slots if isinstance(s, _Slot)) and (
                activation is None):
            raise OptnetError("a layer applies Phi after its sum, but the stage has no Phi")

    def value(self, entry: Entry) -> float | Tensor:
        """A coefficient: the number, or the trained element of its parameter."""
        if isinstance(entry, Learned):
            return getattr(self, entry.name)[entry.index]
        return entry

    def number(self, entry: Entry) -> float:
        """A coefficient as a float (a trained one read without its gradient)."""
        value = self.value(entry)
        return float(value.detach()) if isinstance(value, Tensor) else float(value)

    def forward(self, xi: list[Tensor]) -> list[Tensor]:
        for k, plan in enumerate(self._plans):
            if k == 1 and self.reversible:  # x_{k+1} = T(x_k) + x_k - x_{k-1}, rebuilt in backward
                x_prev, x = hb_reversible(self.blocks[1:], xi[1], xi[0])
                xi = [x, x_prev]
                break
            fused = self._fused[k]
            if fused is not None:  # z' = sum_j alpha_j T(z_j) + sum_j b_j z_j, in one call
                block, _, weights = plan.paths[0]
                new = self.blocks[block](xi, [self.value(v) for _, v in weights], fused[1])
                xi = [xi[s] if isinstance(s, int) else new for s in plan.slots]
                continue
            t = [self._transform(plan, p, xi) for p in range(len(plan.paths))]  # T_p(y_p)
            if k == 0 and self.shortcut is not None:
                xi = self._map(xi, plan.mapped)
            sums = [self._sum(terms, batched, xi) for terms, batched in plan.sums]
            xi = [xi[s] if isinstance(s, int) else self._update(s, t, sums, xi)
                  for s in plan.slots]
        if self.concat:
            return [torch.cat(xi, 1)]
        return xi if self.keep is None else xi[-self.keep :]

    def _transform(self, plan: _Plan, p: int, xi: list[Tensor]) -> Tensor:
        """T_p(y_p), y_p = C_p xi; or sum_l alpha_l T(xi_l) over the states (a dense layer)."""
        block, concat, terms = plan.paths[p]
        T = self.blocks[block]
        if concat:
            return T(xi, [self.value(v) for _, v in terms])
        y = combine([(xi[l], self.value(c)) for l, c in terms])
        if y is None:
            raise OptnetError(f"a layer's T reads no point (C = 0) in block {block}")
        return T(y)

    def _map(self, xi: list[Tensor], mapped: Sequence[int]) -> list[Tensor]:
        assert self.shortcut is not None
        out = list(xi)
        for l, image in zip(mapped, map_states(self.shortcut, [xi[l] for l in mapped]),
                            strict=True):
            out[l] = image
        return out

    def _sum(self, terms: _Terms, batched: bool, xi: list[Tensor]) -> Tensor:
        """sum_l b_l xi_l, term by term or, batched, as one product over the stacked xi_l."""
        states = [xi[l] for l, _ in terms]
        if batched and all(s.shape == states[0].shape for s in states):
            b = torch.tensor([v for _, v in terms], dtype=states[0].dtype,
                             device=states[0].device)
            stack = torch.stack(states, 1)
            return torch.matmul(b.view(1, -1), stack.reshape(stack.shape[0], len(states), -1)
                                ).reshape(states[0].shape)
        out = combine([(x, self.value(v)) for x, (_, v) in zip(states, terms, strict=True)])
        assert out is not None  # only live terms are compiled
        return out

    def _update(self, slot: _Slot, t: list[Tensor], sums: list[Tensor], xi: list[Tensor]
                ) -> Tensor:
        """xi'_i = Phi(sum_p a_ip T_p + sum_l b_il xi_l): the T-terms first, then the b-terms."""
        pairs = [(t[p], self.value(a)) for p, a in slot.transform]
        if isinstance(slot.skip, int):
            pairs.append((sums[slot.skip], 1.0))
        else:
            pairs += [(xi[l], self.value(b)) for l, b in slot.skip]
        new = combine(pairs)
        if new is None:  # every coefficient a fixed zero
            return torch.zeros_like(t[0])
        if slot.activate:
            assert self.activation is not None  # checked when built
            return self.activation(new)
        return new

    def extra_repr(self) -> str:
        lines = [f"equation={self.equation!r}, layers={len(self.layers)}"]
        shown = self.layers if len(self.layers) <= 3 else self.layers[:2]
        lines += [f"layer {k}: {describe_layer(layer)}" for k, layer in enumerate(shown)]
        if len(shown) < len(self.layers):
            lines.append(f"... layer {len(self.layers) - 1}: {describe_layer(self.layers[-1])}")
        if self.reversible:
            lines.append("reversible=True")
        return "\n".join(lines)


def _fusable(layer: Layer, blocks: nn.ModuleList) -> tuple[int, _Terms] | None:
    """(slot, b-terms) when the layer is one dense path T and one update z' = T + sum_l b_l z_l
    with fixed b over states its block can read from its own concatenation (AGD-Net (21):
    ``DenseLayer.can_fuse``); None otherwise (the layer then runs term by term)."""
    updates = [(i, s) for i, s in enumerate(layer.slots) if isinstance(s, Update)]
    if len(layer.paths) != 1 or not layer.paths[0].concat or len(updates) != 1:
        return None
    slot, update = updates[0]
    terms = _live(update.skip)
    if (update.activate or update.transform != (1.0,) or not terms
            or not all(isinstance(v, float) for _, v in terms)):
        return None
    can_fuse = getattr(blocks[layer.paths[0].block], "can_fuse", None)
    return (slot, terms) if can_fuse is not None and can_fuse([l for l, _ in terms]) else None


def _is_hb(layer: Layer, k: int) -> bool:
    """Whether layer k is HB-Net's x_{k+1} = T_k(x_k) + x_k - x_{k-1} on (x_k, x_{k-1})."""
    return layer == Layer((Path(k, (1.0, 0.0)),), (Update((1.0,), (1.0, -1.0)), 0))


class MethodNet(nn.Module):
    """stem -> xi_0 = initial (x) x_0 -> stages -> x = D xi -> pooling -> classifier.

    ``momentum="restart"`` begins every stage afresh, xi = initial (x) (D xi) with that stage's
    read-out (one per stage); ``"carry"`` passes the state on (one read-out, at the end).
    ``learnable`` makes the read-outs a parameter ``readout``. ``method``: the method the
    stages run (method-nets), ``equation``: the paper's equation they implement.
    """

    def __init__(
        self,
        stem: nn.Module,
        stages: Sequence[MethodStage],
        fc: nn.Module,
        initial: Sequence[float],
        readouts: Sequence[Sequence[float]],
        momentum: str = "carry",
        learnable: bool = False,
        method: Method | None = None,
        equation: str = "",
    ) -> None:
        super().__init__()
        check_momentum(momentum)
        expected = len(stages) if momentum == "restart" else 1
        if len(readouts) != expected:
            raise OptnetError(f"momentum={momentum!r} needs {expected} read-outs")
        if not all(any(d) for d in readouts):
            name = method.name if method is not None else equation
            raise OptnetError(f"method {name!r} reads out nothing (D = 0)")
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = fc
        self.method = method
        self.equation = equation
        self.momentum = momentum
        self.initial = tuple(float(v) for v in initial)
        self.readouts = tuple(tuple(float(v) for v in d) for d in readouts)
        self.readout = nn.Parameter(torch.tensor(self.readouts)) if learnable else None

    def read(self, xi: list[Tensor], stage: int) -> Tensor:
        """x = D xi with the read-out of ``stage`` (the only one with carry) over the first
        slots (a stage's stored history is not read out)."""
        r = stage if self.momentum == "restart" else 0
        D = self.readouts[r] if self.readout is None else self.readout[r]
        x = combine([(xi[l], D[l]) for l in range(len(self.readouts[r]))])
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
        what = f"method={self.method!r}" if self.method is not None else f"{self.equation!r}"
        return f"{what}, momentum={self.momentum!r}"
