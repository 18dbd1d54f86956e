"""The program of an unrolled method network, generated from the method's description.

A method of :mod:`optnet_theory.methods` is the linear system xi_{j+1} = A_j xi_j + B_j u_j,
y_j = C_j xi_j, output x = D xi. Its network (Lemma 1, with footnote 3's L = 1) feeds back
u_j = y_j - Phi(W_k y_j), so sub-step j of layer k is

    y_j = C_j xi_j,    s_j = Phi(W_k y_j),    xi_{j+1} = A'_j xi_j - B_j s_j,    A' = A + B C^T,

and the s sub-steps of layer k share W_k (linearized ADMM (14) has two). :func:`build_plan` turns
the coefficients of every sub-step into a straight-line program over whole tensors:

- :class:`Lin` statements ``out = sum_i c_i v_i`` (zero coefficients and zero slots dropped; a
  slot that only moves, or a unit combination of one value, is the same tensor: no statement);
- :class:`Product` statements ``s = Phi(y W_k)``, one batched product per layer when the inputs
  of its sub-steps do not depend on each other (the two products of (14) then share one call).

Each new slot is written with the fewest terms among its direct form and forms through a value
computed just before (e.g. (13)'s y_{k+1} = y_k - G_{k+1} instead of four terms), and each
combination is evaluated by the fewest torch calls (:func:`synthesize`: add with alpha, lerp,
in-place updates). So the generated network does no more element-wise work than the hand-written
layer maps did. :func:`~optnet_nets.unrolled.adjoint_plan.adjoint_plan` derives the reverse
program (the gradient) from the same statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from typing import NamedTuple

from optnet_theory.methods import Step

__all__ = [
    "Lin",
    "Op",
    "Plan",
    "Product",
    "build_plan",
    "step_matrices",
    "synthesize",
]

Term = tuple[float, int]


class Op(NamedTuple):
    """One torch call writing the output o of a combination, on values ``values`` (ids):
    "copy" o = a; "zero" o = 0; "mul" o = c a; "add" o = a + c b; "lerp" o = a + c (b - a);
    and in place: "iadd" o += c b; "ilerp" o += c (b - o); "imul" o *= c."""

    kind: str
    values: tuple[int, ...] = ()
    c: float = 0.0


_EPS = 2.0**-50  # relative size below which a cancellation is an exact zero (or a unit)


@dataclass(frozen=True)
class Lin:
    """``out = sum c v`` over ``terms``, computed by ``ops`` into a fresh tensor."""

    out: int
    terms: tuple[Term, ...]
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class Product:
    """``ss[t] = Phi(ys[t] W_layer)`` for each t, as one stacked product."""

    layer: int
    ys: tuple[int, ...]
    ss: tuple[int, ...]


@dataclass
class Plan:
    """A network's forward program for ``depth`` layers (values are ints; 0 is x_0).

    ``ends[k]``: index of the first statement after layer k-1 (``ends[0] = 0``);
    ``slots[k]``: the state's values after k layers (None: identically zero);
    ``readout[k]``: the output x_k = D xi as terms over ``slots[k]``'s values;
    ``output``: the value of x_depth (computed by the last statement unless it is an alias).
    """

    statements: list[Lin | Product]
    count: int
    ends: list[int]
    slots: list[tuple[int | None, ...]]
    readout: list[tuple[Term, ...]]
    output: int


# --------------------------------------------------------------------------- combinations
def _is_one(x: float) -> bool:
    return abs(x - 1.0) <= _EPS


@lru_cache(maxsize=4096)
def synthesize(terms: tuple[Term, ...]) -> tuple[Op, ...]:
    """The fewest torch calls writing sum c_i v_i into a fresh output o.

    The output is kept as sigma times the partial sum: "add" a b alpha starts it at
    (c_a a + c_b b)/c_a, "lerp" at (c_a a + c_b b)/(c_a + c_b); further terms are added in place
    (sigma kept) and the last may be lerped in (choosing sigma = 1); a final "imul" rescales when
    sigma != 1. All orders of up to five terms are tried; fewest calls, then fewest lerps.
    """
    if not terms:
        return (Op("zero"),)
    if len(terms) == 1:
        c, a = terms[0]
        return (Op("copy", (a,)),) if _is_one(c) else (Op("mul", (a,), c),)
    best: list[Op] | None = None
    orders = permutations(terms) if len(terms) <= 5 else iter([terms])
    for order in orders:
        (ca, a), (cb, b) = order[0], order[1]
        starts: list[tuple[Op, float]] = [(Op("add", (a, b), cb / ca), 1.0 / ca)]
        if abs(ca + cb) > _EPS * max(abs(ca), abs(cb)):
            starts.append((Op("lerp", (a, b), cb / (ca + cb)), 1.0 / (ca + cb)))
        for first, sigma in starts:
            seq: list[Op] = [first]
            seq += [Op("iadd", (v,), c * sigma) for c, v in order[2:-1]]
            tails: list[tuple[list[Op], float]] = [([], sigma)]
            if len(order) > 2:
                c, v = order[-1]
                tails = [([Op("iadd", (v,), c * sigma)], sigma)]
                if abs(1.0 + sigma * c) > _EPS:
                    s2 = sigma / (1.0 + sigma * c)
                    tails.append(([Op("ilerp", (v,), s2 * c)], s2))
            for tail, sg in tails:
                cand = seq + tail + ([] if _is_one(sg) else [Op("imul", (), 1.0 / sg)])
                if best is None or _rank(cand) < _rank(best):
                    best = cand
    assert best is not None
    return tuple(best)


def _rank(ops: Sequence[Op]) -> tuple[int, int]:
    """Fewer calls first; among equals, fewer lerps (two flops per element, add has one)."""
    return len(ops), sum(op.kind in ("lerp", "ilerp") for op in ops)


def _cost(terms: Sequence[Term]) -> int:
    """torch calls of a combination; 0 for a unit multiple of one value (the same tensor)."""
    if len(terms) == 1 and _is_one(terms[0][0]):
        return 0
    return len(synthesize(tuple(terms)))


def _clean(x: float, scale: float) -> float:
    """``x`` with rounding-level cancellations made exact (0, or +-1)."""
    if abs(x) <= _EPS * scale:
        return 0.0
    if abs(abs(x) - 1.0) <= _EPS:
        return 1.0 if x > 0 else -1.0
    return x


def step_matrices(step: Step) -> tuple[list[list[float]], list[float], list[float]]:
    """(A', -B, C) of a sub-step in float: the network's xi' = A' xi + (-B) s, y = C xi."""
    m = len(step.B)
    A = [[float(step.A[i][l]) for l in range(m)] for i in range(m)]
    B = [float(b) for b in step.B]
    C = [float(c) for c in step.C]
    Ap = [
        [_clean(A[i][l] + B[i] * C[l], max(abs(A[i][l]), abs(B[i] * C[l]))) for l in range(m)]
        for i in range(m)
    ]
    return Ap, [_clean(-b, abs(b)) for b in B], [_clean(c, abs(c)) for c in C]


# --------------------------------------------------------------------------- the builder
_Key = tuple[str, int]  # ("v", value id) or ("new", slot index): a candidate not yet built


class _Builder:
    def __init__(self) -> None:
        self.count = 1  # value 0 is x_0
        self.statements: list[Lin | Product] = []

    def new(self) -> int:
        self.count += 1
        return self.count - 1

    def lin(self, terms: Sequence[Term], *, materialize: bool = False) -> int | None:
        """The value sum c v: an existing one for a unit multiple of it (unless
        ``materialize``), None for no terms (unless ``materialize``), else a new statement."""
        clean = _merge(terms)
        if not materialize:
            if not clean:
                return None
            if len(clean) == 1 and _is_one(clean[0][0]):
                return clean[0][1]
        out = self.new()
        self.statements.append(Lin(out, clean, synthesize(clean)))
        return out


def _merge(terms: Sequence[Term]) -> tuple[Term, ...]:
    """``terms`` with each value once and cancelled coefficients dropped."""
    merged: dict[int, float] = {}
    scale: dict[int, float] = {}
    for c, v in terms:
        merged[v] = merged.get(v, 0.0) + c
        scale[v] = max(scale.get(v, 0.0), abs(c))
    cleaned = ((_clean(c, scale[v]), v) for v, c in merged.items())
    return tuple((c, v) for c, v in cleaned if c != 0.0)


def _direct(row: Sequence[float], basis: Sequence[int | None]) -> list[tuple[float, _Key]]:
    return [(c, ("v", v)) for c, v in zip(row, basis, strict=True) if c != 0.0 and v is not None]


def _express(
    row: Sequence[float],
    basis: Sequence[int | None],
    known: Sequence[tuple[_Key, Sequence[float]]],
) -> list[tuple[float, _Key]]:
    """``row`` over ``basis`` with the fewest torch calls: directly, or as lambda times one
    ``known`` value (whose row over ``basis`` is given) plus a sparser remainder."""
    row = [0.0 if v is None else c for c, v in zip(row, basis, strict=True)]
    options = [_direct(row, basis)]
    for key, r in known:
        for i, (t, ri) in enumerate(zip(row, r, strict=True)):
            if t == 0.0 or ri == 0.0 or basis[i] is None:
                continue
            lam = t / ri
            rest = [
                0.0 if l == i or basis[l] is None else _clean(row[l] - lam * r[l],
                                                               max(abs(row[l]), abs(lam * r[l])))
                for l in range(len(row))
            ]
            options.append([(lam, key), *_direct(rest, basis)])

    def cost(terms: list[tuple[float, _Key]]) -> tuple[int, int]:
        ids = {key: i for i, key in enumerate(dict.fromkeys(k for _, k in terms))}
        return _cost([(c, ids[k]) for c, k in terms]), len(terms)

    return min(options, key=cost)


def _advance(
    b: _Builder,
    step: Step,
    slots: list[int | None],
    s: int,
    y: int | None,
) -> list[int | None]:
    """The state after one sub-step: xi' = A' xi - B s, each new slot as cheaply as possible."""
    Ap, negB, C = step_matrices(step)
    m = len(slots)
    basis = [*slots, s]
    rows = [[*Ap[i], negB[i]] for i in range(m)]
    y_known: list[tuple[_Key, Sequence[float]]] = [] if y is None else [(("v", y), [*C, 0.0])]
    best: tuple[int, list[tuple[int, list[tuple[float, _Key]]]]] | None = None
    for order in permutations(range(m)) if m <= 4 else [tuple(range(m))]:
        known = list(y_known)
        chosen = []
        total = 0
        for i in order:
            terms = _express(rows[i], basis, known)
            ids = {key: n for n, key in enumerate(dict.fromkeys(k for _, k in terms))}
            total += _cost([(c, ids[k]) for c, k in terms])
            chosen.append((i, terms))
            known.append((("new", i), rows[i]))
        if best is None or total < best[0]:
            best = (total, chosen)
    assert best is not None
    new: list[int | None] = [None] * m
    for i, terms in best[1]:
        resolved = []
        for c, (kind, ref) in terms:
            v = ref if kind == "v" else new[ref]
            if v is not None:
                resolved.append((c, v))
        new[i] = b.lin(resolved)
    return new


def _compose(step: Step, rows: list[list[float]], column: int) -> list[list[float]]:
    """Rows of xi' over (layer-start slots, s_0..) given those of xi; s_t is ``column``."""
    Ap, negB, _ = step_matrices(step)
    out = []
    for i in range(len(rows)):
        r = [sum(Ap[i][l] * rows[l][q] for l in range(len(rows))) for q in range(len(rows[0]))]
        r[column] += negB[i]
        out.append(r)
    return out


def build_plan(steps: Sequence[Step], substeps: int, initial: Sequence[float]) -> Plan:
    """The forward program of ``(len(steps) - 1) / substeps`` layers from a method's Steps
    (``Method.coefficients(depth)``) and its initial multipliers of x_0."""
    b = _Builder()
    slots: list[int | None] = [b.lin([(float(c), 0)]) for c in initial]
    m, depth = len(slots), (len(steps) - 1) // substeps
    ends, history = [0], [tuple(slots)]
    placed: set[int] = set()
    for k in range(depth):
        js = range(k * substeps, (k + 1) * substeps)
        # rows of each y over (layer-start slots, s of this layer's sub-steps)
        rows = [[1.0 if q == i else 0.0 for q in range(m + substeps)] for i in range(m)]
        y_rows = []
        for t, j in enumerate(js):
            C = step_matrices(steps[j])[2]
            y_rows.append([sum(C[l] * rows[l][q] for l in range(m)) for q in range(m + substeps)])
            rows = _compose(steps[j], rows, m + t)
        stacked = substeps > 1 and all(
            abs(r[q]) <= _EPS * max(1.0, max(map(abs, r)))
            for r in y_rows
            for q in range(m, m + substeps)
        )
        if stacked:  # every input known at the layer's start: one product for the layer
            ys: list[int] = []
            known: list[tuple[_Key, Sequence[float]]] = []
            for r in y_rows:
                terms = _express(r[:m], slots, known)
                y = b.lin([(c, ref) for c, (_, ref) in terms], materialize=not terms)
                assert y is not None
                if y in placed or y in ys or _is_s(b, y):  # each stack view holds its own copy
                    y = b.lin([(1.0, y)], materialize=True)
                    assert y is not None
                placed.add(y)
                known.append((("v", y), r[:m]))
                ys.append(y)
            ss = [b.new() for _ in js]
            b.statements.append(Product(k, tuple(ys), tuple(ss)))
            for t, j in enumerate(js):
                slots = _advance(b, steps[j], slots, ss[t], None)
        else:
            for j in js:
                C = step_matrices(steps[j])[2]
                y = b.lin(_resolve(_express(C, slots, [])), materialize=False)
                if y is None:
                    y = b.lin([], materialize=True)
                assert y is not None
                s = b.new()
                b.statements.append(Product(k, (y,), (s,)))
                slots = _advance(b, steps[j], slots, s, y)
        ends.append(len(b.statements))
        history.append(tuple(slots))
    readout = []
    for k, state in enumerate(history):
        D = [_clean(float(d), abs(float(d))) for d in steps[k * substeps].D]
        readout.append(tuple((c, v) for c, v in zip(D, state, strict=True)
                             if c != 0.0 and v is not None))
    out = b.lin(list(readout[-1]), materialize=not readout[-1])
    assert out is not None
    return Plan(b.statements, b.count, ends, history, readout, out)


def _resolve(terms: list[tuple[float, _Key]]) -> list[Term]:
    return [(c, ref) for c, (_, ref) in terms]


def _is_s(b: _Builder, v: int) -> bool:
    return any(isinstance(st, Product) and v in st.ss for st in b.statements)
