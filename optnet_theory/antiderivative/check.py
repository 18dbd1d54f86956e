"""Checks every derived Psi before it is returned (Lemma 1 needs Psi' = Phi exactly).

1. symbolic: Psi' - Phi simplifies to 0 (branch by branch, within 0.25 s of CPU; recorded in
   the steps, but not required: the numeric check below is the one that must pass);
2. numeric: |Psi'(t) - Phi(t)| at >= 50 points spread over [-20, 20] at 30 significant digits
   (evaluated with guard digits), points within 1e-6 of a breakpoint skipped;
3. real: Psi has no imaginary part at those points and far out (|x| up to 1e3);
4. continuous: the two branches of Psi agree at every breakpoint (30 digits);
5. normalised: Psi(0) = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from optnet_theory.antiderivative.piecewise import (
    as_piecewise,
    breakpoints,
    intervals,
    junctions,
    mp_point,
)
from optnet_theory.antiderivative.timelimit import Pending, start_with_limit
from optnet_theory.numerics import mp_function

CHECK_POINTS = 61
CHECK_RANGE = 20
CHECK_DPS = 30
GUARD_DPS = 30
TOLERANCE = 1e-20
FAR_POINTS = (-1000, -100, -50, 50, 100, 1000)
#: CPU seconds for the symbolic attempt (step 1).
SYMBOLIC_SECONDS = 0.25


@dataclass(frozen=True)
class CheckResult:
    """Outcome of :func:`check_antiderivative`."""

    verified: bool
    symbolic: bool
    max_error: float
    problems: tuple[str, ...]
    steps: tuple[str, ...]


def check_points(x_breaks: list[float]) -> list[mpmath.mpf]:
    """>= 50 points over [-20, 20], away from breakpoints, irrational offsets."""
    pts = []
    offset = mpmath.mpf(1) / mpmath.sqrt(7)
    for k in range(CHECK_POINTS):
        t = -CHECK_RANGE + 2 * CHECK_RANGE * (k + offset) / CHECK_POINTS
        if all(abs(t - b) > 1e-6 for b in x_breaks):
            pts.append(t)
    return pts


def _start_symbolic_zero(diff: sp.Expr) -> Pending[bool]:
    """Whether ``diff`` simplifies to 0 (every branch) within SYMBOLIC_SECONDS, started in a
    child process; the caller goes on meanwhile."""

    def attempt() -> bool:
        expr = sp.piecewise_fold(sp.expand_func(diff))
        parts = [e for e, _ in expr.args] if isinstance(expr, sp.Piecewise) else [expr]
        return all(sp.simplify(sp.expand_func(p)) == 0 for p in parts)

    return start_with_limit(SYMBOLIC_SECONDS, attempt)


def check_antiderivative(phi: sp.Expr, psi: sp.Expr, x: sp.Symbol) -> CheckResult:
    """Verify Psi' = Phi, realness, continuity and Psi(0) = 0 (see module docstring)."""
    problems: list[str] = []
    steps: list[str] = []
    diff = sp.diff(psi, x) - as_piecewise(phi)
    simplifying = _start_symbolic_zero(diff)  # on the second core while the points are checked
    pieces = intervals(as_piecewise(psi))
    cut_floats = [float(b) for b in breakpoints(pieces)]
    dpsi = mp_function(sp.diff(psi, x), x)
    phi_mp = mp_function(phi, x)
    psi_mp = mp_function(psi, x)
    worst = mpmath.mpf(0)
    with mpmath.workdps(CHECK_DPS + GUARD_DPS):
        for t in check_points(cut_floats):
            try:
                err = abs(dpsi(t) - phi_mp(t)) / max(1, abs(phi_mp(t)))
            except (ZeroDivisionError, ValueError, TypeError) as exc:
                problems.append(f"Psi' or Phi cannot be evaluated at x={float(t):.4g} ({exc})")
                continue
            worst = max(worst, err)
        for t in [*check_points(cut_floats)[::6], *FAR_POINTS]:
            value = psi_mp(mpmath.mpf(t))
            if isinstance(value, mpmath.mpc) and abs(value.imag) > TOLERANCE:
                problems.append(f"Psi is not real at x={float(t):.4g}")
                break
        for b, left, right in junctions(pieces):
            lo = mp_function(left, x)(mp_point(b))
            hi = mp_function(right, x)(mp_point(b))
            if abs(lo - hi) > TOLERANCE:
                problems.append(f"Psi jumps by {sp.nsimplify(float(hi - lo))} at x={b}")
        at0 = psi_mp(mpmath.mpf(0))
        if abs(at0) > TOLERANCE:
            problems.append(f"Psi(0) = {float(mpmath.re(at0)):.3g}, not 0")
    symbolic = bool(simplifying.result())
    steps.append(
        "check: Psi' - Phi simplifies to 0"
        if symbolic
        else "check: Psi' - Phi not simplified to 0 symbolically; numeric check decides"
    )
    max_error = float(worst)
    if max_error > TOLERANCE:
        problems.append(f"|Psi' - Phi| reaches {max_error:.2e} (tolerance {TOLERANCE:g})")
    steps.append(
        f"check: |Psi' - Phi| <= {max_error:.1e} at {len(check_points(cut_floats))} points in "
        f"[-{CHECK_RANGE}, {CHECK_RANGE}] at {CHECK_DPS} digits; real, continuous at "
        f"{len(cut_floats)} breakpoint(s), Psi(0) = 0"
        if not problems
        else "check FAILED: " + "; ".join(problems)
    )
    return CheckResult(not problems, symbolic, max_error, tuple(problems), tuple(steps))

