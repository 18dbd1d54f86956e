"""Worst-case certificates by performance estimation (PEP), built from a method's description.

The performance estimation problem of Drori & Teboulle (2014) and Taylor, Hendrickx & Glineur
(2017) asks for the largest value of a performance metric after N iterations of a fixed-step
method over a whole function class, from a bounded initial condition. For L-smooth (mu-strongly)
convex functions it is a small SDP whose optimum is the exact worst case. PEPit states it from
the same operations one would use to run the method, so :func:`certify` runs the linear system
of :mod:`optnet_theory.methods.core`

    xi_{j+1} = A_j xi_j + B_j u_j,   y_j = C_j xi_j,   u_j = grad f(y_j),   x_k = D xi_{ks}

on PEPit's symbolic points: one generic PEP for every registered method (no PEP is written by
hand for any of them). The start is xi_0 = ``initial`` (x) x_0, the minimiser x* is a stationary
point, and the metric and initial condition are those of :data:`METRICS` (Sec. 2's rate claims,
now computed).

PEPit and its solvers are the optional extra ``certify`` (``pip install 'optnet[certify]'``).
Solver: Clarabel through PEPit's cvxpy wrapper, SCS if Clarabel fails. No torch.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods import METRICS, Method, Step
from optnet_theory.methods.dense import dense_form
from optnet_theory.validation import check_int

__all__ = [
    "INITIAL_CONDITIONS",
    "PEPIT_EXTRA",
    "SOLVERS",
    "Certificate",
    "certify",
    "fixed_point_defect",
    "require_pepit",
]

#: how to install what certificates need.
PEPIT_EXTRA = "pip install 'optnet[certify]'"

#: SDP solvers tried in order (names as cvxpy spells them).
SOLVERS: tuple[str, ...] = ("CLARABEL", "SCS")

#: initial conditions a certificate can start from -> their text (the texts of :data:`METRICS`).
INITIAL_CONDITIONS: dict[str, str] = {
    "distance": METRICS["distance"][1],
    "function-gap": METRICS["gradient-norm"][1],
}

#: tolerance of the fixed-point check (|c - 1| of :func:`fixed_point_defect`).
_FIXED_POINT_TOL = 1e-9
#: solver statuses accepted as a solution.
_SOLVED = ("optimal", "optimal_inaccurate")


@dataclass(frozen=True)
class Certificate:
    """The exact worst case of ``metric`` after ``steps`` iterations over the function class.

    ``worst_case`` is the PEP's optimal value (the dual bound PEPit returns), ``analytic`` the
    published bound of the method where one exists for this metric and initial condition.
    ``seconds``: building and solving the SDP.
    """

    method: str
    steps: int
    L: float
    mu: float
    metric: str
    initial_condition: str
    worst_case: float
    analytic: float | None
    solver: str
    solver_status: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The record ``optnet certify --json`` prints (keys in this order)."""
        return asdict(self)


def require_pepit() -> Any:
    """The PEPit module, or an :class:`OptnetError` naming the extra to install."""
    try:
        import PEPit
    except ImportError:
        raise OptnetError(
            f"certificates need PEPit and an SDP solver; install the extra: {PEPIT_EXTRA}"
        ) from None
    return PEPit


def fixed_point_defect(method: Method, iterations: int) -> float:
    """How far ``method`` is from keeping x* fixed over ``iterations``: 0 for a consistent one.

    Started at x_0 = x*, every gradient point of the dense form is y_j = c_j x* (all earlier
    gradients vanish while c = 1) and every output is ``output_c`` x*. Returns the largest
    |c_j - 1| and |output_c - 1|: with a nonzero defect x* is not a fixed point, so the method
    cannot converge to it (x* != 0) and has no finite worst case.
    """
    form = dense_form(method, iterations)
    values = np.concatenate([form.c, form.output_c]).astype(float)
    return float(np.max(np.abs(values - 1.0)))


def _combine(coefficients: Sequence[Any], points: Sequence[Any], zero: Any) -> Any:
    out = zero
    for c, p in zip(coefficients, points, strict=True):
        c = float(c)
        if c != 0.0:
            out = out + c * p
    return out


def _solve(method: Method, steps: Sequence[Step], metric: str, initial: str, solver: str) -> Any:
    """One PEP of ``method`` over ``steps`` (a fresh problem: PEPit's classes are global)."""
    pepit = require_pepit()
    from PEPit.functions import SmoothConvexFunction, SmoothStronglyConvexFunction

    problem = pepit.PEP()
    if method.mu > 0:
        func = problem.declare_function(SmoothStronglyConvexFunction, mu=method.mu, L=method.L)
    else:
        func = problem.declare_function(SmoothConvexFunction, L=method.L)
    xs = func.stationary_point()
    fs = func(xs)
    x0 = problem.set_initial_point()
    zero = 0 * x0
    xi = [float(c) * x0 for c in method.spec.initial]
    for st in steps[:-1]:
        u = func.gradient(_combine(st.C, xi, zero))
        xi = [_combine(row, xi, zero) + float(b) * u for row, b in zip(st.A, st.B, strict=True)]
    x = _combine(steps[-1].D, xi, zero)
    if initial == "distance":
        problem.set_initial_condition((x0 - xs) ** 2 <= 1)
    else:
        problem.set_initial_condition(func(x0) - fs <= 1)
    if metric == "function-gap":
        problem.set_performance_metric(func(x) - fs)
    elif metric == "distance":
        problem.set_performance_metric((x - xs) ** 2)
    else:
        problem.set_performance_metric(func.gradient(x) ** 2)
    with warnings.catch_warnings():  # cvxpy's "may be inaccurate": the status says so
        warnings.simplefilter("ignore", UserWarning)
        value = problem.solve(wrapper="cvxpy", solver=solver, verbose=0)
    status = problem.wrapper.prob.status if problem.wrapper is not None else "not solved"
    return value, str(status)


def certify(
    method: Method,
    steps: int,
    *,
    metric: str | None = None,
    initial: str | None = None,
) -> Certificate:
    """The PEP worst case of ``method`` after ``steps`` iterations.

    ``metric``: a key of :data:`METRICS` (default: the one the method's guarantee bounds);
    ``initial``: a key of :data:`INITIAL_CONDITIONS` (default: the one of ``metric`` in
    :data:`METRICS`). The function class is L-smooth convex for mu = 0 and L-smooth
    mu-strongly convex for mu > 0, with the method's (L, mu). Raises
    :class:`~optnet_theory.errors.OptnetError` when PEPit is missing, when the coefficients do
    not keep x* fixed (:func:`fixed_point_defect`), or when no finite worst case exists.
    """
    steps = check_int(steps, "steps", 1, 10_000)
    metric = method.spec.metric if metric is None else metric
    if metric not in METRICS:
        raise OptnetError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    default_initial = next(k for k, v in INITIAL_CONDITIONS.items() if v == METRICS[metric][1])
    initial = default_initial if initial is None else initial
    if initial not in INITIAL_CONDITIONS:
        raise OptnetError(
            f"unknown initial condition {initial!r}; choose from {', '.join(INITIAL_CONDITIONS)}"
        )
    require_pepit()
    from cvxpy.error import SolverError
    start = time.perf_counter()
    coefficients = method.coefficients(steps)
    defect = fixed_point_defect(method, steps)
    if defect > _FIXED_POINT_TOL:
        raise OptnetError(
            f"method {method.name!r}: its coefficients do not keep the minimiser x* fixed "
            f"(started at x_0 = x*, a gradient point or output is c x* with |c - 1| = "
            f"{defect:.3g}), so they do not define a convergent method and no certificate exists"
        )
    value, status, used = None, "not solved", SOLVERS[0]
    for used in SOLVERS:
        try:
            value, status = _solve(method, coefficients, metric, initial, used)
        except (SolverError, ArithmeticError, ValueError) as exc:  # try the next solver
            value, status = None, f"error: {type(exc).__name__}"
            continue
        if value is not None and status in _SOLVED and math.isfinite(value):
            break
    seconds = time.perf_counter() - start
    if value is None or status not in _SOLVED or not math.isfinite(value):
        raise OptnetError(
            f"method {method.name!r}: the PEP has no finite worst case after {steps} steps "
            f"(solver status {status!r}); the coefficients do not define a method with a "
            f"bounded guarantee on this class"
        )
    analytic = None
    if method.spec.analytic is not None and (metric, initial) == (
        method.spec.metric,
        default_initial,
    ):
        bound = method.spec.analytic(method, steps)
        analytic = None if bound is None else float(bound)
    return Certificate(
        method=method.name,
        steps=steps,
        L=method.L,
        mu=method.mu,
        metric=metric,
        initial_condition=INITIAL_CONDITIONS[initial],
        worst_case=float(value),
        analytic=analytic,
        solver=used,
        solver_status=status,
        seconds=seconds,
    )
