"""Keep Psi real: on an interval where log's argument is negative, use log(-u) instead.

log(u) and log(-u) differ by the constant i*pi where u < 0, so the swap leaves Psi' = Phi
unchanged and removes the imaginary part (SymPy returns -x - log(x - 1) for x/(1 - x)).
"""

from __future__ import annotations

import mpmath
import sympy as sp


def interior_point(interval: sp.Interval) -> sp.Expr:
    """A point strictly inside ``interval`` (which may be unbounded)."""
    lo, hi = interval.inf, interval.sup
    if lo == -sp.oo and hi == sp.oo:
        return sp.Rational(1, 3)
    if lo == -sp.oo:
        return hi - 1
    if hi == sp.oo:
        return lo + 1
    return (lo + hi) / 2


def _value(expr: sp.Expr, x: sp.Symbol, at: sp.Expr) -> complex | None:
    with mpmath.workdps(30):
        value = expr.subs(x, at).evalf(30)
    try:
        return complex(value)
    except TypeError:
        return None


def make_real(psi: sp.Expr, x: sp.Symbol, interval: sp.Interval) -> tuple[sp.Expr, list[str]]:
    """Replace log(u) by log(-u) wherever u < 0 on ``interval``; report what changed."""
    at = interior_point(interval)
    steps: list[str] = []

    def negative(arg: sp.Expr) -> bool:
        value = _value(arg, x, at)
        return value is not None and abs(value.imag) < 1e-25 and value.real < 0

    def swap(e: sp.Expr) -> sp.Expr:
        steps.append(f"real-log: log({e.args[0]}) -> log({-e.args[0]}) on {interval}")
        return sp.log(-e.args[0])

    fixed = psi.replace(lambda e: isinstance(e, sp.log) and negative(e.args[0]), swap)
    return fixed, steps
