"""A method written as its paper's loop, traced into the steps (A_j, B_j, C_j, D_j).

PEPit's examples write a method as the loop of its paper; the triple momentum method is

    for t in range(N):
        y = (1 + gamma) * xi - gamma * xi_prev
        xi, xi_prev = (1 + beta) * xi - beta * xi_prev - alpha * grad(y), xi
    x = (1 + delta) * xi - delta * xi_prev

:func:`traced` turns the body of such a loop, and the line that reads the output, into the
schedule j -> :class:`~optnet_theory.methods.spec.Step` of a
:class:`~optnet_theory.methods.spec.MethodSpec`. The body is run once per sub-step j on symbols:
each state slot is a :class:`Lin` holding 1 on its own slot; ``grad(y)`` records the point y and
returns a fresh symbol u_j. The point's state coefficients are C_j, the new states' state
coefficients are the rows of A_j and their u_j coefficients are B_j; the output line, run on the
same symbols, gives D_j. The tracer only adds, negates, multiplies and divides the numbers the
body computes with, so a schedule keeps the arithmetic of its :class:`Params` (float64, mpmath,
SymPy).

Rules, each refused with a one-line :class:`OptnetError` naming the loop and the sub-step: a
sub-step makes exactly one gradient call (a method with several calls per iteration writes one
sub-step per call, see ``MethodSpec.substeps``); the gradient is taken at a combination of the
states only; the loop is linear (no constant terms, no product of two points); the output is a
combination of the states. The one sub-step without a gradient call is the hold after a
horizon, where the body returns its states unchanged: nothing moves and the read-out point
C_j is the output D_j.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods.spec import Params, Schedule, Step

__all__ = ["Grad", "Lin", "traced"]

_GRAD = -1  # the key of the gradient u_j of the sub-step; state slots are 0 .. m-1

#: the gradient oracle a loop body is given: a point in, the symbol of its gradient out.
Grad = Callable[["Lin"], "Lin"]
#: a loop body: (j, params, grad, *states) -> the new states (one per slot, in slot order).
Body = Callable[..., tuple["Lin", ...]]
#: the output line: (params, *states) -> the output point, a combination of the states.
Readout = Callable[..., "Lin"]


class _Trace:
    """What one sub-step's run of the body recorded: the point of its gradient call."""

    def __init__(self, where: str, zero: Any, one: Any) -> None:
        self.where = where
        self.zero = zero
        self.one = one
        self.point: Lin | None = None

    def error(self, message: str) -> OptnetError:
        return OptnetError(f"{self.where}: {message}")

    def own(self, value: Any, what: str) -> Lin:
        if not isinstance(value, Lin):
            raise self.error(f"{what} is {type(value).__name__} {value!r:.40}, not a "
                             "combination of the loop's points")  # fmt: skip
        if value.trace is not self:
            raise self.error(f"{what} uses a point of another sub-step or loop")
        return value

    def grad(self, y: Lin) -> Lin:
        """Record the gradient call at ``y``; its result is the symbol u_j."""
        y = self.own(y, "the gradient's point")
        if _GRAD in y.terms:
            raise self.error("the gradient is taken at a point that holds a gradient; "
                             "y_j = C_j xi_j must be a combination of the states only")
        if self.point is not None:
            raise self.error("a second gradient call in one sub-step; each sub-step makes "
                             "exactly one (write one sub-step per call, MethodSpec.substeps)")
        self.point = y
        return Lin({_GRAD: self.one}, self)

    def row(self, value: Any, m: int, what: str, gradient: bool) -> tuple[tuple[Any, ...], Any]:
        """The state coefficients of ``value`` (m of them) and its gradient coefficient."""
        lin = self.own(value, what)
        if not gradient and _GRAD in lin.terms:
            raise self.error(f"{what} holds a gradient; it must be a combination of the states")
        states = tuple(lin.terms.get(i, self.zero) for i in range(m))
        return states, lin.terms.get(_GRAD, self.zero)


class Lin:
    """A linear combination of one sub-step's symbols (state slots and the gradient u_j).

    Points add, subtract and negate; a point times or over a number is a point. Coefficients
    are kept in whatever number type the loop computes with."""

    __slots__ = ("terms", "trace")
    __array_ufunc__ = None  # numpy scalars defer to Lin.__rmul__, not an object array

    def __init__(self, terms: dict[int, Any], trace: _Trace) -> None:
        self.terms = terms
        self.trace = trace

    def __repr__(self) -> str:
        return f"Lin({self.terms!r})"

    def _point(self, other: Any, op: str) -> Lin:
        if type(other) is Lin and other.trace is self.trace:
            return other
        if isinstance(other, Lin):
            return self.trace.own(other, f"the right side of {op!r}")
        if type(other) is int and other == 0:  # sum() starts at 0
            return Lin({}, self.trace)
        raise self.trace.error(
            f"a point {op} {type(other).__name__} {other!r:.40}: the loop must be linear in its "
            "points (a constant term has no (A, B, C, D) form)"
        )

    def _scalar(self, value: Any, op: str) -> Any:
        if isinstance(value, _NOT_SCALARS) or value is None:
            if isinstance(value, Lin):
                raise self.trace.error(f"a point {op} a point: the loop must be linear in its "
                                       "points")  # fmt: skip
            raise self.trace.error(f"a point {op} {type(value).__name__} {value!r:.40}; "
                                   "points are scaled by numbers only")  # fmt: skip
        return value

    def __add__(self, other: Any) -> Lin:
        terms = dict(self.terms)
        for key, value in self._point(other, "+").terms.items():
            terms[key] = terms[key] + value if key in terms else value
        return Lin(terms, self.trace)

    def __radd__(self, other: Any) -> Lin:
        return self._point(other, "+") + self

    def __neg__(self) -> Lin:
        return Lin({key: -value for key, value in self.terms.items()}, self.trace)

    def __sub__(self, other: Any) -> Lin:
        terms = dict(self.terms)
        for key, value in self._point(other, "-").terms.items():
            terms[key] = terms[key] - value if key in terms else -value
        return Lin(terms, self.trace)

    def __rsub__(self, other: Any) -> Lin:
        return self._point(other, "-") - self

    def __mul__(self, scalar: Any) -> Lin:
        c = self._scalar(scalar, "*")
        return Lin({key: c * value for key, value in self.terms.items()}, self.trace)

    __rmul__ = __mul__

    def __truediv__(self, scalar: Any) -> Lin:
        c = self._scalar(scalar, "/")
        return Lin({key: value / c for key, value in self.terms.items()}, self.trace)


_NOT_SCALARS = (Lin, str, bytes, bool, np.ndarray)


def _states(fn: Callable[..., Any], skip: int, what: str) -> tuple[str, ...]:
    """The names of ``fn``'s positional parameters after the first ``skip``: its states."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        raise OptnetError(f"{what} must be a function, got {type(fn).__name__}") from exc
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = tuple(p.name for p in params[skip:] if p.kind in kinds)
    if len(params) <= skip or not names or len(names) != len(params) - skip:
        raise OptnetError(f"{what} {getattr(fn, '__name__', fn)!r} must take {skip} leading "
                          "arguments and then one positional argument per state slot")
    return names


def traced(step: Body, output: Readout) -> Schedule:
    """The schedule of the loop body ``step(j, p, grad, *states) -> new states`` with the output
    line ``output(p, *states) -> point``; ``states`` are named alike in both, one per slot
    (e.g. ``xi, xi_prev``). Sub-step j runs the body once on symbols (see the module doc)."""
    names = _states(step, 3, "a loop body (j, params, grad, *states)")
    if _states(output, 1, "an output line (params, *states)") != names:
        raise OptnetError(f"the loop body {step.__name__!r} has the states {', '.join(names)}; "
                          f"its output line {output.__name__!r} must take the same")
    m = len(names)

    def schedule(j: int, p: Params) -> Step:
        trace = _Trace(f"method loop {step.__name__!r}, sub-step {j}", p.ar.zero(), p.ar.one())
        state = tuple(Lin({i: trace.one}, trace) for i in range(m))
        new = step(j, p, trace.grad, *state)
        if not isinstance(new, tuple) or len(new) != m:
            raise trace.error(f"the body returned {type(new).__name__} {new!r:.60}; return the "
                              f"{m} new states ({', '.join(names)}) as a tuple")  # fmt: skip
        D, _ = trace.row(output(p, *state), m, "the output", gradient=False)
        if trace.point is None:
            if any(after is not before for after, before in zip(new, state, strict=True)):
                raise trace.error("no gradient call, yet the states changed; each sub-step "
                                  "makes exactly one (only a hold returns its states as given)")
            ident = tuple(tuple(trace.one if i == k else trace.zero for k in range(m))
                          for i in range(m))  # fmt: skip
            return Step(A=ident, B=(trace.zero,) * m, C=D, D=D)
        C, _ = trace.row(trace.point, m, "the gradient's point", gradient=False)
        rows = [trace.row(v, m, f"the new {name}", gradient=True)
                for v, name in zip(new, names, strict=True)]
        return Step(A=tuple(r[0] for r in rows), B=tuple(r[1] for r in rows), C=C, D=D)

    schedule.__name__ = step.__name__
    schedule.__qualname__ = step.__qualname__
    schedule.__doc__ = step.__doc__
    return schedule
