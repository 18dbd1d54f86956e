"""``certify``: a method's worst case after N steps, as a checked interval.

The performance estimation problem is built from the method's description
(:mod:`optnet_theory.certify.problem`), so no PEP is written by hand for any method and a
method you register is certified the same way. It is solved in normalised units and mapped
back by the metric's scaling law; it is assembled and solved directly
(:mod:`optnet_theory.certify.sdp`); the answer is accepted only when the solver reports
success *and* the interval checks of :mod:`optnet_theory.certify.bounds` pass. Otherwise the
solve is retried (a larger margin, looser tolerances, the other solver); if every attempt
fails, :class:`~optnet_theory.errors.OptnetError` says what was obtained and why it is not a
certificate. No number leaves this module unchecked.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from optnet_theory.certify.bounds import lower_bound, upper_bound
from optnet_theory.certify.problem import (
    INITIAL_CONDITIONS,
    SCALING,
    Pep,
    build_pep,
    scale_factor,
)
from optnet_theory.certify.sdp import DualData, SolverResult, assemble, solve, violations
from optnet_theory.certify.solver import require_solver
from optnet_theory.errors import OptnetError
from optnet_theory.methods import METRICS, Method
from optnet_theory.methods.dense import dense_form
from optnet_theory.validation import check_int

__all__ = [
    "ATTEMPTS", "MAIN_EPS", "MAX_GAP", "ROBUST_EPS", "Certificate", "Evidence", "certify",
    "fixed_point_defect", "recheck", "resolve_condition",
]

#: tolerance of the fixed-point check (|c - 1| of :func:`fixed_point_defect`).
_FIXED_POINT_TOL = 1e-9
#: largest relative gap (upper - lower)/upper accepted as a certificate.
MAX_GAP = 1e-3
#: (solver, tolerance, basis of :func:`~optnet_theory.certify.problem.build_pep`) tried in
#: order until the checks pass.
ATTEMPTS: tuple[tuple[str, float, str], ...] = (
    ("clarabel", 1e-8, "auto"),
    ("clarabel", 1e-8, "diagonal"),
    ("clarabel", 1e-6, "auto"),
    ("scs", 1e-6, "auto"),
)
#: impose every interpolation condition from the first round when there are at most this many.
_ALL_ROWS = 600
#: the margins of the main and the robust solve of each round (see :func:`_attempt`).
MAIN_EPS = 1e-7
ROBUST_EPS = 1e-4
#: rounds of adding the conditions the primal violates.
_CUT_ROUNDS = 6
#: an interval this tight ends the rounds.
_TARGET_GAP = 1e-6


@dataclass(frozen=True)
class Evidence:
    """What the checks of a certificate read, enough to run them again (the cache does):
    the main and robust dual points (tau, lambda), the primal points (G, phi) the lower bound
    came from, and the exact bounds they gave (normalised units)."""

    main: tuple[float, list[float]]
    robust: tuple[float, list[float]] | None
    primals: list[tuple[list[list[float]], list[float]]]
    lower: Fraction
    upper: Fraction
    basis: str = "auto"

    def to_json(self) -> dict[str, Any]:
        return {"main": list(self.main), "robust": None if self.robust is None
                else list(self.robust), "primals": [list(p) for p in self.primals],
                "lower": str(self.lower), "upper": str(self.upper), "basis": self.basis}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        robust = data["robust"]
        return cls((float(data["main"][0]), [float(v) for v in data["main"][1]]),
                   None if robust is None else (float(robust[0]), [float(v) for v in robust[1]]),
                   [([[float(v) for v in row] for row in G], [float(v) for v in phi])
                    for G, phi in data["primals"]],
                   Fraction(data["lower"]), Fraction(data["upper"]), str(data["basis"]))


@dataclass(frozen=True)
class Certificate:
    """The worst case of ``metric`` after ``steps`` iterations over the function class.

    ``lower`` <= exact worst case <= ``upper``, both checked in exact arithmetic
    (:mod:`optnet_theory.certify.bounds`); ``worst_case`` is the solver's value placed inside
    them and ``relative_gap`` = (upper - lower)/upper. ``analytic``: the published bound, where
    one exists for this metric and initial condition. ``scaling``: how the normalised value
    (L = 1, initial radius or gap 1) was mapped back. ``n_step_rate``: [low, high] of
    (value)^(1/(2N)) over the normalised interval. ``seconds``: building, solving, checking.
    """

    method: str
    steps: int
    L: float
    mu: float
    metric: str
    initial_condition: str
    worst_case: float
    lower: float
    upper: float
    relative_gap: float
    analytic: float | None
    scaling: dict[str, Any]
    n_step_rate: list[float]
    lower_instance: str
    solver: str
    solver_status: str
    attempts: int
    seconds: float
    evidence: Evidence | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The record ``optnet certify --json`` prints (keys in this order)."""
        out = asdict(self)
        del out["evidence"]
        return out


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


def resolve_condition(method: Method, metric: str | None, initial: str | None) -> tuple[str, str]:
    """(metric, initial condition), defaulting to the method's own guarantee."""
    metric = method.spec.metric if metric is None else metric
    if metric not in METRICS:
        raise OptnetError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    default = next(k for k, v in INITIAL_CONDITIONS.items() if v == METRICS[metric][1])
    initial = default if initial is None else initial
    if initial not in INITIAL_CONDITIONS:
        raise OptnetError(
            f"unknown initial condition {initial!r}; choose from {', '.join(INITIAL_CONDITIONS)}"
        )
    return metric, initial


def _problem(method: Method, steps: int, metric: str | None, initial: str | None,
             basis: str = "auto") -> tuple[int, str, str, Pep, DualData]:
    steps = check_int(steps, "steps", 1, 10_000)
    metric, initial = resolve_condition(method, metric, initial)
    defect = fixed_point_defect(method, steps)
    if defect > _FIXED_POINT_TOL:
        raise OptnetError(
            f"method {method.name!r}: its coefficients do not keep the minimiser x* fixed "
            f"(started at x_0 = x*, a gradient point or output is c x* with |c - 1| = "
            f"{defect:.3g}), so they do not define a convergent method and no certificate exists"
        )
    pep = build_pep(method, steps, metric, initial, basis)
    return steps, metric, initial, pep, assemble(pep)


def certify(
    method: Method,
    steps: int,
    *,
    metric: str | None = None,
    initial: str | None = None,
    max_gap: float = MAX_GAP,
) -> Certificate:
    """The checked worst case of ``method`` after ``steps`` iterations.

    ``metric``: a key of :data:`~optnet_theory.methods.METRICS` (default: the one the method's
    guarantee bounds); ``initial``: a key of :data:`INITIAL_CONDITIONS` (default: the one of
    ``metric``). The class is L-smooth convex for mu = 0 and L-smooth mu-strongly convex for
    mu > 0, with the method's (L, mu). Raises :class:`~optnet_theory.errors.OptnetError` when
    the coefficients do not keep x* fixed, when mu = L, or when no attempt yields a checked
    interval with relative gap <= ``max_gap``.
    """
    require_solver()
    start = time.perf_counter()
    problems: dict[str, tuple[int, str, str, Pep, DualData]] = {}
    failures: list[str] = []
    for attempt, (solver, tol, basis) in enumerate(ATTEMPTS, start=1):
        if basis not in problems:
            problems[basis] = _problem(method, steps, metric, initial, basis)
        steps, metric, initial, pep, data = problems[basis]
        found = _attempt(pep, data, solver, tol, max_gap)
        if isinstance(found, str):
            failures.append(f"{found} ({basis} basis)")
            continue
        found.evidence = replace(found.evidence, basis=basis)
        return _certificate(method, steps, metric, initial, pep, found, attempt,
                            time.perf_counter() - start)
    raise OptnetError(
        f"{method.name!r}, N = {steps}: no checked certificate ({'; '.join(failures)}); "
        f"the solver's numbers are not a bound, so none is printed"
    )


def recheck(method: Method, steps: int, metric: str, initial: str, evidence: Evidence
            ) -> tuple[float, float] | None:
    """Run the checks of ``evidence`` again. When they give exactly its bounds, the interval
    (lower, upper) they certify, in the units of :class:`Certificate`; else None."""
    try:
        _, _, _, pep, data = _problem(method, steps, metric, initial, evidence.basis)
        found = upper_bound(pep, data, _dual(evidence.main, data),
                            None if evidence.robust is None else _dual(evidence.robust, data))
        if found is None or found[0] != evidence.upper:
            return None
        primals = [(np.array(G), np.array(phi)) for G, phi in evidence.primals]
        if lower_bound(pep, primals).value != evidence.lower:
            return None
    except (OptnetError, ValueError, IndexError):
        return None
    factor = scale_factor(metric, initial, method.L)
    scale = pep.objective_scale
    return (float(evidence.lower / scale) * factor, float(evidence.upper / scale) * factor)


def _dual(point: tuple[float, list[float]], data: DualData) -> tuple[float, np.ndarray]:
    lam = np.asarray(point[1], dtype=float)
    if lam.shape != (len(data.pairs),) or not np.all(np.isfinite(lam)):
        raise ValueError("multipliers of the wrong size")
    return float(point[0]), lam


@dataclass
class _Found:
    lower: Fraction
    upper: Fraction
    instance: str
    main: SolverResult
    evidence: Evidence
    eps: float


def _attempt(pep: Pep, data: DualData, solver: str, tol: float, max_gap: float) -> _Found | str:
    """One attempt: the checked interval, or why it failed.

    Each round solves with a small margin (:data:`MAIN_EPS`: a dual matrix S >= eps I and a
    primal with every v_ij >= eps; widened once when the solver's accuracy missed it) and
    checks the bounds; where that check fails or leaves the
    interval wider than :data:`_TARGET_GAP`, it solves again with a wide margin
    (:data:`ROBUST_EPS`) and the checked bounds mix the two
    (:func:`~optnet_theory.certify.bounds.upper_bound`,
    :func:`~optnet_theory.certify.bounds.lower_bound`): the robust point absorbs what rounding
    and the solver's tolerance cost the main one. The conditions are imposed in rounds
    (:func:`_initial_rows` first): any subset gives a valid upper bound (the multipliers of
    the others are 0); the conditions the main primal violates are added while the lower
    bound can still rise.
    """
    rows = _initial_rows(pep, data)
    best: _Found | None = None
    failure = ""
    eps = MAIN_EPS
    for _ in range(_CUT_ROUNDS):
        main = solve(data, eps, solver, tol, rows)
        inside = float(np.min(violations(data, main)[rows])) if main.solved else 0.0
        if inside < 0:  # the solver missed the margin: ask for one wider than what it missed
            eps = max(10 * eps, 4 * -inside)
            main = solve(data, eps, solver, tol, rows)
        if not main.solved:
            failure = f"{solver} status {main.status}"
            break
        robust: SolverResult | None = None
        primals = [(main.G, main.phi)]
        found_upper = upper_bound(pep, data, (main.tau, main.lam))
        found = lower_bound(pep, primals)
        if found_upper is None or _gap(found.value, found_upper[0]) > _TARGET_GAP:
            robust = solve(data, ROBUST_EPS, solver, max(tol, 1e-7), rows)
            if robust.solved:
                primals.append((robust.G, robust.phi))
                found_upper = upper_bound(pep, data, (main.tau, main.lam),
                                          (robust.tau, robust.lam))
                found = lower_bound(pep, primals)
            else:
                robust = None
        if found_upper is None:
            failure = f"{solver}: no dual matrix checked positive definite"
            break
        upper = found_upper[0]
        if found.value > upper:
            raise OptnetError(
                f"internal error: lower bound {float(found.value / pep.objective_scale):.6g} "
                f"exceeds the checked upper bound {float(upper / pep.objective_scale):.6g}; "
                f"please report it"
            )
        if best is None or _gap(found.value, upper) < _gap(best.lower, best.upper):
            evidence = Evidence(
                (main.tau, main.lam.tolist()),
                None if robust is None else (robust.tau, robust.lam.tolist()),
                [(G.tolist(), phi.tolist()) for G, phi in primals], found.value, upper)
            best = _Found(found.value, upper, found.instance, main, evidence, eps)
        # more conditions can only raise the lower bound, up to the solver's value on this
        # subset less what its margin added (eps tr G): stop when nothing is left to gain
        gain = Fraction(main.tau) - found.value - Fraction(2 * eps * np.trace(main.G))
        if _gap(best.lower, best.upper) <= _TARGET_GAP or gain <= _TARGET_GAP * Fraction(
                main.tau):
            break
        bad = np.setdiff1d(np.nonzero(violations(data, main) < -tol)[0], rows)
        if bad.size == 0:
            break
        rows = np.union1d(rows, bad)
    if best is None:
        return failure
    if _gap(best.lower, best.upper) > max_gap:
        low, up = (float(v / pep.objective_scale) for v in (best.lower, best.upper))
        return (f"{solver}: interval [{low:.6g}, {up:.6g}] has relative gap "
                f"{_gap(best.lower, best.upper):.2g} > {max_gap:g}")
    return best


def _gap(lower: Fraction, upper: Fraction) -> float:
    return float((upper - lower) / upper) if upper > 0 else 0.0


def _initial_rows(pep: Pep, data: DualData) -> np.ndarray:
    """The conditions imposed first: all of them for a small problem; else consecutive points
    and every pair with x* (the ones the classical proofs use), the rest added where
    violated."""
    if len(data.pairs) <= _ALL_ROWS:
        return np.arange(len(data.pairs))
    keep = [k for k, (i, j) in enumerate(data.pairs) if abs(i - j) <= 1 or i == 0 or j == 0]
    return np.array(keep, dtype=int)


def _certificate(method: Method, steps: int, metric: str, initial: str, pep: Pep,
                 found: _Found, attempts: int, seconds: float) -> Certificate:
    scale = pep.objective_scale
    factor = scale_factor(metric, initial, method.L)
    low_n, up_n = found.lower / scale, found.upper / scale
    # the main solve's value less what its margin added: the best point estimate
    estimate = Fraction(found.main.tau - found.eps * float(np.trace(found.main.G)))
    mid = min(max(estimate / scale, low_n), up_n)
    analytic = None
    if method.spec.analytic is not None and (metric, initial) == resolve_condition(
        method, None, None
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
        worst_case=float(mid) * factor,
        lower=float(low_n) * factor,
        upper=float(up_n) * factor,
        relative_gap=float((up_n - low_n) / up_n) if up_n > 0 else 0.0,
        analytic=analytic,
        scaling={"law": SCALING[(metric, initial)], "factor": factor,
                 "normalised": {"lower": float(low_n), "upper": float(up_n)}},
        n_step_rate=[float(low_n) ** (1 / (2 * steps)), float(up_n) ** (1 / (2 * steps))],
        lower_instance=found.instance,
        solver=found.main.solver,
        solver_status=found.main.status,
        attempts=attempts,
        seconds=seconds,
        evidence=found.evidence,
    )
