"""Audit of the paper's Table 1: each printed Psi against Psi' = Phi, realness, continuity.

For every row of the transcription (:func:`optnet_theory.paper_values.table1_transcription`)
the verdict is computed, never typed: "correct" only if the printed Psi is real-valued and
continuous on all of R and Psi' = Phi (the printed Phi) wherever Psi is differentiable;
otherwise "erratum", with a one-line reason and the derived replacement (from the registry's
Phi by :mod:`optnet_theory.antiderivative`, verified before it is shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from optnet_theory.antiderivative.check import check_antiderivative
from optnet_theory.antiderivative.piecewise import (
    antiderivative_on_reals,
    as_piecewise,
    intervals,
    junctions,
)
from optnet_theory.antiderivative.realness import interior_point
from optnet_theory.antiderivative.timelimit import call_with_limit
from optnet_theory.energy.activations import X, get_activation, parameter
from optnet_theory.numerics import mp_function
from optnet_theory.paper_values import table1_transcription

#: Table 1 row label -> registry name of the same activation.
ROW_ACTIVATION = {
    "Sigmoid": "sigmoid",
    "tanh": "tanh",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "ReLU": "relu",
    "Leaky ReLU": "leaky_relu",
    "ELU": "elu",
    "Swish": "swish",
}
CONSTANT = sp.Symbol("C", real=True)
SAMPLES_PER_PIECE = 12
TOLERANCE = 1e-20


@dataclass(frozen=True)
class Table1Row:
    """One audited row: JSON keys activation, printed, derived, verdict, detail."""

    activation: str
    printed: sp.Expr
    derived: sp.Expr
    verdict: str
    detail: str

    def to_json(self) -> dict[str, str]:
        """The row as printed by ``optnet table1 --json``."""
        return {
            "activation": self.activation,
            "printed": str(self.printed),
            "derived": str(self.derived),
            "verdict": self.verdict,
            "detail": self.detail,
        }


def _simplified(expr: sp.Expr) -> sp.Expr:
    out = call_with_limit(2.0, lambda: sp.simplify(sp.expand_func(expr)))
    return expr if out is None else out


def _samples(interval: sp.Interval) -> list[mpmath.mpf]:
    lo, hi = interval.inf, interval.sup
    lo_f = float(lo) if lo.is_finite else float(hi) - 20
    hi_f = float(hi) if hi.is_finite else float(lo) + 20
    if not lo.is_finite and not hi.is_finite:
        lo_f, hi_f = -20.0, 20.0
    n = SAMPLES_PER_PIECE
    return [mpmath.mpf(lo_f) + (hi_f - lo_f) * (k + mpmath.mpf(1) / 3) / n for k in range(n)]


def _condition(interval: sp.Interval) -> str:
    return str(interval.as_relational(X))


def _realness(pieces: list[tuple[sp.Interval, sp.Expr]]) -> str | None:
    for interval, expr in pieces:
        fn = mp_function(expr, X)
        for t in _samples(interval):
            value = fn(t)
            if isinstance(value, mpmath.mpc) and abs(value.imag) > TOLERANCE:
                for term in expr.atoms(sp.log):
                    arg = mp_function(term.args[0], X)(t)
                    if not isinstance(arg, mpmath.mpc) and arg < 0:
                        where = _condition(interval)
                        return f"{term} takes the log of a negative number for {where}"
                return f"Psi is not real for {_condition(interval)} (at x = {float(t):.3g})"
    return None


def _continuity(pieces: list[tuple[sp.Interval, sp.Expr]]) -> str | None:
    for b, left, right in junctions(pieces):
        lo = sp.simplify(left.subs(X, b))
        hi = sp.simplify(right.subs(X, b))
        jump = sp.simplify(lo - hi)
        if jump.is_real is False or lo.has(sp.I) or hi.has(sp.I):
            continue  # complex branch values: reported by the realness check
        if jump != 0:
            return f"jump of {jump} at x = {b} (Psi({b}-) = {lo}, Psi({b}+) = {hi})"
    return None


def _derivative(
    printed_phi: sp.Expr, pieces: list[tuple[sp.Interval, sp.Expr]], bind: dict[sp.Symbol, sp.Expr]
) -> str | None:
    phi_pieces = intervals(as_piecewise(printed_phi))
    for interval, expr in pieces:
        slope = sp.diff(expr, X)
        inner = interior_point(interval)
        phi_here = next(e for iv, e in phi_pieces if iv.contains(inner))
        d_fn = mp_function(slope.subs(bind), X)
        p_fn = mp_function(phi_here.subs(bind), X)
        with mpmath.workdps(40):
            if all(abs(d_fn(t) - p_fn(t)) < TOLERANCE for t in _samples(interval)):
                continue
            hint = _relation(d_fn, phi_here.subs(bind), interval)
        where = "" if len(pieces) == 1 else f" for {_condition(interval)}"
        shown = _simplified(slope)
        if sp.count_ops(shown) > 12:
            t = interior_point(interval)
            with mpmath.workdps(15):
                at = f"Psi'({t}) = {mpmath.nstr(d_fn(t), 6)}, Phi({t}) = {mpmath.nstr(p_fn(t), 6)}"
            return f"derivative{where} is not Phi = {phi_here}{hint} ({at})"
        return f"derivative{where} is {shown}{hint}, not Phi = {phi_here}"
    return None


def _relation(d_fn: object, phi: sp.Expr, interval: sp.Interval) -> str:
    candidates = {
        "-Phi(x)": -phi,
        "Phi(-x)": phi.subs(X, -X),
        "1 - Phi(x)": 1 - phi,
        "-Phi(-x)": -phi.subs(X, -X),
    }
    for label, expr in candidates.items():
        fn = mp_function(expr, X)
        if all(abs(d_fn(t) - fn(t)) < TOLERANCE for t in _samples(interval)):  # type: ignore[operator]
            return f" = {label}"
    return ""


def _derived(name: str, printed_params: set[sp.Symbol]) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]:
    """Psi derived from the registry's Phi, parameters in the printed row kept symbolic."""
    act = get_activation(name)
    bind = {parameter(k): v for k, v in act.defaults.items()}
    keep = {s for s in bind if s in printed_params}
    phi = act.phi().subs({s: v for s, v in bind.items() if s not in keep})
    psi, _ = antiderivative_on_reals(phi, X)
    if psi is None:
        raise RuntimeError(f"no antiderivative derived for {name}")
    result = check_antiderivative(phi.subs(bind), psi.subs(bind), X)
    if not result.verified:
        raise RuntimeError(f"derived Psi for {name} failed its check: {result.problems}")
    return psi, bind


def _same_function(a: sp.Expr, b: sp.Expr) -> bool:
    """a = b at 30 digits on sample points over [-20, 20] (both real functions of x)."""
    fa, fb = mp_function(a, X), mp_function(b, X)
    with mpmath.workdps(30):
        return all(abs(fa(t) - fb(t)) < TOLERANCE for t in _samples(sp.Interval(-sp.oo, sp.oo)))


def audit_row(label: str, printed_phi: sp.Expr, printed_psi: sp.Expr) -> Table1Row:
    """Verdict for one row of Table 1 (see module docstring)."""
    name = ROW_ACTIVATION[label]
    params = printed_psi.free_symbols | printed_phi.free_symbols
    derived, bind = _derived(name, params)
    bind = {**bind, CONSTANT: sp.Integer(0)}
    problems = []
    registry_phi = (
        get_activation(name).phi().subs({s: v for s, v in bind.items() if s not in params})
    )
    if not _same_function(printed_phi.subs(bind), registry_phi.subs(bind)):
        problems.append(f"printed Phi {printed_phi} differs from {registry_phi}")
    pieces = intervals(as_piecewise(printed_psi))
    bound_pieces = [(iv, e.subs(bind)) for iv, e in pieces]
    for problem in (
        _realness(bound_pieces),
        _continuity(pieces),
        _derivative(printed_phi, pieces, bind),
    ):
        if problem is not None:
            problems.append(problem)
    if problems:
        return Table1Row(label, printed_psi, derived, "erratum", "; ".join(problems))
    note = " (up to the arbitrary constant C)" if CONSTANT in printed_psi.free_symbols else ""
    detail = f"real and continuous on R, Psi' = Phi on every branch{note}"
    return Table1Row(label, printed_psi, derived, "correct", detail)


@lru_cache(maxsize=1)
def audit_table1() -> tuple[Table1Row, ...]:
    """Every row of Table 1, audited (computed once per process)."""
    rows = table1_transcription().items()
    return tuple(audit_row(label, phi, psi) for label, (phi, psi) in rows)
