"""The energy of an activation: Psi with Psi' = Phi and the objective (8) of Lemma 1.

``derive_energy(spec, **params)`` takes a registry name, a formula string in ``x`` (parsed by
:mod:`optnet_theory.energy.formula`, never evaluated) or a SymPy expression in ``Symbol('x')``,
binds
the parameters, derives Psi by the strategy chain of :mod:`optnet_theory.antiderivative`
(numeric fallback when no closed form is found), checks it, and returns an :class:`Energy`
with f(z) = ||z||^2/2 - sum_i Psi(U_i^T z) (eq. (8)) and its gradient z - U Phi(U^T z)
(eq. (9)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Literal

import mpmath
import numpy as np
import sympy as sp

from optnet_theory.antiderivative.check import CHECK_DPS, check_antiderivative, check_points
from optnet_theory.antiderivative.numeric import DEGREE, ChebyshevAntiderivative, establish
from optnet_theory.antiderivative.piecewise import (
    antiderivative_on_reals,
    as_piecewise,
    float_breakpoints,
)
from optnet_theory.antiderivative.reference import REF_DPS, psi_by_quadrature
from optnet_theory.antiderivative.timelimit import map_with_limit, start_with_limit
from optnet_theory.energy.activations import X, get_activation, is_registry_name, parameter
from optnet_theory.energy.formula import parse_formula
from optnet_theory.errors import OptnetError
from optnet_theory.numerics import (
    FloatFn,
    MpFn,
    float_function,
    missing_evaluators,
    mp_function,
)

__all__ = [
    "FLOAT_AUDIT_POINTS",
    "FLOAT_AUDIT_SECONDS",
    "PHI_MAGNITUDE_LIMIT",
    "Energy",
    "activation_phi",
    "derive_energy",
]

FLOAT_AUDIT_POINTS = np.concatenate(
    [-np.geomspace(1e3, 1e-3, 25), [0.0], np.geomspace(1e-3, 1e3, 25)]
)
#: CPU seconds for the float audit of a closed form (about 0.1 s; inf is reported past it).
FLOAT_AUDIT_SECONDS = 30.0


@dataclass(frozen=True, eq=False, kw_only=True)
class Energy:
    """Phi, its derived energy Psi (Psi' = Phi), and the objective (8) with gradient (9)."""

    spec: str
    phi: sp.Expr
    psi: sp.Expr | None
    method: Literal["closed-form", "numeric"]
    params: dict[str, float]
    verified: bool
    max_check_error: float
    accuracy: float | None
    steps: tuple[str, ...]
    float_check_error: float
    _phi_fn: FloatFn = field(repr=False)
    _psi_fn: FloatFn = field(repr=False)
    _dphi_fn: FloatFn = field(repr=False)
    _phi_mp: MpFn = field(repr=False)
    _psi_mp: MpFn = field(repr=False)
    domain: tuple[float, float] = (-math.inf, math.inf)

    def phi_fn(self, x: np.ndarray) -> np.ndarray:
        """Phi elementwise in float64 on all of R."""
        return self._phi_fn(x)

    def psi_fn(self, x: np.ndarray) -> np.ndarray:
        """Psi elementwise in float64 (Psi(0) = 0); nan outside ``domain`` (numeric Psi only)."""
        return self._psi_fn(x)

    def dphi_fn(self, x: np.ndarray) -> np.ndarray:
        """Phi' elementwise (almost everywhere), for the Hessian of (8)."""
        return self._dphi_fn(x)

    def phi_mp(self, x: mpmath.mpf) -> mpmath.mpf:
        """Phi at the current mpmath precision."""
        return self._phi_mp(x)

    def psi_mp(self, x: mpmath.mpf) -> mpmath.mpf:
        """Psi at the current mpmath precision (closed form, or quadrature if numeric)."""
        return self._psi_mp(x)

    def objective_fn(self, U: np.ndarray) -> Callable[[np.ndarray], Any]:
        """f(z) = ||z||^2/2 - sum_i Psi(U_i^T z), eq. (8); U_i is the i-th column of U.

        z has shape (n,) (returns a float) or (n, batch) (returns shape (batch,)).
        """
        u = _matrix(U)

        def f(z: np.ndarray) -> Any:
            z = np.asarray(z, dtype=float)
            return 0.5 * np.sum(z * z, axis=0) - np.sum(self.psi_fn(u.T @ z), axis=0)

        return f

    def gradient_fn(self, U: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """grad f(z) = z - U Phi(U^T z), eq. (9); z of shape (n,) or (n, batch)."""
        u = _matrix(U)

        def grad(z: np.ndarray) -> np.ndarray:
            z = np.asarray(z, dtype=float)
            return z - u @ self.phi_fn(u.T @ z)

        return grad

    def objective_mp(self, U: Sequence[Sequence[Any]]) -> Callable[[Sequence[Any]], mpmath.mpf]:
        """Eq. (8) in mpmath at the current precision; U and z as nested sequences."""
        u = mpmath.matrix(U)

        def f(z: Sequence[Any]) -> mpmath.mpf:
            zv = mpmath.matrix(list(z))
            s = u.T * zv
            return mpmath.fsum(c**2 for c in zv) / 2 - mpmath.fsum(self.psi_mp(c) for c in s)

        return f

    def gradient_mp(
        self, U: Sequence[Sequence[Any]]
    ) -> Callable[[Sequence[Any]], list[mpmath.mpf]]:
        """Eq. (9) in mpmath at the current precision: z - U Phi(U^T z), as a list."""
        u = mpmath.matrix(U)

        def grad(z: Sequence[Any]) -> list[mpmath.mpf]:
            zv = mpmath.matrix(list(z))
            s = u.T * zv
            g = zv - u * mpmath.matrix([self.phi_mp(c) for c in s])
            return [g[i] for i in range(g.rows)]

        return grad

    def to_json(self) -> dict[str, Any]:
        """The record printed by ``optnet derive --json``."""
        return {
            "spec": self.spec,
            "phi": str(self.phi),
            "phi_latex": sp.latex(self.phi),
            "psi": None if self.psi is None else str(self.psi),
            "psi_latex": None if self.psi is None else sp.latex(self.psi),
            "method": self.method,
            "params": self.params,
            "verified": self.verified,
            "max_check_error": self.max_check_error,
            "accuracy": self.accuracy,
            "domain": None  # all of R; else [lo, hi] with null for an unbounded side
            if self.domain == (-math.inf, math.inf)
            else [v if math.isfinite(v) else None for v in self.domain],
            "float_check_error": self.float_check_error,
            "steps": list(self.steps),
        }


def _matrix(U: np.ndarray) -> np.ndarray:
    u = np.asarray(U, dtype=float)
    if u.ndim != 2 or not np.all(np.isfinite(u)):
        raise OptnetError(f"U must be a finite 2-D matrix, got shape {u.shape}")
    return u


def _rational(name: str, value: object) -> sp.Rational:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptnetError(f"parameter {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise OptnetError(f"parameter {name} must be finite, got {value!r}")
    return sp.Rational(repr(number))


def _resolve(
    spec: str | sp.Expr, params: dict[str, float]
) -> tuple[str, sp.Expr, dict[str, float]]:
    """(label, Phi with parameters bound, bound parameter values)."""
    if isinstance(spec, str) and is_registry_name(spec):
        act = get_activation(spec)
        unknown = sorted(set(params) - set(act.defaults))
        if unknown:
            accepted = ", ".join(act.defaults) or "none"
            raise OptnetError(f"{act.name} has no parameter {unknown[0]!r}; accepted: {accepted}")
        values = {k: float(v) for k, v in act.defaults.items()}
        values.update({k: float(_rational(k, v)) for k, v in params.items()})
        phi = act.phi()
        label = act.name
    elif isinstance(spec, str):
        phi = parse_formula(spec, params)
        values = {k: float(_rational(k, v)) for k, v in params.items()}
        label = spec.strip()
    elif isinstance(spec, sp.Expr):
        phi = spec.subs({s: X for s in spec.free_symbols if getattr(s, "name", None) == "x"})
        phi = phi.subs({s: parameter(s.name) for s in phi.free_symbols if s != X})
        values = {k: float(_rational(k, v)) for k, v in params.items()}
        label = str(phi)
    else:
        raise OptnetError(
            f"spec must be a registry name, a formula in x or a SymPy expression, "
            f"got {type(spec).__name__}"
        )
    phi = phi.subs({parameter(k): _rational(k, v) for k, v in values.items()})
    unbound = sorted(s.name for s in phi.free_symbols if s != X)
    if unbound:
        raise OptnetError(
            f"parameter(s) {', '.join(unbound)} have no value; pass e.g. "
            f"{unbound[0]}=0.1 (--param {unbound[0]}=0.1)"
        )
    return label, phi, values


PHI_MAGNITUDE_LIMIT = 1e300


def _check_phi(phi: sp.Expr) -> MpFn:
    """Phi must be real and finite on R (sampled), and stay below 1e300 on [-60, 60].

    Points are visited from 0 outwards, each evaluation under a CPU limit of 1 s (in a child
    process, see :mod:`~optnet_theory.antiderivative.timelimit`), so that e.g. sin(exp(x)) is
    refused at the first point it cannot evaluate instead of running for hours.
    """
    phi_mp = mp_function(phi, X)
    points = [*check_points([]), mpmath.mpf(0), *(mpmath.mpf(v) for v in (-60, 60))]
    points.sort(key=abs)
    points += [mpmath.mpf(-1e3), mpmath.mpf(1e3)]

    def value(t: mpmath.mpf) -> mpmath.mpf:
        with mpmath.workdps(20):
            return phi_mp(t)

    for t, (status, out) in zip(points, map_with_limit(1.0, value, points), strict=True):
        v: Any = out
        where = f"x={float(t):.4g}"
        if status == "timeout":
            raise OptnetError(f"Phi = {phi} cannot be evaluated at {where} in 1 s")
        if status == "error":
            if isinstance(v, (ZeroDivisionError, ValueError, TypeError, OverflowError)):
                raise OptnetError(
                    f"Phi = {phi} is undefined at {where}; an activation must be finite on all of R"
                )
            raise v
        if isinstance(v, mpmath.mpc) and abs(v.imag) > 1e-15:
            raise OptnetError(
                f"Phi = {phi} is not real at {where} (e.g. log or sqrt of a negative "
                "number); an activation must be real on R"
            )
        if not mpmath.isfinite(v):
            raise OptnetError(f"Phi = {phi} is not finite at {where}")
        if abs(t) <= 60 and abs(v) > PHI_MAGNITUDE_LIMIT:
            raise OptnetError(
                f"Phi = {phi} exceeds 1e300 at {where}; its energy cannot be used in float64"
            )
    return phi_mp


def _float_audit(psi_fn: FloatFn, psi_mp: MpFn) -> float:
    """Largest |psi_fn - Psi| / max(1, |Psi|) over +-[1e-3, 1e3] against 30-digit mpmath."""
    got = psi_fn(FLOAT_AUDIT_POINTS)
    worst = 0.0
    with mpmath.workdps(CHECK_DPS):
        for t, g in zip(FLOAT_AUDIT_POINTS, got, strict=True):
            ref = psi_mp(mpmath.mpf(t))
            if abs(ref) > PHI_MAGNITUDE_LIMIT:
                continue  # Psi itself is beyond float64 here; inf is the right float answer
            worst = max(worst, float(abs(g - ref) / max(1, abs(ref))))
    return worst


def derive_energy(spec: str | sp.Expr, **params: float) -> Energy:
    """Derive Psi (Psi' = Phi, Psi(0) = 0, real and continuous on R) and the energy (8).

    ``spec``: registry name, formula string in x, or SymPy expression in Symbol('x');
    ``params`` bind activation parameters (registry ones have defaults). Raises
    :class:`OptnetError` (or :class:`~optnet_theory.energy.formula.FormulaError`) on bad input.
    """
    if not isinstance(spec, (str, sp.Expr)):
        raise OptnetError(
            "spec must be a registry name, a formula in x or a SymPy expression, "
            f"got {type(spec).__name__}"
        )
    return _derive(spec, _items(params))


def _items(params: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((name, float(_rational(name, v))) for name, v in params.items()))


def activation_phi(spec: str | sp.Expr, **params: float) -> sp.Expr:
    """Phi of ``spec`` with ``params`` bound, exactly as :func:`derive_energy` reads it."""
    return _resolve(spec, dict(_items(params)))[1]


@lru_cache(maxsize=128)
def _derive(spec: str | sp.Expr, items: tuple[tuple[str, float], ...]) -> Energy:
    """derive_energy with validated, hashable arguments (cached: Energy is immutable)."""
    label, phi, values = _resolve(spec, dict(items))
    missing = missing_evaluators(phi, X)
    if missing:
        raise OptnetError(
            f"Phi = {phi} uses {', '.join(missing)}, which neither NumPy, SciPy nor mpmath "
            "evaluates; write Phi with the functions of a formula (optnet derive --help)"
        )
    phi_mp = _check_phi(phi)
    phi_fn = float_function(phi, X, phi_mp)
    dphi = sp.diff(as_piecewise(phi), X)
    dphi_fn = float_function(dphi, X)
    energy = partial(Energy, spec=label, phi=phi, params=values, verified=True, _phi_fn=phi_fn,
                     _dphi_fn=dphi_fn, _phi_mp=phi_mp)  # what both outcomes below share
    psi, steps = antiderivative_on_reals(phi, X)
    missing = [] if psi is None else missing_evaluators(psi, X)
    if missing:
        steps.append(f"closed form {psi} uses {', '.join(missing)}, which nothing here "
                     "evaluates; falling back to numeric")
        psi = None
    if psi is not None:
        psi_mp = mp_function(psi, X)
        psi_fn = float_function(psi, X, psi_mp)
        auditing = start_with_limit(FLOAT_AUDIT_SECONDS, lambda: _float_audit(psi_fn, psi_mp))
        result = check_antiderivative(phi, psi, X)  # while the audit runs on the second core
        steps += list(result.steps)
        if result.verified:
            audit = auditing.result()
            return energy(
                psi=psi,
                method="closed-form",
                max_check_error=result.max_error,
                accuracy=None,
                steps=tuple(steps),
                float_check_error=math.inf if audit is None else audit,
                _psi_fn=psi_fn,
                _psi_mp=psi_mp,
            )
        auditing.cancel()
        steps.append("closed form rejected by the check; falling back to numeric")
    cuts = float_breakpoints(phi)
    approx = ChebyshevAntiderivative(phi_fn, phi_mp, cuts)
    found = establish(approx, phi_mp, cuts)
    lo, hi = approx.domain
    where = "all of R" if (lo, hi) == (-math.inf, math.inf) else f"[{lo:g}, {hi:g}] only"
    steps.append(
        f"numeric: Chebyshev panels (degree {DEGREE}) on [{approx.ends[0]:g}, "
        f"{approx.ends[1]:g}]"
        + ("" if approx.tail_bound == 0 and lo > -math.inf and hi < math.inf
           else f", asymptotic lines beyond (tail bound {approx.tail_bound:.1e})")
        + f"; max deviation from {REF_DPS}-digit adaptive quadrature {found.worst:.1e} at "
        f"{found.points} points up to |x| = {max(-found.reach[0], found.reach[1]):g}; "
        f"stated accuracy {found.accuracy:.1e} (relative to max(1, |Psi|)) on {where}"
    )
    return energy(
        psi=None,
        method="numeric",
        max_check_error=found.worst,
        accuracy=found.accuracy,
        steps=tuple(steps),
        float_check_error=found.worst,
        _psi_fn=approx,
        _psi_mp=psi_by_quadrature(phi_mp, cuts, lo, hi),
        domain=(lo, hi),
    )
