"""Float64 evaluators for the special functions an energy Psi can contain.

The antiderivative rules (:mod:`optnet_theory.antiderivative.rules`) produce polylogarithms
Li_s(-B e^(c x)) of any order s (each by-parts step on x^n times a logistic, softplus or tanh
raises s by one), constants such as eta(3) = -Li_3(-1) from Psi(0) = 0, and whatever
:func:`sympy.integrate` returns (erf, Si, Shi, Ei, fresnels, expint, hyper, ...). NumPy and
SciPy evaluate some of these; this module supplies the rest:

* :func:`li_negexp` -- Li_s(-e^u) for real u and integer s >= 1 in float64, vectorised: the
  alternating series sum_k (-1)^k e^(k u) / k^s for u < -1, the Taylor series
  -sum_k eta(s - k) u^k / k! (radius pi) for -1 <= u <= 0, and for u > 0 the inversion formula
  Li_s(-e^u) = P_s(u) - (-1)^s Li_s(-e^(-u)) with the polynomial P_s(u) =
  -(2 pi i)^s / s! B_s(1/2 + u / (2 pi i)) (:func:`inversion_polynomial`; B_s the Bernoulli
  polynomial, DLMF 25.12.E13 with z = -e^u);
* :func:`pointwise` -- any function mpmath evaluates (SymPy's mpmath printer), point by point at
  20 digits: slow, but exact, so no closed form is ever lost for want of a NumPy kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

__all__ = ["POINTWISE_DPS", "inversion_polynomial", "li_negexp", "mp_li_negexp", "pointwise"]

#: digits of the point-by-point mpmath evaluation of functions without a NumPy evaluator.
POINTWISE_DPS = 20
#: terms of the two series of :func:`li_negexp`: e^(-40) and pi^(-36) are below 2^-53.
_ALTERNATING_TERMS = 40
_TAYLOR_TERMS = 36


def inversion_polynomial(s: int, w: sp.Expr) -> sp.Expr:
    """P_s(w) with Li_s(-e^w) + (-1)^s Li_s(-e^(-w)) = P_s(w) for real w (DLMF 25.12.E13):
    -(2 pi i)^s / s! B_s(1/2 + w / (2 pi i)), a real polynomial (P_2 = -w^2/2 - pi^2/6)."""
    two_pi_i = 2 * sp.pi * sp.I
    poly = -(two_pi_i**s) / sp.factorial(s) * sp.bernoulli(s, sp.Rational(1, 2) + w / two_pi_i)
    return sp.expand(poly)


@lru_cache(maxsize=64)
def _taylor(s: int) -> np.ndarray:
    """Coefficients -eta(s - k) / k! of Li_s(-e^u) in powers of u (k = 0 .. _TAYLOR_TERMS)."""
    with mpmath.workdps(40):
        return np.array(
            [float(-mpmath.altzeta(s - k) / mpmath.factorial(k)) for k in range(_TAYLOR_TERMS)]
        )


@lru_cache(maxsize=64)
def _inversion(s: int) -> np.ndarray:
    """Coefficients of P_s (highest power first, for numpy.polyval)."""
    w = sp.Symbol("w")
    return np.array([float(c) for c in sp.Poly(inversion_polynomial(s, w), w).all_coeffs()])


def _nonpositive(s: int, u: np.ndarray) -> np.ndarray:
    """Li_s(-e^u) for u <= 0."""
    near = u >= -1.0
    out = np.empty_like(u)
    t = u[near]
    coeffs = _taylor(s)
    acc = np.zeros_like(t)
    for c in coeffs[::-1]:  # Horner
        acc = acc * t + c
    out[near] = acc
    far = u[~near]
    k = np.arange(1, _ALTERNATING_TERMS + 1, dtype=float)
    signs = np.where(k % 2 == 1, -1.0, 1.0)
    out[~near] = (signs / k**s * np.exp(np.multiply.outer(far, k))).sum(axis=-1)
    return out


def li_negexp(order: Any, u: Any) -> np.ndarray:
    """Li_s(-e^u) in float64 for real u (array) and an integer order s >= 1 (see module)."""
    if float(order) != int(order) or int(order) < 1:
        raise ValueError(f"li_negexp needs an integer order >= 1, got {order!r}")
    s = int(order)
    u = np.asarray(u, dtype=float)
    flat = u.ravel()
    if s == 1:  # Li_1(z) = -log(1 - z)
        return np.asarray(-np.logaddexp(0.0, u))
    out = np.full(flat.shape, np.nan)
    finite = np.isfinite(flat)
    out[flat == -np.inf] = 0.0
    out[flat == np.inf] = -np.inf if s % 2 == 0 else np.inf  # -u^s/s! dominates
    low = finite & (flat <= 0)
    out[low] = _nonpositive(s, flat[low])
    high = finite & (flat > 0)
    v = flat[high]
    sign = -1.0 if s % 2 == 0 else 1.0  # -(-1)^s
    out[high] = np.polyval(_inversion(s), v) + sign * _nonpositive(s, -v)
    return out.reshape(u.shape)


def mp_li_negexp(order: Any, u: Any) -> Any:
    """Li_s(-e^u) at the current mpmath precision."""
    return mpmath.polylog(int(order), -mpmath.exp(u))


def pointwise(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """A NumPy-broadcasting evaluation of the mpmath function ``fn`` at POINTWISE_DPS digits:
    the real part where the value is real, NaN where it is complex or cannot be computed."""

    def one(*args: float) -> float:
        with mpmath.workdps(POINTWISE_DPS):
            try:
                value = fn(*(mpmath.mpf(a) for a in args))
            except (ValueError, ZeroDivisionError, TypeError, OverflowError):
                return math.nan
            if isinstance(value, mpmath.mpc):
                if abs(value.imag) > 1e-15 * max(1, abs(value.real)):
                    return math.nan
                value = value.real
            return float(value)

    def evaluate(*args: Any) -> np.ndarray:
        arrays = [np.asarray(a, dtype=float) for a in args]
        out = np.frompyfunc(one, len(arrays), 1)(*arrays)
        return np.asarray(out, dtype=float)

    return evaluate
