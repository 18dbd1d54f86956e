"""Float64 and mpmath evaluation of SymPy expressions in x, stable on all of R.

:func:`float_function` lambdifies after rewriting the patterns that overflow in float64 into
stable primitives: log of a positive sum of exponentials becomes a log-sum-exp,
1/(A + B e^u) becomes a logistic ``expit``, and Li2(-c e^u) an inversion-formula evaluation
of the dilogarithm (any other polylogarithm, e.g. the Li3 of x^2/(e^x + 3), is evaluated by
mpmath point by point). Entries that still come out non-finite are recomputed with mpmath (for
|x| <= 1e4, under a CPU limit), so the callables return finite float64 values (or +-inf when
the value itself exceeds float64).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from optnet_theory.antiderivative.timelimit import map_with_limit

FloatFn = Callable[[np.ndarray], np.ndarray]
MpFn = Callable[[mpmath.mpf], mpmath.mpf]

_LSE = sp.Function("optnet_logsumexp")
_EXPIT = sp.Function("optnet_expit")
_LI2NEGEXP = sp.Function("optnet_li2negexp")


def _logsumexp(*args: np.ndarray) -> np.ndarray:
    return reduce(np.logaddexp, args)


def _expit(u: np.ndarray) -> np.ndarray:
    """The logistic function 1/(1 + e^-u), without overflow and with full relative accuracy."""
    u = np.asarray(u, dtype=float)
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _li2negexp(u: np.ndarray) -> np.ndarray:
    """Li2(-e^u) for real u: spence(1 + e^u) for u <= 0, inversion formula for u > 0."""
    from scipy import special  # imported only when a dilogarithm is evaluated

    u = np.asarray(u, dtype=float)
    small = special.spence(1.0 + np.exp(np.minimum(u, 0.0)))
    big = -(np.pi**2) / 6 - u**2 / 2 - special.spence(1.0 + np.exp(-np.abs(u)))
    return np.where(u <= 0, small, big)


def _polylog(order: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Li_s(z) elementwise by mpmath at 20 digits, real part (Li3 and higher, or Li2 at an
    argument other than -c e^u: rare in closed forms, so exact rather than fast)."""

    def one(s: float, v: float) -> float:
        with mpmath.workdps(20):
            return float(mpmath.re(mpmath.polylog(int(s), v)))

    out = np.frompyfunc(one, 2, 1)(np.asarray(order, dtype=float), np.asarray(z, dtype=float))
    return np.asarray(out, dtype=float)


def _mp_logsumexp(*args: mpmath.mpf) -> mpmath.mpf:
    top = max(args)
    if len(args) == 2:
        return top + mpmath.log1p(mpmath.exp(min(args) - top))
    return top + mpmath.log(mpmath.fsum(mpmath.exp(a - top) for a in args))


def _mp_expit(u: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-u))


def _mp_li2negexp(u: mpmath.mpf) -> mpmath.mpf:
    return mpmath.polylog(2, -mpmath.exp(u))


_MP_NAMESPACE = {
    "optnet_logsumexp": _mp_logsumexp,
    "optnet_expit": _mp_expit,
    "optnet_li2negexp": _mp_li2negexp,
}

_NUMPY_NAMESPACE = {
    "optnet_logsumexp": _logsumexp,
    "optnet_expit": _expit,
    "optnet_li2negexp": _li2negexp,
    "polylog": _polylog,
}


_NUMPY_FUNCTIONS = (
    sp.exp,
    sp.log,
    sp.sin,
    sp.cos,
    sp.tan,
    sp.tanh,
    sp.sinh,
    sp.cosh,
    sp.atan,
    sp.asinh,
    sp.Abs,
    sp.sign,
    sp.Max,
    sp.Min,
    sp.Piecewise,
    _LSE,
    _EXPIT,
    _LI2NEGEXP,
    sp.polylog,
)


def _exp_terms(expr: sp.Expr) -> list[sp.Expr] | None:
    """Write a positive sum as exponents [u_i] with expr = sum exp(u_i); None if not."""
    out = []
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, rest = term.as_independent(sp.exp, as_Add=False)
        if not (coeff.is_number and coeff.is_positive):
            return None
        exps = sp.Mul.make_args(rest)
        if any(not isinstance(e, sp.exp) for e in exps if e != 1):
            return None
        out.append(sp.log(coeff) + sum((e.args[0] for e in exps if e != 1), sp.Integer(0)))
    return out


def _stable_log(arg: sp.Expr) -> sp.Expr | None:
    if not arg.has(sp.exp, sp.tanh, sp.cosh, sp.sinh):
        return None
    rewritten = sp.together(arg.rewrite(sp.exp))
    num, den = sp.fraction(rewritten)
    parts = []
    for piece, sign in ((num, 1), (den, -1)):
        factors = sp.Mul.make_args(sp.factor_terms(piece))
        for f in factors:
            terms = _exp_terms(f)
            if terms is None:
                return None
            parts.append(sign * (terms[0] if len(terms) == 1 else _LSE(*terms)))
    return sp.Add(*parts)


def _stable_reciprocal(base: sp.Expr, power: sp.Expr) -> sp.Expr | None:
    """(A + B e^u)^(-k) = (expit(-(u + log(B/A))) / A)^k for A, B > 0."""
    if not (power.is_Integer and power < 0):
        return None
    terms = _exp_terms(base)
    if terms is None or len(terms) != 2:
        return None
    consts = [t for t in terms if t.is_number]
    varying = [t for t in terms if not t.is_number]
    if len(consts) != 1 or len(varying) != 1:
        return None
    a = sp.exp(consts[0])
    return (_EXPIT(-(varying[0] - consts[0])) / a) ** (-power)


def _stable_polylog(order: sp.Expr, arg: sp.Expr) -> sp.Expr | None:
    if order != 2:
        return None
    terms = _exp_terms(-arg)
    if terms is None or len(terms) != 1:
        return None
    return _LI2NEGEXP(terms[0])


def stable_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` with overflow-prone patterns replaced by stable primitives (same values)."""

    def rewrite(e: sp.Expr) -> sp.Expr:
        if isinstance(e, sp.log):
            return _stable_log(e.args[0]) or e
        if isinstance(e, sp.Pow):
            return _stable_reciprocal(e.base, e.exp) or e
        if isinstance(e, sp.polylog):
            return _stable_polylog(*e.args) or e
        return e

    return expr.replace(lambda e: isinstance(e, (sp.log, sp.Pow, sp.polylog)), rewrite)


def mp_function(expr: sp.Expr, x: sp.Symbol) -> MpFn:
    """Scalar mpmath evaluation at the current ``mpmath.mp.dps`` (real part if real).

    Evaluates the :func:`stable_form`, so that e.g. log(1 + tanh(x)) keeps its digits at
    x = -1000 instead of cancelling to log(0).
    """
    raw = sp.lambdify(x, stable_form(expr), modules=[_MP_NAMESPACE, "mpmath"])

    def evaluate(t: mpmath.mpf) -> mpmath.mpf:
        value = raw(mpmath.mpf(t))
        if isinstance(value, mpmath.mpc) and value.imag == 0:
            return value.real
        return value

    return evaluate


MP_FALLBACK_RANGE = 1e4
MP_FALLBACK_SECONDS = 1.0


def _mp_to_float(fn: MpFn, t: float) -> float:
    """fn(t) as a float, raising the working precision while it cancels to 0 or fails."""
    for dps in (20, 80, 1000):
        with mpmath.workdps(dps):
            try:
                return float(mpmath.re(fn(mpmath.mpf(t))))
            except (ZeroDivisionError, ValueError):
                continue
    return float("nan")


def _mp_to_floats(fn: MpFn, points: np.ndarray) -> list[float]:
    """:func:`_mp_to_float` at every point, each within MP_FALLBACK_SECONDS of CPU.

    Only for |t| <= MP_FALLBACK_RANGE; otherwise, or past the limit (e.g. sin(e^t) at
    t = 1e12, which needs 4e11 digits), the answer is nan.
    """
    near = [float(t) for t in points if abs(t) <= MP_FALLBACK_RANGE]
    if not near:  # NaN, +-inf or far out only: nothing to recompute, no child to start
        return [float("nan")] * len(points)
    outcomes = iter(map_with_limit(MP_FALLBACK_SECONDS, lambda t: _mp_to_float(fn, t), near))
    out = []
    for t in points:
        status, value = next(outcomes) if abs(t) <= MP_FALLBACK_RANGE else ("timeout", None)
        out.append(float(value) if status == "ok" else float("nan"))  # type: ignore[arg-type]
    return out


def float_function(expr: sp.Expr, x: sp.Symbol, fallback: MpFn | None = None) -> FloatFn:
    """A vectorised float64 callable for ``expr`` that neither overflows nor warns."""
    stable = stable_form(expr)
    # integers beyond 2^53 would reach NumPy as Python ints (object arrays); floats instead
    huge = {a: sp.Float(a, 17) for a in stable.atoms(sp.Rational) if max(abs(a.p), a.q) > 2**53}
    stable = stable.xreplace(huge)
    modules: list[Any] = [_NUMPY_NAMESPACE, "numpy"]
    if not all(isinstance(f, _NUMPY_FUNCTIONS) for f in stable.atoms(sp.Function)):
        modules.insert(1, "scipy")  # erf and friends; scipy is imported only when needed
    raw = sp.lambdify(x, stable, modules=modules)
    slow = fallback or mp_function(expr, x)

    def evaluate(t: np.ndarray) -> np.ndarray:
        arr = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):
            out = np.asarray(raw(arr), dtype=complex if stable.has(sp.I) else float)
        out = (
            np.broadcast_to(out, arr.shape).astype(float, copy=True)
            if out.shape != arr.shape
            else np.real(out).astype(float, copy=False)
        )
        bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = _mp_to_floats(slow, arr[bad])
        return out

    return evaluate
