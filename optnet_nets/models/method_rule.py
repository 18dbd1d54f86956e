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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mpmath

from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method, Step

__all__ = [
    "DEFAULT_KAPPA",
    "DIGITS",
    "ZERO",
    "RelaxedLayer",
    "format_layers",
    "relax",
    "relaxed_schedule",
    "restore",
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
