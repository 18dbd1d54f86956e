"""Psi on all of R: branch by branch, with constants that make Psi continuous, Psi(0) = 0.

For Phi = Piecewise((phi_k, x in I_k)) the antiderivative on each interval I_k is
F_k + c_k; the constants c_k are chained outward from the interval containing 0 so that
Psi(b) agrees from both sides at every breakpoint b. Abs, Max, Min and sign are first
rewritten as Piecewise.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from optnet_theory.antiderivative.realness import interior_point, make_real
from optnet_theory.antiderivative.rules import integrate_smooth
from optnet_theory.antiderivative.timelimit import Pending, start_with_limit
from optnet_theory.errors import OptnetError

TIDY_SECONDS = 0.2

Pieces = list[tuple[sp.Interval, sp.Expr]]


def as_piecewise(phi: sp.Expr) -> sp.Expr:
    """Phi with Abs/Max/Min/sign/Heaviside rewritten and nested Piecewise folded."""
    if phi.has(sp.Abs, sp.Max, sp.Min, sp.sign, sp.Heaviside):
        phi = phi.rewrite(sp.Piecewise)
    return sp.piecewise_fold(phi) if phi.has(sp.Piecewise) else phi


def intervals(phi: sp.Expr) -> Pieces:
    """Phi's pieces as (interval, expression), sorted, intervals of positive length only."""
    if not isinstance(phi, sp.Piecewise):
        return [(sp.Interval(-sp.oo, sp.oo), phi)]
    try:
        pairs = phi.as_expr_set_pairs(sp.S.Reals)
    except (NotImplementedError, ValueError, TypeError):
        # max(sin(1e9), sin(x)): periodic, endless breakpoints (NotImplementedError);
        # max(cosh(x), erf(1e9)): a breakpoint acosh(erf(1e9)) SymPy cannot prove real
        # (ValueError "Non-real intervals"), both found by the long fuzz run
        raise OptnetError(
            f"the branches of Phi = {phi} cannot be located exactly (SymPy cannot solve where "
            "each condition holds, e.g. a periodic condition or a breakpoint it cannot prove "
            "real); write Phi with explicit breakpoints, e.g. Piecewise((..., x > c), "
            "(..., True))"
        ) from None
    pieces: Pieces = []
    for expr, region in pairs:
        for part in sp.Union.make_args(region) if isinstance(region, sp.Union) else [region]:
            if isinstance(part, sp.Interval) and part.measure > 0:
                pieces.append((part, expr))
    pieces.sort(key=lambda p: float(p[0].inf))
    gaps = sp.S.Reals - sp.Union(*(iv for iv, _ in pieces))
    if not (gaps == sp.S.EmptySet or isinstance(gaps, sp.FiniteSet)):
        raise OptnetError(
            f"the branches of Phi = {phi} cannot be located exactly (SymPy cannot solve where "
            f"each condition holds: {gaps}); write Phi with explicit breakpoints, e.g. "
            "Piecewise((..., x > c), (..., True))"
        )
    return pieces


def breakpoints(pieces: Pieces) -> list[sp.Expr]:
    """The finite ends shared by consecutive pieces."""
    return [iv.sup for iv, _ in pieces[:-1]]


def junctions(pieces: Pieces) -> list[tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """``(b, left, right)`` at each breakpoint b: the expressions of the pieces meeting there."""
    ends = breakpoints(pieces)
    return [
        (b, left, right)
        for b, (_, left), (_, right) in zip(ends, pieces[:-1], pieces[1:], strict=True)
    ]


def mp_point(b: sp.Expr) -> mpmath.mpf:
    """A breakpoint (a SymPy number such as pi or sqrt(2)) as an mpf at the current precision."""
    return mpmath.mpf(sp.N(b, mpmath.mp.dps + 5))


def float_breakpoints(phi: sp.Expr) -> list[float]:
    """The breakpoints of ``phi`` (Abs/Max/Min/... rewritten as pieces), as floats."""
    return [float(b) for b in breakpoints(intervals(as_piecewise(phi)))]


def _at(expr: sp.Expr, x: sp.Symbol, point: sp.Expr, side: str) -> sp.Expr:
    value = expr.subs(x, point)
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        value = sp.limit(expr, x, point, side)
    return value


def _same_values(a: sp.Expr, b: sp.Expr, x: sp.Symbol, interval: sp.Interval) -> bool:
    """a = b (real, 30 digits) at three points inside ``interval``."""
    mid = interior_point(interval)
    for t in (mid, mid - sp.Rational(1, 7), mid + sp.Rational(2, 9)):
        if not interval.contains(t):
            continue
        with mpmath.workdps(30):
            va, vb = complex(a.subs(x, t).evalf(30)), complex(b.subs(x, t).evalf(30))
        if abs(va - vb) > 1e-20 * max(1.0, abs(va)) or abs(va.imag) > 1e-20:
            return False
    return True


def _start_tidy(expr: sp.Expr) -> Pending[sp.Expr] | None:
    """Start SymPy's simplify of a piece of Psi (0.2 s of CPU) in a child, so that the pieces
    are tidied side by side; :func:`_tidied` keeps it only if shorter and equal.

    Tried only on expressions with exponentials (e.g. x + log(1 + e^-x) -> log(e^x + 1)):
    on polynomials and logs of polynomials it costs time and rarely shortens anything.
    """
    return start_with_limit(TIDY_SECONDS, lambda: sp.simplify(expr)) if expr.has(sp.exp) else None


def _tidied(
    expr: sp.Expr, x: sp.Symbol, interval: sp.Interval, pending: Pending[sp.Expr] | None
) -> tuple[sp.Expr, list[str]]:
    """``expr`` or its simplified form from ``pending``, if shorter and equal on ``interval``."""
    simpler = None if pending is None else pending.result()
    if simpler is None or sp.count_ops(simpler) >= sp.count_ops(expr):
        return expr, []
    try:
        same = _same_values(expr, simpler, x, interval)
    except (TypeError, ValueError):
        return expr, []
    return (simpler, [f"tidy: {expr} simplified to {simpler}"]) if same else (expr, [])


def antiderivative_on_reals(phi: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr | None, list[str]]:
    """Psi with Psi' = Phi on each piece, continuous on R and Psi(0) = 0; or None."""
    steps: list[str] = []
    folded = as_piecewise(phi)
    pieces = intervals(folded)
    if len(pieces) > 1:
        steps.append(f"piecewise: {len(pieces)} branches, breakpoints {breakpoints(pieces)}")
    antis: list[sp.Expr] = []
    for interval, expr in pieces:
        big_f, sub = integrate_smooth(expr, x)
        steps += [f"[{interval}] {s}" if len(pieces) > 1 else s for s in sub]
        if big_f is None:
            return None, steps
        big_f, fix = make_real(big_f, x, interval)
        steps += fix
        antis.append(big_f)
    home = next(i for i, (iv, _) in enumerate(pieces) if iv.contains(0) or iv.sup == 0)
    psi: list[sp.Expr] = [sp.Integer(0)] * len(pieces)
    psi[home] = antis[home] - _at(antis[home], x, sp.Integer(0), "+")
    for k in range(home + 1, len(pieces)):
        b = pieces[k][0].inf
        psi[k] = antis[k] - _at(antis[k], x, b, "+") + _at(psi[k - 1], x, b, "-")
    for k in range(home - 1, -1, -1):
        b = pieces[k][0].sup
        psi[k] = antis[k] - _at(antis[k], x, b, "-") + _at(psi[k + 1], x, b, "+")
    expanded = [sp.expand_mul(p) for p in psi]
    started = [_start_tidy(p) for p in expanded]
    for k, (interval, _) in enumerate(pieces):
        psi[k], note = _tidied(expanded[k], x, interval, started[k])
        steps += note
    if len(pieces) == 1:
        steps.append("normalise: Psi(0) = 0")
        return psi[0], steps
    steps.append(
        "continuity: constants chosen so Psi is continuous at every breakpoint; Psi(0) = 0"
    )
    branches = [
        (p, x <= iv.sup if iv.right_open is False else x < iv.sup)
        for p, (iv, _) in zip(psi[:-1], pieces[:-1], strict=True)
    ]
    return sp.Piecewise(*branches, (psi[-1], True)), steps
