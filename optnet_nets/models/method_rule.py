"""The relaxation rule of Sec. 6 ("Relax Phi and W") applied to any registered method.

A method is the linear system xi_{j+1} = A_j xi_j + B_j u_j, y_j = C_j xi_j, u_j = grad f(y_j),
output x = D xi (:mod:`optnet_theory.methods.core`). By Lemma 1 a gradient step on f of (8) is,
in x-coordinates, u = y - Phi(W y) (L = 1 by footnote 3). THE RULE: replace Phi(W y) by a
learned operator T_k (Sec. 6: a composite of convolution, BN and ReLU; every layer k its own
weights), so that layer k of the network is

    y_k = C_k xi_k,    xi_{k+1} = A_k xi_k + B_k (y_k - T_k(y_k)),    x = D xi.

Collected per term, slot i of the new state is

    xi'_i = a_i T_k(y_k) + sum_l b_il xi_l,    a_i = -B_i,    b_il = A_il + B_i C_l,

(:class:`RelaxedLayer`), and (a, b, C) determine (A, B, C) back: B = -a, A = b + a C^T
(:func:`restore`). For gd this is x_{k+1} = T(x_k), a plain CNN (Table 3, first row); for hb with
step 1 and beta = 1 it is x_{k+1} = T(x_k) + x_k - x_{k-1}, HB-Net (Sec. 6.1); for agd it is
x_{k+1} = T(y_k), y_k = x_k + beta_k (x_k - x_{k-1}), i.e. (17) (see docs/method-nets.md).

The coefficients are computed in mpmath at :data:`DIGITS` digits and rounded once to float64;
a coefficient below :data:`ZERO` there is a structural zero and dropped (e.g. tmm's
b = -beta + alpha gamma = 0, whose float64 evaluation leaves 1e-17). This module does not
import torch.

THE RULE, EXTENDED (:class:`Layer`, what :class:`~optnet_nets.models.stage.MethodStage` runs for
every CNN of Sec. 6): a layer has one or more paths p, each a T_p applied to y_p = C_p xi (or,
for a dense block, to the states themselves: sum_l alpha_l T(xi_l)), and its new state is, slot
by slot, either an old slot kept as it is or

    xi'_i = Phi( sum_p a_ip T_p(y_p) + sum_l b_il xi_l )        (Phi only where ``activate``).

* several sub-steps per layer: ADMM-Net/DMRNet (20) has two paths, T'_k on x'_k and T_k on x_k;
* history: a layer may keep every old slot and append new ones, so later layers read all
  earlier states -- a weighted sum in AGD-Net (21) and in the dense form (18) of a method
  (:func:`history_layer`; the slots u_j that only store a gradient are kept, never recombined),
  a concatenation in DenseNet (19);
* Phi after the sum: ResNet's x_{k+1} = ReLU(T(x_k) + x_k).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath

from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method, Step

__all__ = [
    "DEFAULT_KAPPA",
    "DIGITS",
    "ZERO",
    "Entry",
    "Layer",
    "Learned",
    "Path",
    "RelaxedLayer",
    "Update",
    "describe_layer",
    "format_layers",
    "history_layer",
    "learned_layer",
    "relax",
    "relaxed_layer",
    "relaxed_schedule",
    "restore",
    "rule_layer",
]

#: kappa = L/mu of the strongly convex methods' networks (tmm, item) unless mu is given:
#: mu = 1/kappa with L = 1 (footnote 3). A design choice, not a value from the paper.
DEFAULT_KAPPA = 100.0
#: mpmath digits the layer coefficients are computed in before rounding to float64.
DIGITS = 50
#: below this (at DIGITS digits) a coefficient is a structural zero.
ZERO = 1e-30


@dataclass(frozen=True)
class RelaxedLayer:
    """One layer under the rule: xi'_i = a_i T(y) + sum_l b_il xi_l with y = sum_l c_l xi_l.

    ``transform`` = (a_i), ``skip`` = (b_il) row by row, ``point`` = (c_l) = C_k.
    """

    transform: tuple[float, ...]
    skip: tuple[tuple[float, ...], ...]
    point: tuple[float, ...]


@dataclass(frozen=True)
class Learned:
    """A coefficient trained with the network: element ``index`` of the stage's parameter
    ``name`` ("Adaptive Coefficients", Sec. 6). Two entries naming one element are tied."""

    name: str
    index: tuple[int, ...]


#: a coefficient of a layer: a fixed number or a learned one.
Entry = float | Learned


@dataclass(frozen=True)
class Path:
    """One T of a layer: the stage's block ``block`` at y = sum_l point_l xi_l, or, with
    ``concat``, at the states themselves, sum_l point_l T(xi_l) (DenseNet (19): all 1; AGD-Net
    (21): alpha), which a dense layer computes from their concatenation."""

    block: int
    point: tuple[Entry, ...]
    concat: bool = False


@dataclass(frozen=True)
class Update:
    """A new slot: Phi(sum_p transform_p T_p + sum_l skip_l xi_l), Phi only if ``activate``."""

    transform: tuple[Entry, ...]
    skip: tuple[Entry, ...]
    activate: bool = False


@dataclass(frozen=True)
class Layer:
    """One layer of the extended rule (module docstring): its paths and its new state, slot by
    slot -- an int keeps that old slot, an :class:`Update` computes one. The new state may be
    longer than the old (history)."""

    paths: tuple[Path, ...]
    slots: tuple[int | Update, ...]


def _live(value: Entry) -> bool:
    return isinstance(value, Learned) or value != 0.0


def rule_layer(layer: RelaxedLayer, block: int, activate: bool = False) -> Layer:
    """The :class:`Layer` of a relaxed layer (one T, block ``block``): a slot whose row is
    xi'_i = xi_l with a fixed 1 is kept as it is (hb's x_{k-1} <- x_k)."""
    slots: list[int | Update] = []
    for a, row in zip(layer.transform, layer.skip, strict=True):
        read = [l for l, b in enumerate(row) if b != 0.0]
        if a == 0.0 and len(read) == 1 and row[read[0]] == 1.0:
            slots.append(read[0])
        else:
            slots.append(Update((a,), row, activate and a != 0.0))
    return Layer((Path(block, layer.point),), tuple(slots))


def learned_layer(k: int, m: int, block: int) -> Layer:
    """Layer k of a method-net with learnable coefficients: every a_i, b_il and c_l of the
    rule's collected form is element k of the stage's ``transform``, ``skip``, ``point``."""
    point = tuple(Learned("point", (k, l)) for l in range(m))
    return Layer(
        (Path(block, point),),
        tuple(
            Update((Learned("transform", (k, i)),),
                   tuple(Learned("skip", (k, i, l)) for l in range(m)))
            for i in range(m)
        ),
    )


def history_layer(layer: RelaxedLayer, k: int, block: int, learned: int | None = None) -> Layer:
    """Layer k of a method in its dense form (18), on the state (x_k, u_0, ..., u_{k-1}) that
    grows by one stored gradient per layer: x_{k+1} = a T(x_k) + b_x x_k + sum_j b_j u_j, and
    u_k = x_k - T(x_k) appended; the stored u_j are kept, never recombined.

    ``layer`` is the rule's layer on the full state (x, u_0, ..., u_{N-1}) of
    :func:`~optnet_theory.methods.dense.history.history_spec`; anything else is refused. With
    ``learned`` = i0 the k + 2 weights of x_{k+1} are elements i0.. of the stage's
    ``coefficients`` (u_k stays the gradient).
    """
    m = len(layer.point)
    a, b, c = layer.transform, layer.skip, layer.point
    expected_c = tuple(1.0 if l == 0 else 0.0 for l in range(m))
    kept = all(b[i] == tuple(1.0 if l == i else 0.0 for l in range(m)) and a[i] == 0.0
               for i in range(1, m) if i != k + 1)
    written = k + 1 < m and a[k + 1] == -1.0 and b[k + 1] == tuple(
        1.0 if l in (0, k + 1) else 0.0 for l in range(m))
    if c != expected_c or not kept or not written or any(b[0][k + 1:]):
        raise OptnetError(f"layer {k} is not a layer of the dense form (18) on (x, u_0, ...)")
    weights: tuple[Entry, ...] = (a[0], *b[0][: k + 1])
    if learned is not None:
        weights = tuple(Learned("coefficients", (learned + i,)) for i in range(k + 2))
    x_next = Update(weights[:1], weights[1:])
    u_k = Update((-1.0,), (1.0,))  # u_k = x_k - T(x_k): the gradient step's u, L = 1
    return Layer((Path(block, (1.0,)),), (x_next, *range(1, k + 1), u_k))


def relaxed_layer(layer: Layer, value: Callable[[Entry], float], m: int, before: int
                  ) -> RelaxedLayer:
    """A one-path layer read back as the rule's (a, b, C) on m slots (``value`` gives each
    entry's number): a kept slot is xi'_i = xi_l; a slot the layer appends to the ``before``
    old ones reads its own (zero) slot, as the dense form's u_k = 0 + u does; slots past the
    new state are kept as they are."""
    if len(layer.paths) != 1 or layer.paths[0].concat:
        raise OptnetError("only a layer with one T at y = C xi reads back as (A, B, C)")

    def pad(entries: Sequence[Entry]) -> list[float]:
        return [value(v) for v in entries] + [0.0] * (m - len(entries))

    a: list[float] = []
    b: list[tuple[float, ...]] = []
    for i in range(m):
        slot = layer.slots[i] if i < len(layer.slots) else i
        if isinstance(slot, int):
            a.append(0.0)
            b.append(tuple(1.0 if l == slot else 0.0 for l in range(m)))
            continue
        row = pad(slot.skip)
        if i >= before:
            row[i] += 1.0
        a.append(value(slot.transform[0]))
        b.append(tuple(row))
    return RelaxedLayer(tuple(a), tuple(b), tuple(pad(layer.paths[0].point)))


def describe_layer(layer: Layer, terms: int = 4) -> str:
    """A layer as equations in the state slots xi[l], at most ``terms`` terms a sum, e.g.
    ``y0 = xi[0]; xi[0]' = T0(y0) + xi[0] - xi[1]; xi[1]' = xi[0]``."""

    def total(pairs: list[tuple[Entry, str]]) -> str:
        parts = []
        for v, s in pairs:
            if isinstance(v, Learned):
                parts.append(f"+ {v.name}{list(v.index)} {s}")
            elif v != 0.0:
                size = "" if abs(v) == 1.0 else f"{abs(v):.4g} "
                parts.append(f"{'-' if v < 0 else '+'} {size}{s}")
        if len(parts) > terms:
            parts = [*parts[: terms - 1], f"+ ... ({len(parts) - terms} more)", parts[-1]]
        text = " ".join(parts) or "0"
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    lines = []
    for p, path in enumerate(layer.paths):
        if path.concat:
            weights = total([(v, f"T{path.block}(xi[{l}])") for l, v in enumerate(path.point)])
            lines.append(f"t{p} = {weights}")
        else:
            y = total([(v, f"xi[{l}]") for l, v in enumerate(path.point)])
            lines.append(f"t{p} = T{path.block}({y})")
    kept = 0
    while kept < len(layer.slots) and layer.slots[kept] == kept:
        kept += 1
    if kept:
        lines.append(f"xi[0..{kept - 1}] kept")
    for i, slot in enumerate(layer.slots[kept:], kept):
        if isinstance(slot, int):
            lines.append(f"xi[{i}]' = xi[{slot}]")
            continue
        new = total([(v, f"t{p}") for p, v in enumerate(slot.transform)]
                    + [(v, f"xi[{l}]") for l, v in enumerate(slot.skip)])
        lines.append(f"xi[{i}]' = {'Phi(' + new + ')' if slot.activate else new}")
    return "; ".join(lines)


def _round(value: Any) -> float:
    out = float(value)
    return 0.0 if abs(out) < ZERO else out


def relax(step: Step) -> RelaxedLayer:
    """The rule's layer for one sub-step's (A, B, C) (any number type; mpmath is rounded once)."""
    m = len(step.B)
    return RelaxedLayer(
        transform=tuple(_round(-step.B[i]) for i in range(m)),
        skip=tuple(
            tuple(_round(step.A[i][l] + step.B[i] * step.C[l]) for l in range(m))
            for i in range(m)
        ),
        point=tuple(_round(c) for c in step.C),
    )


def restore(layer: RelaxedLayer, readout: Sequence[float]) -> Step:
    """The (A, B, C, D) of a layer: B = -a, A = b + a C^T, with ``readout`` as D (floats)."""
    a, c = layer.transform, layer.point
    return Step(
        A=tuple(
            tuple(b + a[i] * c[l] for l, b in enumerate(row)) for i, row in enumerate(layer.skip)
        ),
        B=tuple(-v for v in a),
        C=tuple(c),
        D=tuple(float(v) for v in readout),
    )


def relaxed_schedule(method: Method, layers: int) -> tuple[list[RelaxedLayer], tuple[float, ...]]:
    """The rule's layers 0..layers-1 of ``method`` and its read-out D after them.

    The horizon of a method that needs one (ogm) is ``layers``. One gradient call per layer:
    a method of several sub-steps (admm's (6)) is refused -- its network is (20), ``admmnet``.
    """
    if method.spec.substeps != 1:
        raise OptnetError(
            f"method {method.name!r} takes {method.spec.substeps} gradient calls per iteration; "
            "the rule builds one T per layer, so it needs one (admm's network is admmnet, (20))"
        )
    steps = method.coefficients(layers, arithmetic="mp", dps=DIGITS)
    with mpmath.workdps(DIGITS):
        out = [relax(st) for st in steps[:layers]]
        readout = tuple(_round(v) for v in steps[layers].D)
    for k, layer in enumerate(out):
        if not any(layer.point):
            raise OptnetError(f"method {method.name!r}: layer {k} reads no point (C_k = 0)")
    return out, readout


def _slot(method: Method, l: int) -> str:
    """The slot's short name: its label up to the first space (agd2's "G_k = ..." is G_k)."""
    names = method.spec.slots
    return names[l].split(" ")[0] if l < len(names) else f"xi[{l}]"


def _combination(terms: list[tuple[float, str]], digits: int) -> str:
    parts = []
    for coefficient, name in terms:
        if coefficient == 0.0:
            continue
        sign = "-" if coefficient < 0 else "+"
        size = abs(coefficient)
        text = name if size == 1.0 else f"{size:.{digits}g} {name}"
        parts.append(f"{sign} {text}")
    if not parts:
        return "0"
    first = parts[0]
    return " ".join([first[2:] if first[0] == "+" else "-" + first[2:], *parts[1:]])


def _layer_lines(method: Method, layer: RelaxedLayer, digits: int) -> list[str]:
    m = len(layer.point)
    y = _combination([(layer.point[l], _slot(method, l)) for l in range(m)], digits)
    lines = [f"    y = {y}"]
    for i in range(m):
        terms = [(layer.transform[i], "T(y)")]
        terms += [(layer.skip[i][l], _slot(method, l)) for l in range(m)]
        lines.append(f"    {_slot(method, i)} <- {_combination(terms, digits)}")
    return lines


def format_layers(method: Method, layers: int, digits: int = 4) -> str:
    """The rule's layers of ``method`` as equations (consecutive equal layers grouped).

    ``s <- ...`` assigns slot s of the new state; every right-hand side reads the old state.
    """
    schedule, readout = relaxed_schedule(method, layers)
    m = method.spec.state_size
    start = ", ".join(
        f"{_slot(method, l)} = {_combination([(v, 'x_0')], digits)}"
        for l, v in enumerate(method.spec.initial)
    )
    lines = [f"{method!r}, {layers} layers; start {start}"]
    k = 0
    while k < len(schedule):
        end = k
        while end + 1 < len(schedule) and schedule[end + 1] == schedule[k]:
            end += 1
        label = f"layer {k}" if end == k else f"layers {k}..{end}"
        lines.append(f"  {label}:")
        lines += _layer_lines(method, schedule[k], digits)
        k = end + 1
    out = _combination([(readout[l], _slot(method, l)) for l in range(m)], digits)
    lines.append(f"  output x = {out}")
    return "\n".join(lines)
