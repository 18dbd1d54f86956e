"""Strategies for a smooth (non-piecewise) integrand; each applies or declines.

The chain, tried in order by :func:`integrate_smooth`:

1. ``constant``     -- an integrand free of x.
2. ``linearity``    -- a sum term by term, a constant factor pulled out.
3. ``log-exp``      -- log(A + B e^(c x + d)) with A, B > 0 integrates to
   x log A - Li2(-(B/A) e^(c x + d)) / c, real on all of R (SymPy alone leaves it unevaluated).
   ``log-expand``   -- log of a positive sum of exponentials (cosh, tanh + 1, ...) split as
   u + log(A + B e^(c x)), which the log-exp rule then integrates.
   ``polylog-exp``  -- Li_s(-B e^(c x + d)) to Li_(s+1)(-B e^(c x + d)) / c.
4. ``polynomial``   -- a polynomial in x, term by term.
   ``sympy``        -- :func:`sympy.integrate`, under a time limit, accepted only if it leaves
   no unevaluated ``Integral``.
5. ``by-parts``     -- x^n g(x) = x^n G - n * integral(x^(n-1) G) when g has an antiderivative
   G by this chain (this is how x*sigmoid(x) reaches the dilogarithm).
6. ``rewrite-exp``  -- hyperbolic functions rewritten as exponentials, then the chain again.

Before the rules, an integrand x^n R(e^(c x)) is screened by its poles
(:func:`exp_rational_poles`): real poles skip ``sympy`` (it leaves these unevaluated), a
non-real pole (Mish) declines at once, so the numeric fallback starts without waiting out the
budget. x^n log(A + B e^(c x)) and x^n Li_s(-B e^(c x)) skip ``sympy`` too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar

import sympy as sp

from optnet_theory.antiderivative.timelimit import call_with_limit, cpu_time

SYMPY_SECONDS = 0.8
BUDGET_SECONDS = 4.0
MAX_DEPTH = 4
_DEADLINE: ContextVar[float] = ContextVar("deadline", default=float("inf"))

Outcome = tuple[sp.Expr, list[str]] | None
Rule = Callable[[sp.Expr, sp.Symbol, int], Outcome]


def _constant(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    if expr.has(x):
        return None
    return expr * x, [f"constant: integral of {expr} is {expr}*x"]


def _linearity(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    """Split sums and constant factors; the parts are smaller, so depth is not spent."""
    coeff, rest = expr.as_independent(x, as_Add=False)
    if coeff != 1 and rest != 1:
        inner, steps = integrate_smooth(rest, x, depth)
        return None if inner is None else (coeff * inner, steps)
    terms = sp.Add.make_args(sp.expand(expr, deep=False, log=False, power_exp=False))
    if len(terms) < 2:
        return None
    total = sp.Integer(0)
    steps = [f"linearity: {len(terms)} terms integrated one by one"]
    for term in terms:
        part, sub = integrate_smooth(term, x, depth)
        if part is None:
            return None
        total += part
        steps += sub
    return total, steps


def _exp_linear(term: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """term = B * exp(c x + d) with B > 0 a number: return (B e^d, c, exponent)."""
    coeff, rest = term.as_independent(x, as_Add=False)
    if not isinstance(rest, sp.exp) or not (coeff.is_number and coeff.is_positive):
        return None
    arg = sp.expand(rest.args[0])
    c = arg.coeff(x)
    d = sp.expand(arg - c * x)
    if c == 0 or c.has(x) or d.has(x) or not c.is_real:
        return None
    return coeff * sp.exp(d), c, arg


def _log_exp(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    if not isinstance(expr, sp.log):
        return None
    terms = sp.Add.make_args(sp.expand(expr.args[0]))
    consts = [t for t in terms if not t.has(x)]
    others = [t for t in terms if t.has(x)]
    if len(others) != 1:
        return None
    a = sp.Add(*consts)
    matched = _exp_linear(others[0], x)
    if matched is None or not (a.is_number and a.is_positive):
        return None
    b, c, _ = matched
    inner = sp.expand(others[0] / b)  # e^(c x)
    result = x * sp.log(a) - sp.polylog(2, -(b / a) * inner) / c
    return result, [f"log-exp: integral of {expr} is {result} (dilogarithm, real on R)"]


def _polylog_exp(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    """Li_s(-B e^(c x + d)) with B > 0 integrates to Li_(s+1)(-B e^(c x + d)) / c (real on R:
    the argument is negative). The step after log-exp: x log(1 + e^x) by parts needs it."""
    if not isinstance(expr, sp.polylog) or expr.args[0].has(x):
        return None
    matched = _exp_linear(-expr.args[1], x)
    if matched is None:
        return None
    c = matched[1]
    result = sp.polylog(expr.args[0] + 1, expr.args[1]) / c
    return result, [f"polylog-exp: integral of {expr} is {result}"]


def _exp_sum_log(arg: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """log of a positive sum of c_i e^(u_i) (u_i linear in x) as u_k + log(sum c_i e^(u_i-u_k)).

    u_k is the exponent with the smallest slope, so the remaining sum is A + B e^(c x) when it
    has two terms: the shape the log-exp rule integrates.
    """
    terms = []
    for term in sp.Add.make_args(sp.expand(arg)):
        coeff, rest = term.as_independent(x, as_Add=False)
        if rest == 1:
            u = sp.Integer(0)
        elif isinstance(rest, sp.exp) and sp.expand(rest.args[0]).is_polynomial(x):
            u = sp.expand(rest.args[0])
            if sp.degree(u, x) > 1:
                return None
        else:
            return None
        if not (coeff.is_number and coeff.is_positive):
            return None
        terms.append((coeff, u))
    if len(terms) < 2:
        return None
    lowest = min((u for _, u in terms), key=lambda u: u.coeff(x))
    rest_sum = sp.Add(*(c * sp.exp(sp.expand(u - lowest)) for c, u in terms))
    return lowest + sp.log(rest_sum)


def _log_expand(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    if not isinstance(expr, sp.log) or depth >= MAX_DEPTH:
        return None
    arg = expr.args[0]
    if not arg.has(sp.exp, sp.cosh, sp.sinh, sp.tanh):
        return None
    num, den = sp.fraction(sp.together(arg.rewrite(sp.exp)))
    parts = []
    for piece, sign in ((num, 1), (den, -1)):
        for factor in sp.Mul.make_args(sp.factor_terms(piece)):
            if not factor.has(x):
                if not (factor.is_number and factor.is_positive):
                    return None
                parts.append(sign * sp.log(factor))
            elif isinstance(factor, sp.exp):
                parts.append(sign * factor.args[0])
            else:
                expanded = _exp_sum_log(factor, x)
                if expanded is None:
                    return None
                parts.append(sign * expanded)
    rewritten = sp.Add(*parts)
    if rewritten == expr:
        return None
    result, steps = integrate_smooth(rewritten, x, depth + 1)
    if result is None:
        return None
    return result, [f"log-expand: {expr} as {rewritten}", *steps]


_SYMPY_CACHE: dict[tuple[sp.Expr, sp.Symbol], sp.Expr | None] = {}


def _polynomial(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    """A polynomial in x, term by term (SymPy's integrate takes 30 ms even for x)."""
    if not expr.is_polynomial(x):
        return None
    result = sp.Poly(expr, x).integrate().as_expr()
    return result, [f"polynomial: integral of {expr} is {result}"]


def _sympy(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    """sympy.integrate under a CPU limit; answers (and complete failures) are remembered."""
    key = (expr, x)
    if key not in _SYMPY_CACHE:
        left = _DEADLINE.get() - cpu_time()
        if left <= 0.05:
            return None
        limit = min(SYMPY_SECONDS, left)
        result = call_with_limit(limit, lambda: sp.integrate(expr, x))
        if result is None and limit < SYMPY_SECONDS:
            return None  # cut short by the budget: do not remember as a failure
        if result is not None and result.has(sp.exp_polar):  # Ei(x exp_polar(I pi)) = Ei(-x)
            result = result.replace(sp.exp_polar, sp.exp)  # the check confirms the branch
        _SYMPY_CACHE[key] = None if result is None or result.has(sp.Integral) else result
    found = _SYMPY_CACHE[key]
    if found is None:
        return None
    return found, [f"sympy: integrate({expr}) = {found}"]


def _polynomial_factor(expr: sp.Expr, x: sp.Symbol) -> tuple[int, sp.Expr] | None:
    coeff, rest = expr.as_independent(x, as_Add=False)
    power = 0
    others = []
    for f in sp.Mul.make_args(rest):
        if f == x:
            power += 1
        elif isinstance(f, sp.Pow) and f.base == x and f.exp.is_Integer and f.exp > 0:
            power += int(f.exp)
        else:
            others.append(f)
    if power == 0 or not others:
        return None
    return power, coeff * sp.Mul(*others)


def exp_rational_poles(expr: sp.Expr, x: sp.Symbol) -> str | None:
    """For expr = x^n R(e^(c x)), n >= 1 and R rational with a pole other than 0: "real" when
    every pole of R in s = e^(k x) (k the largest common step of the exponents) is real,
    "complex" when one is not; None for any other integrand.

    Partial fractions give x^n / (s - r) terms, whose antiderivatives are polylogarithms of
    s / r: real ones (Li2(-e^x) of swish) come from the by-parts and log rules, and SymPy's
    integrate only returns them unevaluated, so it is skipped; complex ones (Mish's
    e^(2x) + 2 e^x + 2 has poles -1 +- i) need dilogarithms at complex arguments, which no
    rule produces, so the chain declines at once instead of spending its budget.
    """
    split = _polynomial_factor(expr, x)
    if split is None or not split[1].has(sp.exp, sp.tanh, sp.sinh, sp.cosh):
        return None
    g = split[1].rewrite(sp.exp)
    rates = [sp.expand(e.args[0]) / x for e in g.atoms(sp.exp)]
    if not all(r.is_Rational and r != 0 for r in rates):
        return None
    q = math.lcm(*(int(sp.Rational(r).q) for r in rates))  # s = e^(x/q) makes powers whole
    t = sp.Dummy("t", positive=True)
    in_t = g.subs({e: t ** int(r * q) for e, r in zip(g.atoms(sp.exp), rates, strict=True)})
    num, den = sp.fraction(sp.cancel(sp.together(in_t)))
    if num.has(x) or den.has(x) or not (num.is_polynomial(t) and den.is_polynomial(t)):
        return None
    p_den = sp.Poly(den, t).terms_gcd()[1]  # poles at t = 0 are not poles of R(e^(c x))
    if p_den.degree() < 1:
        return None
    k = math.gcd(*(m[0] for m in (*sp.Poly(num, t).monoms(), *p_den.monoms())))
    in_s = sp.Poly(p_den.as_expr().subs(t, t ** sp.Rational(1, k)), t)
    return "real" if len(sp.real_roots(in_s)) == in_s.degree() else "complex"


def _by_parts(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    split = _polynomial_factor(expr, x)
    if split is None or depth >= MAX_DEPTH:
        return None
    n, g = split
    big_g, steps = integrate_smooth(g, x, depth + 1)
    if big_g is None:
        return None
    rest, sub = integrate_smooth(sp.expand(n * x ** (n - 1) * big_g), x, depth + 1)
    if rest is None:
        return None
    result = x**n * big_g - rest
    head = f"by-parts: x^{n} * ({g}) with G = {big_g}"
    return result, [head, *steps, *sub]


def _rewrite_exp(expr: sp.Expr, x: sp.Symbol, depth: int) -> Outcome:
    if depth >= MAX_DEPTH or not expr.has(sp.tanh, sp.sinh, sp.cosh):
        return None
    rewritten = expr.rewrite(sp.exp)
    result, steps = integrate_smooth(rewritten, x, depth + 1)
    if result is None:
        return None
    return result, [f"rewrite-exp: {expr} as {rewritten}", *steps]


RULES: tuple[tuple[str, Rule], ...] = (
    ("constant", _constant),
    ("linearity", _linearity),
    ("log-exp", _log_exp),
    ("log-expand", _log_expand),
    ("polylog-exp", _polylog_exp),
    ("polynomial", _polynomial),
    ("sympy", _sympy),
    ("by-parts", _by_parts),
    ("rewrite-exp", _rewrite_exp),
)


def integrate_smooth(
    expr: sp.Expr, x: sp.Symbol, depth: int = 0
) -> tuple[sp.Expr | None, list[str]]:
    """An antiderivative of ``expr`` in ``x`` by the first rule that applies, or None.

    Returns the antiderivative and the steps; declined rules are recorded only at the top level.
    A top-level call gets a budget of ``BUDGET_SECONDS`` of CPU time (this process and the
    child processes of the limited SymPy calls) shared by all its sub-integrals, checked
    cooperatively before each rule.
    """
    if depth == 0:
        token = _DEADLINE.set(cpu_time() + BUDGET_SECONDS)
        try:
            return _chain(expr, x, depth)
        finally:
            _DEADLINE.reset(token)
    return _chain(expr, x, depth)


def _screen(expr: sp.Expr, x: sp.Symbol) -> str | None:
    """"decline" for x^n R(e^(c x)) with a non-real pole; "by-parts" (SymPy skipped) for one
    with real poles, or x^n times a log-exp or polylog-exp integrand; else None."""
    poles = exp_rational_poles(expr, x)
    if poles is not None:
        return "decline" if poles == "complex" else "by-parts"
    split = _polynomial_factor(expr, x)
    if split is not None:
        g = split[1].as_independent(x, as_Add=False)[1]
        if _log_exp(g, x, 0) is not None or _polylog_exp(g, x, 0) is not None:
            return "by-parts"
    return None


def _chain(expr: sp.Expr, x: sp.Symbol, depth: int) -> tuple[sp.Expr | None, list[str]]:
    declined: list[str] = []
    screen = _screen(expr, x)
    if screen == "decline":
        return None, [f"exp-rational: {expr} is x^n R(e^(c x)) with non-real poles; its "
                      "antiderivative needs dilogarithms at complex arguments (no rule gives "
                      "them)"]
    for name, rule in RULES:
        if name == "sympy" and screen == "by-parts":
            continue  # SymPy leaves these unevaluated; by-parts reaches the polylogarithms
        if cpu_time() > _DEADLINE.get():
            declined.append(f"time budget of {BUDGET_SECONDS:g} s spent before rule {name}")
            break
        outcome = rule(expr, x, depth)
        if outcome is not None:
            result, steps = outcome
            return result, declined + steps
        if depth == 0:
            declined.append(f"{name}: declined for {expr}")
    return None, declined
