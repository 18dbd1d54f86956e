"""Linear multistep blocks of Sec. 6: one recurrence, one coefficient table per algorithm.

Every structure of Sec. 6 is an instance of the linear multistep recurrence

    x_{k+1} = act( sum_j a_{k,j} T_k( sum_i c_{k,j,i} x_i ) + sum_i b_{k,i} x_i ),

run by :class:`Multistep` from a table of :class:`Step` rows. The named tables are

* :func:`heavy_ball_table`, eq. (16): x_{k+1} = T(x_k) + beta1 x_k + beta2 x_{k-1};
  ResNet is beta1 = 1, beta2 = 0 (Table 3) with ``act = ReLU``, HB-Net (Sec. 6.1) is
  beta1 = 1, beta2 = -1;
* :func:`nesterov_table`, eq. (17): x_{k+1} = T(beta1 x_k + beta2 x_{k-1}); with T a residual
  unit F(y) + y (:func:`nesterov_residual_table`) beta2 = 0 is again ResNet;
* :func:`dense_table`, eq. (18) and its practical form (21):
  z_{k+1} = sum_j alpha_{k+1}^j T(z_j) + sum_j beta_{k+1}^j z_j; DenseNet (19) is alpha = 1,
  beta = 0 (Table 3);
* :func:`admm_table`, eq. (20): two paths x' and x with shared merge sums; DMRNet is
  alpha = beta = 1/2 on the newest pair only (Table 3).

A coefficient entry is a fixed number, a :class:`Learnable` (an ``nn.Parameter`` trained with
the weights; one parameter per distinct ``Learnable`` object, so reusing an object ties
entries), or, in the table builders, a schedule: a callable of the step (and term) index that
returns either, e.g. ``lambda k, j: h[k][j]`` with ``h = optnet_theory.nesterov_h(K)``.

States are numbered in order: the ``n_initial`` inputs first, then one new state per step. A
stage that changes the feature-map size (Sec. 6, "Block Based Structure") passes a
``shortcut``: every use of an input state goes through it, except the input of a transform
whose every argument is an input state (the down-sampling layer itself reads the raw input).
The input states a run needs mapped are mapped together, once per forward: through the
shortcut's ``map_states(states)`` when it has one (a projection with BN then normalises them
in one pass, one running-statistics update), else one call per distinct state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from optnet_theory.errors import OptnetError

__all__ = [
    "MOMENTUM_CHOICES",
    "Coefficient",
    "Learnable",
    "Multistep",
    "Spec",
    "Step",
    "Term",
    "admm_table",
    "agd_beta",
    "dense_table",
    "describe_step",
    "dmrnet_coefficient",
    "heavy_ball_table",
    "nesterov_residual_table",
    "nesterov_table",
    "step",
    "term",
]


#: How a network of several stages (Sec. 6, "Block Based Structure") treats the momentum state
#: at a stage boundary: ``carry`` it on (mapped by the shortcut), or ``restart`` the recurrence
#: from zero momentum in each stage.
MOMENTUM_CHOICES = ("carry", "restart")


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
#: what a table builder accepts per coefficient: a constant, or a schedule of the indices.
Spec = float | Learnable | Callable[..., Coefficient]


@dataclass(frozen=True)
class Term:
    """``weight * T(sum_i c_i x_i)``: one application of the step's transform."""

    weight: Coefficient
    inputs: tuple[tuple[int, Coefficient], ...]


@dataclass(frozen=True)
class Step:
    """One row of the table: ``x_new = sum(terms) + sum_i b_i x_i`` with transform ``transform``.

    ``skips`` pairs (state index, b) are summed in the order given, after the terms.
    """

    terms: tuple[Term, ...]
    skips: tuple[tuple[int, Coefficient], ...]
    transform: int


def term(weight: Coefficient, inputs: Mapping[int, Coefficient]) -> Term:
    """Build a :class:`Term` from a mapping state index -> coefficient."""
    return Term(weight, tuple(inputs.items()))


def step(terms: Sequence[Term], skips: Mapping[int, Coefficient], transform: int) -> Step:
    """Build a :class:`Step` from a sequence of terms and a mapping state index -> b."""
    return Step(tuple(terms), tuple(skips.items()), transform)


def _entry(spec: Spec, *index: int) -> Coefficient:
    """Resolve a constant-or-schedule spec at one table position."""
    value = spec(*index) if callable(spec) and not isinstance(spec, Learnable) else spec
    if isinstance(value, Learnable):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptnetError(
            f"coefficient at {index} is {value!r}; accepted: a real number, a Learnable, or a "
            "schedule returning one"
        ) from None
    if not math.isfinite(number):
        raise OptnetError(f"coefficient at {index} is {number}; accepted: a finite number")
    return number


def _format(value: Coefficient) -> str:
    return repr(value) if isinstance(value, Learnable) else f"{value:.6g}"


class _Ref(int):
    """Index of a learnable coefficient in :attr:`Multistep.coefficients`."""


_Compiled = float | _Ref
_CompiledTerm = tuple[_Compiled, list[tuple[int, _Compiled]]]


class Multistep(nn.Module):
    """The linear multistep recurrence of Sec. 6, run from a coefficient table.

    ``blocks[t]`` is the transform T of the steps naming ``transform = t`` (a residual branch
    for (16), a dense layer for (18)); a transform with the attribute ``multi_input = True``
    is called once per step as ``T(inputs, weights)`` and must return sum_j w_j T_j(inputs_j)
    (this is how (21) folds alpha into one convolution); if it also has ``takes_skips = True``
    it is handed the step's skip terms whose states are among its inputs, as
    ``T(inputs, weights, [(input position, b), ...])``, and adds them itself (the dense layer
    reads them from its concatenation in one pass). ``activation`` (e.g. ReLU, as in
    ResNet) is applied to each new state after the sum; ``shortcut`` maps the input states to
    the new feature-map size (see the module docstring).
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
        super().__init__()
        if n_initial < 1:
            raise OptnetError(f"n_initial must be at least 1, got {n_initial}")
        self.blocks = nn.ModuleList(blocks)
        self.shortcut = shortcut
        self.activation = activation
        self.n_initial = n_initial
        self.equation = equation
        self.table: tuple[Step, ...] = tuple(steps)
        learnables: dict[int, tuple[int, Learnable]] = {}

        def compile_(value: Coefficient) -> _Compiled:
            if isinstance(value, Learnable):
                slot = learnables.setdefault(id(value), (len(learnables), value))[0]
                return _Ref(slot)
            return float(value)

        self._steps: list[tuple[list[_CompiledTerm], list[tuple[int, _Compiled]], int]] = []
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
            multi = getattr(self.blocks[row.transform], "multi_input", False)
            if multi and any(len(t.inputs) != 1 or t.inputs[0][1] != 1.0 for t in row.terms):
                raise OptnetError(
                    f"step {s}: a multi-input transform takes single states with c = 1 per term"
                )
            # fixed zeros are dropped here, so a state they name is never computed (a
            # multi-input transform keeps every term: it takes one weight per input)
            terms = [
                (compile_(t.weight), [(i, compile_(c)) for i, c in t.inputs if c != 0.0])
                for t in row.terms
                if multi or t.weight != 0.0
            ]
            skips = [(i, compile_(b)) for i, b in row.skips if b != 0.0]
            if not skips and not any(ins for _, ins in terms):
                raise OptnetError(f"step {s} has only zero coefficients")
            self._steps.append((terms, skips, row.transform))
        inits = [float(lr.init) for _, lr in sorted(learnables.values(), key=lambda p: p[0])]
        self.coefficients = nn.Parameter(torch.tensor(inits)) if inits else None

    def _value(self, c: _Compiled) -> float | Tensor:
        if isinstance(c, _Ref):
            assert self.coefficients is not None
            return self.coefficients[int(c)]
        return c

    def _combine(self, pairs: list[tuple[Tensor, float | Tensor]]) -> Tensor | None:
        """sum_i c_i x_i; zero constants are dropped and unit constants are not multiplied."""
        out: Tensor | None = None
        for x, c in pairs:
            if isinstance(c, Tensor):
                out = x * c if out is None else out + x * c
            elif c == 0.0:
                continue
            elif out is None:
                out = x if c == 1.0 else x * c
            else:
                out = out + x if c == 1.0 else torch.add(out, x, alpha=c)
        return out

    def _finish(self, new: Tensor) -> Tensor:
        return new if self.activation is None else self.activation(new)

    def _mapped_inputs(self, n_steps: int, last: int | None) -> list[int]:
        """The input states that :meth:`run` reads through the shortcut, in index order."""
        needed: set[int] = set()
        for terms, skips, t in self._steps[:n_steps]:
            needed.update(i for i, _ in skips)
            if getattr(self.blocks[t], "multi_input", False):
                groups = [[ins[0][0] for _, ins in terms]]
            else:
                groups = [[i for i, _ in ins] for _, ins in terms]
            for group in groups:
                if not all(i < self.n_initial for i in group):
                    needed.update(group)
        n_states = self.n_initial + n_steps
        first = 0 if last is None else max(0, n_states - last)
        needed.update(range(first, n_states))
        return sorted(i for i in needed if i < self.n_initial)

    def _map(self, raw: Sequence[Tensor], indices: list[int]) -> dict[int, Tensor]:
        """Shortcut images of ``raw[i]``, i in ``indices``; a tensor given twice is mapped once."""
        distinct: list[Tensor] = []
        slot: dict[int, int] = {}
        for i in indices:
            j = next((n for n, d in enumerate(distinct) if d is raw[i]), None)
            if j is None:
                j = len(distinct)
                distinct.append(raw[i])
            slot[i] = j
        map_states = getattr(self.shortcut, "map_states", None)
        if map_states is not None:
            images = list(map_states(distinct))
        else:
            assert self.shortcut is not None
            images = [self.shortcut(x) for x in distinct]
        return {i: images[j] for i, j in slot.items()}

    def run(
        self, initial: Sequence[Tensor], n_steps: int | None = None, last: int | None = None
    ) -> list[Tensor]:
        """The states after ``n_steps`` steps (default all), inputs shortcut-mapped.

        ``last`` keeps only the final ``last`` states (an input state is then mapped only if
        it is among them).
        """
        if len(initial) != self.n_initial:
            raise OptnetError(
                f"{type(self).__name__} takes {self.n_initial} input states, got {len(initial)}"
            )
        raw = list(initial)
        n_run = len(self._steps) if n_steps is None else n_steps
        mapped: dict[int, Tensor] = {}

        def state(i: int, for_transform: bool, all_initial: bool) -> Tensor:
            if i >= self.n_initial:
                return states[i]
            if self.shortcut is None or (for_transform and all_initial):
                return raw[i]
            if not mapped:  # every input state the run needs, in one shortcut pass
                mapped.update(self._map(raw, self._mapped_inputs(n_run, last)))
            return mapped[i]

        states: list[Tensor] = list(raw)
        for terms, skips, t in self._steps[:n_run]:
            transform = self.blocks[t]
            pairs: list[tuple[Tensor, float | Tensor]] = []
            if getattr(transform, "multi_input", False):
                all_initial = all(ins[0][0] < self.n_initial for _, ins in terms)
                indices = [ins[0][0] for _, ins in terms]
                args = [state(i, True, all_initial) for i in indices]
                weights = [self._value(w) for w, _ in terms]
                if (
                    getattr(transform, "takes_skips", False)
                    and skips
                    and (self.shortcut is None or not all_initial)  # it sees what skips see
                    and all(i in indices for i, _ in skips)
                ):  # the transform adds sum_i b_i x_i itself, from its own inputs
                    folded = [(indices.index(i), self._value(b)) for i, b in skips]
                    states.append(self._finish(transform(args, weights, folded)))
                    continue
                pairs.append((transform(args, weights), 1.0))
            else:
                for w, ins in terms:
                    all_initial = all(i < self.n_initial for i, _ in ins)
                    y = self._combine(
                        [(state(i, True, all_initial), self._value(c)) for i, c in ins]
                    )
                    if y is not None:  # a transform of the zero combination is left out
                        pairs.append((transform(y), self._value(w)))
            pairs += [(state(i, False, False), self._value(b)) for i, b in skips]
            new = self._combine(pairs)
            assert new is not None  # excluded when the table was compiled
            states.append(self._finish(new))
        first = 0 if last is None else max(0, len(states) - last)
        return [state(i, False, False) for i in range(first, len(states))]

    def forward(self, *initial: Tensor) -> list[Tensor]:
        """Run every step of the table; returns all states (inputs first, shortcut-mapped)."""
        return self.run(initial)

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


def heavy_ball_table(n_steps: int, beta1: Spec = 1.0, beta2: Spec = -1.0) -> list[Step]:
    """Eq. (16): x_{k+1} = T_k(x_k) + beta1 x_k + beta2 x_{k-1}.

    Input states (x_{-1}, x_0) are states 0 and 1; step k writes x_{k+1} (state k + 2). A
    schedule is called as ``beta1(k)``. ResNet: ``beta2=0``; HB-Net (Sec. 6.1): the defaults.
    """
    return [
        step([term(1.0, {k + 1: 1.0})], {k + 1: _entry(beta1, k), k: _entry(beta2, k)}, k)
        for k in range(n_steps)
    ]


def nesterov_table(n_steps: int, beta1: Spec = 1.0, beta2: Spec = 0.0) -> list[Step]:
    """Eq. (17): x_{k+1} = T_k(beta1 x_k + beta2 x_{k-1}); inputs (x_{-1}, x_0) as in (16).

    Eq. (12) is beta1 = 1 + beta_k, beta2 = -beta_k with beta_k of (3).
    """
    return [
        step([term(1.0, {k + 1: _entry(beta1, k), k: _entry(beta2, k)})], {}, k)
        for k in range(n_steps)
    ]


def nesterov_residual_table(n_steps: int, beta1: Spec, beta2: Spec) -> list[Step]:
    """Eq. (17) with T the residual unit T(y) = F(y) + y, i.e. Nesterov's (3) in ResNet terms:

        y_k = beta1 x_k + beta2 x_{k-1},   x_{k+1} = F_k(y_k) + y_k

    (F plays -grad f, so F(y) + y is the gradient step of (3)). Each coefficient is resolved
    once per step and used in both places. beta1 = 1, beta2 = 0 is ResNet; (12) is
    beta1 = 1 + beta_k, beta2 = -beta_k.
    """
    rows = []
    for k in range(n_steps):
        y = {k + 1: _entry(beta1, k), k: _entry(beta2, k)}
        rows.append(step([term(1.0, y)], y, k))
    return rows


def dense_table(
    n_steps: int,
    alpha: Spec = 1.0,
    beta: Spec = 0.0,
    beta_states: Callable[[int], Sequence[int]] | None = None,
) -> list[Step]:
    """Eq. (18): z_{k+1} = sum_{j<=k} alpha(k+1, j) T_k(z_j) + sum_j beta(k+1, j) z_j.

    The input z_0 is state 0; step k writes z_{k+1}. ``beta_states(k)`` lists the j that take
    part in the second sum at step k (default all 0..k; channel counts must agree). DenseNet
    (19): alpha = 1, beta = 0. For (21) see :func:`agd_beta`.
    """
    rows = []
    for k in range(n_steps):
        js = range(k + 1) if beta_states is None else beta_states(k)
        rows.append(
            step(
                [term(_entry(alpha, k + 1, j), {j: 1.0}) for j in range(k + 1)],
                {j: _entry(beta, k + 1, j) for j in js},
                k,
            )
        )
    return rows


def agd_beta(beta: float, h: Sequence[Sequence[float]]) -> Callable[[int, int], float]:
    """The second sum of (21) as b_{k+1,j}: beta (z_k - sum_j h_{k+1,j} z_j).

    b_{k+1,k} = beta (1 - h_{k+1,k}) and b_{k+1,j} = -beta h_{k+1,j} for j < k, with h from
    (5) (``optnet_theory.nesterov_h``).
    """

    def b(k1: int, j: int) -> float:
        return beta * ((1.0 if j == k1 - 1 else 0.0) - float(h[k1][j]))

    return b


def admm_table(n_steps: int, alpha: Spec = 0.5, beta: Spec = 0.5) -> list[Step]:
    """Eq. (20), two paths with shared merge sums, begun at x'_0 = x_0 with sums from t = 0:

        x'_{k+1} = T'_k(x'_k) + sum_{t<=k} alpha(k+1, t) x'_t + sum_{t<=k} beta(k+1, t) x_t,
        x_{k+1}  = T_k(x_k)   + (the same two sums).

    States interleave: x'_t is state 2t, x_t is state 2t + 1; transform 2k is T'_k, 2k + 1 is
    T_k. A schedule is called as ``alpha(k+1, t)`` once per position, so a Learnable it
    returns is shared by both paths. DMRNet [36]: alpha = beta = 1/2 at t = k, 0 for t < k
    (:func:`dmrnet_coefficient`).
    """
    rows = []
    for k in range(n_steps):
        sums: dict[int, Coefficient] = {}
        for t in range(k + 1):
            sums[2 * t] = _entry(alpha, k + 1, t)
            sums[2 * t + 1] = _entry(beta, k + 1, t)
        rows.append(step([term(1.0, {2 * k: 1.0})], sums, 2 * k))
        rows.append(step([term(1.0, {2 * k + 1: 1.0})], sums, 2 * k + 1))
    return rows


def dmrnet_coefficient(k1: int, t: int) -> float:
    """Table 3's DMRNet setting of (20): 1/2 on the newest pair (t = k), 0 before."""
    return 0.5 if t == k1 - 1 else 0.0
