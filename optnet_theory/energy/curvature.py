"""Curvature of the energy (8): bounds on Phi' and the resulting mu, L of f.

The Hessian of f(z) = ||z||^2/2 - sum_i Psi(U_i^T z) is I - U diag(Phi'(U^T z)) U^T. With
m <= Phi' <= M on R, U (D - m I) U^T >= 0 and U (M I - D) U^T >= 0 give
I - M W <= Hessian <= I - m W for W = U U^T (= U^2 = W of Lemma 1 when U = sqrt(W) is
symmetric). So mu = min_i (1 - M lambda_i(W)) and L = max_i (1 - m lambda_i(W)); f is strongly
convex when mu > 0 (Sec. 5.1 uses the ratio L/mu).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp
from sympy.calculus.singularities import singularities

from optnet_theory.antiderivative.piecewise import (
    as_piecewise,
    float_breakpoints,
    intervals,
    junctions,
    mp_point,
)
from optnet_theory.antiderivative.timelimit import Pending, call_with_limit, start_with_limit
from optnet_theory.energy import Energy
from optnet_theory.energy.activations import X
from optnet_theory.errors import OptnetError
from optnet_theory.numerics import mp_function

GRID_RADIUS = 60.0
GRID_POINTS = 24001
FAR = (-1e12, -1e9, -1e6, -1e3, -300.0, 300.0, 1e3, 1e6, 1e9, 1e12)
NUMERIC_TOLERANCE = 1e-9
REFINE_ROUNDS = 3
#: CPU seconds for deciding unboundedness symbolically (limits of Phi').
UNBOUNDED_SECONDS = 2.0


@dataclass(frozen=True)
class SlopeBounds:
    """inf and sup of Phi' over R; exact SymPy values when found symbolically."""

    m: float
    M: float
    method: str  # "symbolic" or "numeric"
    tolerance: float  # 0 for symbolic; else the stated absolute tolerance
    exact_m: sp.Expr | None = None
    exact_M: sp.Expr | None = None


@dataclass(frozen=True)
class Curvature:
    """mu I <= Hessian of (8) <= L I on R^n, from the slope bounds and W = U U^T."""

    mu: float
    L: float
    strongly_convex: bool
    m: float
    M: float
    lambda_min: float
    lambda_max: float
    lipschitz: float  # max(|mu|, |L|): Lipschitz constant of the gradient (9)
    slope_method: str


def _jumps(phi: sp.Expr) -> list[float]:
    """Right minus left limit of Phi at each breakpoint (a jump makes Phi' a Dirac mass)."""
    out = []
    with mpmath.workdps(30):
        for b, left, right in junctions(intervals(as_piecewise(phi))):
            try:
                lo = mp_function(left, X)(mp_point(b))
                hi = mp_function(right, X)(mp_point(b))
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                lo = hi = mpmath.nan
            if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
                raise OptnetError(
                    f"Phi = {phi} has no finite value at its breakpoint x={b} (a pole such as "
                    "1/x); an activation must be finite on all of R"
                )
            out.append(float(hi - lo))
    return out


def _limit_sides(value: sp.Expr) -> tuple[bool, bool]:
    """(reaches -inf, reaches +inf) for a limit SymPy returned (a number, +-oo, AccumBounds)."""
    if isinstance(value, sp.AccumBounds):
        return value.min == -sp.oo, value.max == sp.oo
    if value == sp.zoo:
        return True, True
    return value == -sp.oo, value == sp.oo


def _decide_unbounded(phi: sp.Expr) -> tuple[bool, bool]:
    """The limits of :func:`_unbounded` (run in a child process under its CPU limit)."""
    low = high = False
    for interval, expr in intervals(as_piecewise(phi)):
        slope = sp.diff(expr, X)
        points = [(interval.inf, "+"), (interval.sup, "-")]
        inside = singularities(slope, X, sp.Interval.open(interval.inf, interval.sup))
        if isinstance(inside, sp.FiniteSet):
            points += [(p, d) for p in inside for d in ("+", "-")]
        for point, side in points:
            down, up = _limit_sides(sp.limit(slope, X, point, side))
            low, high = low or down, high or up
    return low, high


_STARTED: dict[sp.Expr, Pending[tuple[bool, bool]]] = {}


@contextmanager
def deciding_unbounded(phi: sp.Expr) -> Iterator[None]:
    """Decide :func:`_unbounded` for ``phi`` in a child process while the body runs (``optnet
    derive`` derives Psi meanwhile, on the second core); the answer is the same. A decision the
    body did not use is stopped when it ends."""
    _STARTED[phi] = start_with_limit(UNBOUNDED_SECONDS, lambda: _decide_unbounded(phi))
    try:
        yield
    finally:
        unused = _STARTED.pop(phi, None)
        if unused is not None:
            unused.cancel()


def _unbounded(phi: sp.Expr) -> tuple[bool, bool]:
    """Whether inf Phi' = -inf and sup Phi' = +inf, decided symbolically (UNBOUNDED_SECONDS).

    One-sided limits of Phi' at both ends of every piece (+-oo included: the degree of growth
    of x**3 or max(x, 0)**2) and at Phi''s singular points inside a piece (the cusp of
    sqrt(abs(x)) at 0). (False, False) when SymPy cannot decide in time; the grid then decides.
    """
    pending = _STARTED.pop(phi, None)
    if pending is None:
        pending = start_with_limit(UNBOUNDED_SECONDS, lambda: _decide_unbounded(phi))
    try:
        out = pending.result()
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        return False, False
    return out if out is not None else (False, False)


def _symbolic(phi: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    from sympy.calculus.util import maximum, minimum

    def attempt() -> tuple[sp.Expr, sp.Expr]:
        lows, highs = [], []
        for interval, expr in intervals(as_piecewise(phi)):
            slope = sp.diff(expr, X)
            domain = sp.Interval(interval.inf, interval.sup)  # closure: inf/sup over the piece
            lows.append(minimum(slope, X, domain))
            highs.append(maximum(slope, X, domain))
        return sp.Min(*lows), sp.Max(*highs)

    try:
        out = call_with_limit(1.0, attempt)
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        return None
    if out is None or not all(v.is_number and v.is_finite for v in out):
        return None
    return out


def _numeric(energy: Energy) -> tuple[float, float]:
    grid = np.concatenate([np.linspace(-GRID_RADIUS, GRID_RADIUS, GRID_POINTS), FAR])
    values = energy.dphi_fn(grid)
    keep = ~np.isnan(values)
    grid, values = grid[keep], values[keep]
    step = 2 * GRID_RADIUS / (GRID_POINTS - 1)
    cuts = float_breakpoints(energy.phi)
    bounds = []
    for sign in (1.0, -1.0):
        k = int(np.argmin(sign * values))
        best = float(sign * values[k])
        center = float(grid[k])
        inner = float(np.min(sign * values[np.abs(grid) <= GRID_RADIUS]))
        if best < inner - NUMERIC_TOLERANCE * max(1.0, abs(inner)):
            bounds.append(-sign * math.inf)  # still growing far out: no bound is established
            continue
        lo, hi = center - step, center + step
        if not any(lo <= c <= hi for c in cuts):
            for _ in range(REFINE_ROUNDS):  # zoom in on the extreme: 1001 points, 3 rounds
                local = np.linspace(lo, hi, 1001)
                vals = sign * energy.dphi_fn(local)
                j = int(np.nanargmin(vals))
                best = min(best, float(vals[j]))
                width = (hi - lo) / 1000
                lo, hi = local[j] - width, local[j] + width
        bounds.append(sign * best)
    return bounds[0], bounds[1]


@lru_cache(maxsize=64)
def slope_bounds_report(energy: Energy, symbolic: bool = True) -> SlopeBounds:
    """m <= Phi' <= M on R: symbolic (SymPy minimum/maximum per branch, up to 1 s) or numeric.

    First, unboundedness is decided symbolically (:func:`_unbounded`: limits of Phi' at +-oo,
    at breakpoints and at singular points; a jump of Phi makes Phi' a Dirac mass): such a side
    is +-inf, never a large grid value. Numeric: Phi' on a grid of 24001 points over [-60, 60]
    plus |x| = 300 ... 1e12, the extreme refined by three 1000-fold zooms (to ~1e-11); stated
    tolerance ``NUMERIC_TOLERANCE``; Phi' beyond [-60, 60] exceeding its extreme inside by more
    than the tolerance (still growing) counts as unbounded. Cached per Energy object.
    """
    jumps = _jumps(energy.phi)
    low, high = _unbounded(energy.phi)
    low = low or any(j < -1e-20 for j in jumps)
    high = high or any(j > 1e-20 for j in jumps)
    if low and high:
        return SlopeBounds(-math.inf, math.inf, "symbolic", 0.0, -sp.oo, sp.oo)
    if low or high:
        m, big_m = _numeric(energy)
        m, big_m = (-math.inf if low else m), (math.inf if high else big_m)
        return SlopeBounds(m, big_m, "numeric", NUMERIC_TOLERANCE)
    exact = _symbolic(energy.phi) if symbolic else None
    if exact is not None:
        return SlopeBounds(float(exact[0]), float(exact[1]), "symbolic", 0.0, exact[0], exact[1])
    m, big_m = _numeric(energy)
    return SlopeBounds(m, big_m, "numeric", NUMERIC_TOLERANCE)


def slope_bounds(energy: Energy) -> tuple[float, float]:
    """(m, M) with m <= Phi'(x) <= M for all real x (inf and sup); see slope_bounds_report."""
    report = slope_bounds_report(energy)
    return report.m, report.M


def curvature(energy: Energy, U: np.ndarray, symbolic: bool = True) -> Curvature:
    """mu and L of f in (8) for the matrix U (Hessian I - U diag(Phi'(U^T z)) U^T).

    ``symbolic=False`` skips the SymPy attempt at the slope bounds (numeric only, faster).
    """
    u = np.asarray(U, dtype=float)
    if u.ndim != 2 or not np.all(np.isfinite(u)):
        raise OptnetError(f"U must be a finite 2-D matrix, got shape {u.shape}")
    w = u @ u.T
    eig = np.linalg.eigvalsh((w + w.T) / 2)
    lam_min, lam_max = float(eig[0]), float(eig[-1])
    report = slope_bounds_report(energy, symbolic)
    with np.errstate(invalid="ignore"):
        mu = min(_affine(report.M, lam_min), _affine(report.M, lam_max))
        big_l = max(_affine(report.m, lam_min), _affine(report.m, lam_max))
    return Curvature(
        mu=mu,
        L=big_l,
        strongly_convex=bool(mu > 0),
        m=report.m,
        M=report.M,
        lambda_min=lam_min,
        lambda_max=lam_max,
        lipschitz=max(abs(mu), abs(big_l)),
        slope_method=report.method,
    )


def _affine(slope: float, lam: float) -> float:
    """1 - slope * lam, with 0 * inf read as 0 (lam = 0 means no curvature from Psi)."""
    return 1.0 if lam == 0 else 1.0 - slope * lam
