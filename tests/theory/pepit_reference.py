"""An independent reference for the certificates: the same PEPs stated through PEPit.

``optnet_theory.certify`` assembles its SDPs itself; this module states the same problem with
PEPit's symbolic points (PEPit with cvxpy and Clarabel, or SCS), running the method's linear
system on them, so that tests can compare the two. It is test code only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from optnet_theory.methods import Method, Step

__all__ = ["reference_worst_case"]

#: SDP solvers tried in order (names as cvxpy spells them).
SOLVERS: tuple[str, ...] = ("CLARABEL", "SCS")

def _combine(coefficients: Sequence[Any], points: Sequence[Any], zero: Any) -> Any:
    out = zero
    for c, p in zip(coefficients, points, strict=True):
        c = float(c)
        if c != 0.0:
            out = out + c * p
    return out


def _solve(method: Method, steps: Sequence[Step], metric: str, initial: str, solver: str) -> Any:
    """One PEP of ``method`` over ``steps`` (a fresh problem: PEPit's classes are global)."""
    import PEPit as pepit
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


def reference_worst_case(method: Method, steps: int, metric: str, initial: str) -> float:
    """PEPit's value of the PEP (Clarabel, then SCS)."""
    from cvxpy.error import SolverError

    coefficients = method.coefficients(steps)
    for solver in SOLVERS:
        try:
            value, status = _solve(method, coefficients, metric, initial, solver)
        except (SolverError, ArithmeticError, ValueError):
            continue
        if value is not None and status in ("optimal", "optimal_inaccurate"):
            return float(value)
    raise AssertionError(f"PEPit could not solve the PEP of {method.name}")
