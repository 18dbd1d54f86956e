"""The test oracle: an independent linear multistep engine for the structures of Sec. 6.

The networks themselves are built by one rule (:class:`optnet_nets.models.stage.MethodStage`);
this engine, kept in the tests, runs the coefficient tables of (16)-(20)
(:mod:`tests.nets.multistep_tables`) by its own loop, and the named models are tested equal
to it (``tests/nets/test_named_models.py``).

Every structure of Sec. 6 is an instance of the linear multistep recurrence

    x_{k+1} = act( sum_j a_{k,j} T_k( sum_i c_{k,j,i} x_i ) + sum_i b_{k,i} x_i ),

run by :class:`Multistep` from a table of :class:`Step` rows; the tables of (16), (17),
(18)/(21) and (20) are built by :mod:`tests.nets.multistep_tables`. A coefficient entry is a fixed
number or a :class:`Learnable` (an ``nn.Parameter`` trained with the weights; one parameter per
distinct ``Learnable`` object, so reusing an object ties entries).

States are numbered in order: the ``n_initial`` inputs first, then one new state per step. A
stage that changes the feature-map size (Sec. 6, "Block Based Structure") passes a
``shortcut``: every use of an input state goes through it, except the input of a transform
whose every argument is an input state (the down-sampling layer itself reads the raw input).
The input states a run needs mapped are mapped together, once per forward, by
:func:`map_states`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from optnet_nets.models.stage import combine, map_states
from optnet_theory.errors import OptnetError

__all__ = [
    "Coefficient",
    "CoefficientModule",
    "Compiled",
    "Learnable",
    "Multistep",
    "Slot",
    "Step",
    "Term",
    "describe_step",
    "learnables",
    "live",
    "step",
    "term",
]



@dataclass(eq=False, frozen=True)
class Learnable:
    """A coefficient trained with the network ("Adaptive Coefficients", Sec. 6), from ``init``.

    Identity matters: each distinct object becomes one scalar ``nn.Parameter``; using the same
    object in several table entries ties them.
    """

    init: float

    def __repr__(self) -> str:
        return f"Learnable({self.init:g})"


Coefficient = float | Learnable


@dataclass(frozen=True)
class Term:
    """``weight * T(sum_i c_i x_i)``: one application of the step's transform."""

    weight: Coefficient
    inputs: tuple[tuple[int, Coefficient], ...]


@dataclass(frozen=True)
class Step:
    """One row of the table: ``x_new = sum(terms) + sum_i b_i x_i`` with transform ``transform``.

    ``skips`` pairs (state index, b) are summed in the order given, after the terms. A
    ``joint`` step applies its transform once to all its terms, each a single state with c = 1:
    ``T([x_j], [w_j]) = sum_j w_j T_j(x_j)``, the dense layer of (19)/(21) on its inputs.
    """

    terms: tuple[Term, ...]
    skips: tuple[tuple[int, Coefficient], ...]
    transform: int
    joint: bool = False


def term(weight: Coefficient, inputs: Mapping[int, Coefficient]) -> Term:
    """Build a :class:`Term` from a mapping state index -> coefficient."""
    return Term(weight, tuple(inputs.items()))


def step(
    terms: Sequence[Term], skips: Mapping[int, Coefficient], transform: int, joint: bool = False
) -> Step:
    """Build a :class:`Step` from a sequence of terms and a mapping state index -> b."""
    return Step(tuple(terms), tuple(skips.items()), transform, joint)


def _format(value: Coefficient) -> str:
    return repr(value) if isinstance(value, Learnable) else f"{value:.6g}"


def learnables(table: Sequence[Step]) -> list[Learnable]:
    """The distinct :class:`Learnable` entries of ``table``, in the order of the ``coefficients``
    vector of a module running it: first use, row by row, term weights and inputs, then skips
    (a term with a fixed zero weight is left out). One object used twice is one entry."""
    found: dict[int, Learnable] = {}
    for row in table:
        values: list[Coefficient] = []
        for t in row.terms:
            if row.joint or live(t.weight):
                values += [t.weight, *(c for _, c in t.inputs)]
        values += [b for _, b in row.skips]
        for v in values:
            if isinstance(v, Learnable):
                found.setdefault(id(v), v)
    return list(found.values())


class Slot(int):
    """A compiled table entry: index of a learnable coefficient in ``coefficients``."""


#: a table entry as a forward pass reads it: a fixed number, or a learnable one's slot.
Compiled = float | Slot


def live(c: Coefficient) -> bool:
    """Whether an entry takes part in a sum: a Learnable, or a number other than 0."""
    return isinstance(c, Learnable) or c != 0.0


class CoefficientModule(nn.Module):
    """A module that implements a coefficient table: the named stages and :class:`Multistep`.

    ``table`` is the recurrence as data (what :class:`Multistep` runs and what
    :mod:`optnet_nets.learned.method` reads); its :class:`Learnable` entries are ONE parameter
    vector ``coefficients`` (in the order of :func:`learnables`; None when there are none).
    A forward pass reads entries compiled at construction (:meth:`compiled`: a float or a
    :class:`Slot`, so a copied or pickled module needs no object identities) through
    :meth:`value`.
    """

    def __init__(self, table: Sequence[Step], n_initial: int, equation: str = "") -> None:
        super().__init__()
        if n_initial < 1:
            raise OptnetError(f"n_initial must be at least 1, got {n_initial}")
        self.table: tuple[Step, ...] = tuple(table)
        self.n_initial = n_initial
        self.equation = equation
        entries = learnables(self.table)
        self.slots = {id(v): i for i, v in enumerate(entries)}
        inits = [float(v.init) for v in entries]
        self.coefficients = nn.Parameter(torch.tensor(inits)) if inits else None

    def compiled(self, c: Coefficient) -> Compiled:
        """A table entry of this module's table, compiled: the number, or its :class:`Slot`."""
        return Slot(self.slots[id(c)]) if isinstance(c, Learnable) else float(c)

    def value(self, c: Compiled) -> float | Tensor:
        """A compiled entry: the number, or the trained element of ``coefficients``."""
        if isinstance(c, Slot):
            assert self.coefficients is not None
            return self.coefficients[int(c)]
        return c

    def extra_repr(self) -> str:
        lines = [f"equation={self.equation!r}, steps={len(self.table)}, n_initial={self.n_initial}"]
        shown = self.table if len(self.table) <= 4 else self.table[:3]
        for s, row in enumerate(shown):
            lines.append(f"x[{self.n_initial + s}] = {describe_step(row)}")
        if len(shown) < len(self.table):
            lines.append(f"... ({len(self.table) - len(shown) - 1} more) ...")
            last = self.n_initial + len(self.table) - 1
            lines.append(f"x[{last}] = {describe_step(self.table[-1])}")
        if self.coefficients is not None:
            values = ", ".join(f"{v:.4g}" for v in self.coefficients.detach().cpu().tolist()[:8])
            more = ", ..." if self.coefficients.numel() > 8 else ""
            lines.append(f"learnable coefficients ({self.coefficients.numel()}): [{values}{more}]")
        return "\n".join(lines)


#: a compiled row: (terms as (weight, [(state, c)]), skips as [(state, b)], transform, joint)
_Row = tuple[
    list[tuple[Compiled, list[tuple[int, Compiled]]]], list[tuple[int, Compiled]], int, bool
]


class Multistep(CoefficientModule):
    """The linear multistep recurrence of Sec. 6, run from any coefficient table.

    ``blocks[t]`` is the transform T of the steps naming ``transform = t`` (a residual branch
    for (16), a dense layer for (18)). A ``joint`` step calls its transform once with all its
    terms, ``T([x_j], [w_j])``, which must return sum_j w_j T_j(x_j) (the dense layer of
    (19)/(21) folds the w_j into one convolution); every other term is ``w T(sum_i c_i x_i)``.
    ``activation`` (e.g. ReLU, as in ResNet) is applied to each new state after the sum;
    ``shortcut`` maps the input states to the new feature-map size (module docstring). The
    named models (:mod:`optnet_nets.models`) write their forward passes out; this is the
    engine for experimenting with other tables, and the reference they are tested against.
    """

    def __init__(
        self,
        blocks: Sequence[nn.Module],
        steps: Sequence[Step],
        n_initial: int,
        *,
        shortcut: nn.Module | None = None,
        activation: nn.Module | None = None,
        equation: str = "",
    ) -> None:
        super().__init__(steps, n_initial, equation)
        self.blocks = nn.ModuleList(blocks)
        self.shortcut = shortcut
        self.activation = activation
        for s, row in enumerate(self.table):
            n_known = n_initial + s
            if not 0 <= row.transform < len(self.blocks):
                raise OptnetError(
                    f"step {s} names transform {row.transform}; accepted: 0..{len(self.blocks) - 1}"
                )
            used = [i for t in row.terms for i, _ in t.inputs] + [i for i, _ in row.skips]
            if any(not 0 <= i < n_known for i in used):
                raise OptnetError(
                    f"step {s} reads a state outside 0..{n_known - 1} (the states known so far)"
                )
            if not row.terms and not row.skips:
                raise OptnetError(f"step {s} has neither terms nor skips")
            if row.joint and any(len(t.inputs) != 1 or t.inputs[0][1] != 1.0 for t in row.terms):
                raise OptnetError(f"step {s}: a joint step takes single states with c = 1 per term")
            if not (row.joint or any(live(t.weight) and any(live(c) for _, c in t.inputs)
                                     for t in row.terms) or any(live(b) for _, b in row.skips)):
                raise OptnetError(f"step {s} has only zero coefficients")
        # compiled rows: fixed zeros dropped (a state they name is never needed), except the
        # terms of a joint step (its transform takes one weight per input)
        self._rows = [
            (
                [
                    (self.compiled(t.weight), [(i, self.compiled(c)) for i, c in t.inputs
                                               if live(c)])
                    for t in row.terms if row.joint or live(t.weight)
                ],
                [(i, self.compiled(b)) for i, b in row.skips if live(b)],
                row.transform,
                row.joint,
            )
            for row in self.table
        ]

    def _needs_mapping(self, i: int, row: _Row) -> bool:
        """Whether input state i is read through the shortcut by ``row``: by its skips, and by
        its terms unless every state the transform reads is an input (the down-sampling layer
        reads the raw input)."""
        terms, skips, _, joint = row
        if any(j == i for j, _ in skips):
            return True
        groups = [[j for _, ins in terms for j, _ in ins]] if joint else [
            [j for j, _ in ins] for _, ins in terms
        ]
        return any(i in g and not all(j < self.n_initial for j in g) for g in groups)

    def run(
        self, initial: Sequence[Tensor], n_steps: int | None = None, last: int | None = None
    ) -> list[Tensor]:
        """The states after ``n_steps`` steps (default all), inputs shortcut-mapped.

        ``last`` keeps only the final ``last`` states (an input state is then mapped only if
        it is read or among them).
        """
        if len(initial) != self.n_initial:
            raise OptnetError(
                f"{type(self).__name__} takes {self.n_initial} input states, got {len(initial)}"
            )
        raw = list(initial)
        rows = self._rows[: len(self._rows) if n_steps is None else n_steps]
        n_states = self.n_initial + len(rows)
        first = 0 if last is None else max(0, n_states - last)
        mapped = list(raw)
        if self.shortcut is not None:  # every input state the run reads, in one shortcut pass
            needed = [
                i for i in range(self.n_initial)
                if i >= first or any(self._needs_mapping(i, row) for row in rows)
            ]
            images = map_states(self.shortcut, [raw[i] for i in needed])
            for i, image in zip(needed, images, strict=True):
                mapped[i] = image

        def state(i: int, group: Sequence[int]) -> Tensor:
            """State i as the transform reading ``group`` sees it (the skips: group ())."""
            if i < self.n_initial and group and all(j < self.n_initial for j in group):
                return raw[i]
            return states[i] if i >= self.n_initial else mapped[i]

        states: list[Tensor] = list(raw)
        for terms, skips, t, joint in rows:
            transform = self.blocks[t]
            pairs: list[tuple[Tensor, float | Tensor]] = []
            if joint:
                group = [ins[0][0] for _, ins in terms]
                args = [state(i, group) for i in group]
                pairs.append((transform(args, [self.value(w) for w, _ in terms]), 1.0))
            else:
                for w, ins in terms:
                    group = [i for i, _ in ins]
                    y = combine([(state(i, group), self.value(c)) for i, c in ins])
                    if y is not None:  # a transform of the zero combination is left out
                        pairs.append((transform(y), self.value(w)))
            pairs += [(state(i, ()), self.value(b)) for i, b in skips]
            new = combine(pairs)
            assert new is not None  # excluded when the table was checked
            states.append(new if self.activation is None else self.activation(new))
        return [state(i, ()) for i in range(first, len(states))]

    def forward(self, *initial: Tensor) -> list[Tensor]:
        """Run every step of the table; returns all states (inputs first, shortcut-mapped)."""
        return self.run(initial)


def describe_step(row: Step) -> str:
    """One table row as a formula, e.g. ``1*T2(1*x[3]) + 1*x[3] + -1*x[2]``."""
    parts = [
        f"{_format(t.weight)}*T{row.transform}("
        + " + ".join(f"{_format(c)}*x[{i}]" for i, c in t.inputs)
        + ")"
        for t in row.terms
    ]
    parts += [f"{_format(b)}*x[{i}]" for i, b in row.skips]
    if len(parts) > 6:
        parts = [*parts[:3], f"... ({len(parts) - 5} more terms)", *parts[-2:]]
    return " + ".join(parts)
