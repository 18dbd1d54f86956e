"""Every special function a rule can produce has a float64 evaluator (issue 24, item 1).

The test walks the rule chain: each rule of ``rules.RULES`` is applied directly to integrands
it fires on (the corpus must cover every rule, so a new rule without examples fails here), the
normalised Psi of each integrand is built as ``derive`` builds it (Psi(0) = 0 brings constants
such as eta(3) = -Li_3(-1)), and every function application in the results is evaluated by
:func:`optnet_theory.numerics.float_function` and compared with SymPy's own 30-digit value.
Negative controls: a function nothing can evaluate is named by ``missing_evaluators`` and sends
derive to the numeric fallback instead of a NameError; a perturbed evaluator is caught by the
same comparison.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from optnet_theory import derive_energy
from optnet_theory.antiderivative import rules
from optnet_theory.antiderivative.piecewise import antiderivative_on_reals
from optnet_theory.energy.activations import X
from optnet_theory.energy.formula import parse_formula
from optnet_theory.energy.special import inversion_polynomial, li_negexp
from optnet_theory.numerics import float_function, missing_evaluators

#: rule name -> integrands (formula strings) on which that rule fires when called directly.
CORPUS: dict[str, tuple[str, ...]] = {
    "constant": ("3", "pi"),
    "linearity": ("x + exp(x)", "2*sigmoid(x) + x**2"),
    "log-exp": ("log(1 + exp(x))", "log(2 + 3*exp(-2*x))"),
    "log-expand": ("log(cosh(x))", "log(tanh(x) + 1)"),
    "polylog-exp": ("x",),  # filled from SymPy below: Li_s(-B e^(c x)) is no formula function
    "polynomial": ("x**3 - 2*x",),
    "sympy": ("erf(x)", "exp(-x**2)", "sin(x**2)", "exp(x**2)", "atan(x)", "asinh(x)",
              "erfc(x)*x", "sqrt(x**2 + 1)", "x*exp(x)", "sinh(x)/x", "cosh(x)/x", "exp(x)/x",
              "sin(x)/x", "cos(x)/x", "1/log(x)", "exp(-x)/x**2", "x**(1/3)*exp(-x)"),
    "by-parts": ("x*sigmoid(x)", "x*softplus(x)", "x**2*sigmoid(x)", "x**2*tanh(x)",
                 "x**2/(1 + exp(x))", "x**3*sigmoid(2*x)", "x*log(1 + exp(x))"),
    "rewrite-exp": ("x*tanh(x)**2", "cosh(x)*x"),
}
_POLYLOG_INTEGRANDS = (sp.polylog(2, -sp.exp(X)), sp.polylog(3, -2 * sp.exp(-X / 2)))
POINTS = (-7.3, -1.1, 0.0, 0.37, 2.9, 11.5)


def _integrands(name: str) -> list[sp.Expr]:
    if name == "polylog-exp":
        return list(_POLYLOG_INTEGRANDS)
    return [sp.expand(parse_formula(f, {})) if name == "linearity" else parse_formula(f, {})
            for f in CORPUS[name]]


def _applications(expr: sp.Expr) -> set[sp.Expr]:
    return {f for f in expr.atoms(sp.Function)}


def _walk() -> dict[str, set[sp.Expr]]:
    """rule name -> the function applications in what it and the normalised Psi produce."""
    found: dict[str, set[sp.Expr]] = {}
    table = dict(rules.RULES)
    for name in table:
        apps: set[sp.Expr] = set()
        for integrand in _integrands(name):
            outcome = table[name](integrand, X, 0)
            assert outcome is not None, (name, integrand)  # the corpus exercises the rule
            apps |= _applications(outcome[0])
            psi, _ = antiderivative_on_reals(integrand, X)
            if psi is not None:
                apps |= _applications(psi)
        found[name] = apps
    return found


def _worst_float_error(expr: sp.Expr, fn=None) -> float:
    """Largest |float - exact| / max(1, |exact|) over POINTS where expr is real and finite."""
    fn = fn or float_function(expr, X)
    worst = 0.0
    for t in POINTS:
        exact = complex(sp.N(expr.subs(X, sp.Float(t, 40)), 30))
        if abs(exact.imag) > 1e-20 or not np.isfinite(exact.real):
            continue
        got = float(fn(np.array([t]))[0])
        worst = max(worst, abs(got - exact.real) / max(1.0, abs(exact.real)))
    return worst


@pytest.fixture(scope="module")
def walked() -> dict[str, set[sp.Expr]]:
    with pytest.MonkeyPatch.context() as patch:  # SymPy's own time, not this machine's load,
        patch.setattr(rules, "SYMPY_SECONDS", 10.0)
        patch.setattr(rules, "_SYMPY_CACHE", {})  # nor failures remembered at shorter budgets
        return _walk()


def test_the_corpus_covers_every_rule() -> None:
    assert set(CORPUS) == {name for name, _ in rules.RULES}


def test_every_function_a_rule_produces_has_a_float_evaluator(walked) -> None:
    kinds = set()
    for name, apps in walked.items():
        for app in apps:
            kinds.add(app.func)
            assert missing_evaluators(app, X) == [], (name, app)
            assert _worst_float_error(app) < 1e-12, (name, app)
    # the walk reached the families of issue 24, not only elementary functions
    assert {sp.polylog, sp.dirichlet_eta, sp.erf, sp.Shi, sp.Ei, sp.li}.issubset(kinds), kinds


def test_a_perturbed_evaluator_is_caught() -> None:
    """Negative control of the comparison: Li_3 evaluated 1e-9 off is flagged."""
    app = sp.polylog(3, -sp.exp(X))
    good = float_function(app, X)
    assert _worst_float_error(app, good) < 1e-14
    assert _worst_float_error(app, lambda t: good(t) * (1 + 1e-9)) > 1e-12


def test_a_function_nothing_evaluates_falls_back_to_numeric(monkeypatch) -> None:
    """Negative control: a closed form with an unknown function is named and not used."""
    mystery = sp.Function("mystery")
    assert missing_evaluators(X + mystery(X), X) == ["mystery"]
    assert missing_evaluators(sp.polylog(3, -sp.exp(X)) + sp.dirichlet_eta(3), X) == []
    from optnet_theory.energy import derive as energy

    monkeypatch.setattr(energy, "antiderivative_on_reals", lambda phi, x: (mystery(x), []))
    result = derive_energy("tanh(x)*x + 0.25")
    assert result.method == "numeric" and result.verified
    assert any("mystery" in step and "numeric" in step for step in result.steps)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 7])
def test_li_negexp_is_accurate_to_rounding(order: int) -> None:
    u = np.concatenate([np.linspace(-60, 60, 601), [-1.0, 1e-12, -1e-12, 0.0, 500.0, -700.0]])
    got = li_negexp(order, u)
    with mpmath.workdps(40):
        ref = [mpmath.polylog(order, -mpmath.exp(mpmath.mpf(float(v)))) for v in u]
    rel = [abs(g - r) / abs(r) for g, r in zip(got, ref, strict=True) if r != 0]
    assert max(rel) < 4e-15
    assert max(abs(g * (1 + 1e-12) - r) / abs(r)  # negative control: 1e-12 off is seen
               for g, r in zip(got, ref, strict=True) if r != 0) > 4e-15


def test_inversion_polynomial_is_dlmf_25_12_13() -> None:
    w = sp.Symbol("w")
    assert inversion_polynomial(2, w) == -(w**2) / 2 - sp.pi**2 / 6
    with mpmath.workdps(30):
        for s in (1, 3, 6):
            for v in (sp.Rational(2, 5), sp.Integer(7)):
                u = mpmath.mpf(v.p) / v.q
                lhs = mpmath.polylog(s, -mpmath.exp(u)) + (-1) ** s * mpmath.polylog(
                    s, -mpmath.exp(-u))
                assert abs(lhs - sp.N(inversion_polynomial(s, w).subs(w, v), 30)) < 1e-25
