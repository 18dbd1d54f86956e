"""Float64 and mpmath evaluation of SymPy expressions in x, stable on all of R.

:func:`float_function` lambdifies after rewriting the patterns that overflow or cancel in
float64:

* on each side of 0 (:func:`two_sided`), the logarithms of sums of exponentials and the
  polylogarithms Li_s(-B e^u) whose argument grows on that side are turned around
  (log(1 + e^u) = u + log(1 + e^-u), and the inversion formula of
  :func:`optnet_theory.energy.special.inversion_polynomial`), and the polynomial parts collected, so
  that e.g. Psi of x^2/(1 + e^x), a sum of terms of size x^3 whose total stays below 2, keeps
  its digits at x = 1000;
* log of a positive sum of exponentials becomes a log-sum-exp, 1/(A + B e^u) a logistic
  ``expit``, Li2(-c e^u) an inversion-formula evaluation of the dilogarithm and Li_s(-c e^u)
  :func:`optnet_theory.energy.special.li_negexp`;
* constants (eta(3), zeta(3), Li_3(1/2), ...) are evaluated once at 30 digits, and a function
  NumPy and SciPy do not know (Shi, expint, hyper, ...) is evaluated by mpmath point by point.

Entries that still come out non-finite are recomputed with mpmath (for |x| <= 1e4, under a
CPU limit), so the callables return finite float64 values (or +-inf when the value itself
exceeds float64). :func:`missing_evaluators` names the functions of an expression that neither
NumPy, SciPy nor mpmath can evaluate.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from optnet_theory.antiderivative.timelimit import map_with_limit
from optnet_theory.energy.special import inversion_polynomial, li_negexp, mp_li_negexp, pointwise

FloatFn = Callable[[np.ndarray], np.ndarray]
MpFn = Callable[[mpmath.mpf], mpmath.mpf]

_LSE = sp.Function("optnet_logsumexp")
_EXPIT = sp.Function("optnet_expit")
_LINEGEXP = sp.Function("optnet_li_negexp")


def _logsumexp(*args: np.ndarray) -> np.ndarray:
    return reduce(np.logaddexp, args)


def _expit(u: np.ndarray) -> np.ndarray:
    """The logistic function 1/(1 + e^-u), without overflow and with full relative accuracy."""
    u = np.asarray(u, dtype=float)
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _mp_logsumexp(*args: mpmath.mpf) -> mpmath.mpf:
    top = max(args)
    if len(args) == 2:
        return top + mpmath.log1p(mpmath.exp(min(args) - top))
    return top + mpmath.log(mpmath.fsum(mpmath.exp(a - top) for a in args))


def _mp_expit(u: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-u))


_MP_NAMESPACE = {
    "optnet_logsumexp": _mp_logsumexp,
    "optnet_expit": _mp_expit,
    "optnet_li_negexp": mp_li_negexp,
}

_NUMPY_NAMESPACE = {
    "optnet_logsumexp": _logsumexp,
    "optnet_expit": _expit,
    "optnet_li_negexp": li_negexp,
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
    _LINEGEXP,
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


def _negexp_exponent(arg: sp.Expr) -> sp.Expr | None:
    """u with arg = -e^u (arg = -B e^v, B > 0), else None."""
    terms = _exp_terms(-arg)
    return terms[0] if terms is not None and len(terms) == 1 else None


def _stable_polylog(order: sp.Expr, arg: sp.Expr) -> sp.Expr | None:
    """Li_s(-B e^v) as :func:`~optnet_theory.energy.special.li_negexp`, for an integer s >= 1."""
    if not (order.is_Integer and order >= 1):
        return None
    u = _negexp_exponent(arg)
    return None if u is None else _LINEGEXP(order, u)


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


def _slope(u: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """c for u = c x + d with c, d real numbers, else None."""
    c = sp.expand(u).coeff(x)
    rest = sp.expand(u - c * x)
    if rest.has(x) or c.has(x) or not (c.is_real and rest.is_real):
        return None
    return c


def _sided_log(arg: sp.Expr, x: sp.Symbol, side: int) -> sp.Expr | None:
    """log(arg), arg a positive sum of exponentials (tanh, cosh, sinh rewritten), as
    sum of u_k + log-sum-exp(u_i - u_k) with u_k the exponent that grows fastest on ``side``
    (-1: x < 0, 1: x > 0), so the growing part u_k is explicit and can cancel."""
    if not arg.has(sp.exp, sp.tanh, sp.cosh, sp.sinh):
        return None
    num, den = sp.fraction(sp.together(arg.rewrite(sp.exp)))
    parts = []
    for piece, sign in ((num, 1), (den, -1)):
        for factor in sp.Mul.make_args(sp.factor_terms(piece)):
            terms = _exp_terms(factor)
            found = [_slope(u, x) for u in terms or ()]
            slopes = [c for c in found if c is not None]
            if terms is None or len(slopes) != len(terms):
                return None
            lead = terms[max(range(len(terms)), key=lambda i: side * slopes[i])]
            rest = [sp.expand(u - lead) for u in terms]
            parts.append(sign * (lead if len(terms) == 1 else lead + _LSE(*rest)))
    return sp.Add(*parts)


def _sided_polylog(order: sp.Expr, arg: sp.Expr, x: sp.Symbol, side: int) -> sp.Expr | None:
    """Li_s(-e^u) for an integer s >= 1, turned around by the inversion formula when u grows
    on ``side``: P_s(u) - (-1)^s Li_s(-e^-u)."""
    u = _negexp_exponent(arg) if order.is_Integer and order >= 1 else None
    c = None if u is None else _slope(u, x)
    if u is None or c is None:
        return None
    if side * c <= 0:
        return _LINEGEXP(order, u)
    return inversion_polynomial(int(order), u) - (-1) ** int(order) * _LINEGEXP(order, -u)


def two_sided(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """``expr`` as Piecewise((form for x < 0), (form for x >= 0)): on each side, every log of
    exponentials and every Li_s(-B e^(c x)) is written with its growing part explicit and the
    polynomial parts collected (same values; see the module docstring). ``expr`` itself when
    it has no such term."""
    forms = []
    for side in (-1, 1):

        def rewrite(e: sp.Expr, side: int = side) -> sp.Expr:
            if isinstance(e, sp.log):
                return _sided_log(e.args[0], x, side) or e
            order, arg = e.args
            return _sided_polylog(order, arg, x, side) or e

        changed = expr.replace(lambda e: isinstance(e, (sp.log, sp.polylog)), rewrite)
        forms.append(sp.expand_mul(changed) if changed != expr else expr)
    if forms[0] == forms[1] == expr:
        return expr
    return sp.Piecewise((forms[0], x < 0), (forms[1], True))


def _constants(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """Function values free of x (eta(3), zeta(3), gamma(1/4), ...) as 30-digit floats."""

    def value(e: sp.Expr) -> sp.Expr:
        v = sp.N(e, 30)
        return v if isinstance(v, sp.Float) else e

    return expr.replace(lambda e: isinstance(e, sp.Function) and not e.has(x), value)


_PROBE = np.array([0.37, -1.3])


def _evaluates(fn: Callable[..., Any], *args: Any) -> bool:
    """Whether a lambdified function runs (an unknown name, a kernel of another signature or a
    missing attribute fail here, not at the first real use)."""
    try:
        with np.errstate(all="ignore"):
            fn(*args)
    except (NameError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return False
    return True


def _numpy_modules(expr: sp.Expr) -> list[Any]:
    modules: list[Any] = [_NUMPY_NAMESPACE, "numpy"]
    if not all(isinstance(f, _NUMPY_FUNCTIONS) for f in expr.atoms(sp.Function)):
        modules.insert(1, "scipy")  # erf and friends; scipy is imported only when needed
    return modules


def _pointwise_form(expr: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, dict[str, Any]]:
    """``expr`` with each function application NumPy/SciPy cannot evaluate replaced by a new
    function evaluated by mpmath point by point, and the namespace that defines them."""
    namespace: dict[str, Any] = {}
    swaps = {}
    modules = _numpy_modules(expr)
    for app in sorted(expr.atoms(sp.Function), key=sp.default_sort_key):
        if not app.has(x) or _evaluates(sp.lambdify(x, app, modules=modules), _PROBE):
            continue
        name = f"optnet_pointwise_{len(namespace)}"
        namespace[name] = pointwise(sp.lambdify(x, app, modules=[_MP_NAMESPACE, "mpmath"]))
        swaps[app] = sp.Function(name)(x)
    return expr.xreplace(swaps), namespace


def missing_evaluators(expr: sp.Expr, x: sp.Symbol) -> list[str]:
    """Names of the functions in ``expr`` that neither NumPy, SciPy nor mpmath evaluates."""
    stable = stable_form(expr)
    modules = _numpy_modules(stable)
    missing = set()
    for app in stable.atoms(sp.Function):
        if not app.has(x):
            continue
        if _evaluates(sp.lambdify(x, app, modules=modules), _PROBE):
            continue
        if not _evaluates(sp.lambdify(x, app, modules=[_MP_NAMESPACE, "mpmath"]),
                          mpmath.mpf(_PROBE[0])):
            missing.add(str(app.func))
    return sorted(missing)


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
    stable = _constants(stable_form(two_sided(expr, x)), x)
    # integers beyond 2^53 would reach NumPy as Python ints (object arrays); floats instead
    huge = {a: sp.Float(a, 17) for a in stable.atoms(sp.Rational) if max(abs(a.p), a.q) > 2**53}
    stable, namespace = _pointwise_form(stable.xreplace(huge), x)
    modules = _numpy_modules(stable)
    raw = sp.lambdify(x, stable, modules=[{**namespace, **modules[0]}, *modules[1:]])
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
