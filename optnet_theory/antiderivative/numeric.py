"""Numeric antiderivative when no closed form is found (e.g. Mish): method "numeric".

Psi(x) = integral_0^x Phi: on [-R, R] a Chebyshev interpolant of Phi on each unit panel is
integrated exactly (numpy.polynomial), the panels chained so Psi is continuous with
Psi(0) = 0; beyond +-R, Phi's asymptotic line a x + b (fitted far out, checked) is
integrated in closed form plus the constant integral of Phi - (a t + b) over the tail (mpmath
quadrature), or, without such a line, mpmath quadrature point by point. The reference is
30-digit mpmath quadrature (:func:`quad_reference`); the stated accuracy is
10 times the largest error observed against it, plus the tail constants' size.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
from numpy.polynomial import Chebyshev

from optnet_theory.numerics import FloatFn, MpFn

RADIUS = 40
DEGREE = 40
SAFETY = 10.0


def quad_antiderivative(phi_mp: MpFn, cuts: list[float]) -> MpFn:
    """Psi(x) = integral_0^x Phi by mpmath quadrature at the current precision."""

    def psi(t: mpmath.mpf) -> mpmath.mpf:
        t = mpmath.mpf(t)
        if t == 0:
            return mpmath.mpf(0)
        n = int(min(200, 1 + int(abs(t)) // 2))
        nodes = [t * k / n for k in range(n + 1)]
        nodes += [mpmath.mpf(c) for c in cuts if min(0, t) < c < max(0, t)]
        nodes = sorted(set(nodes), reverse=bool(t < 0))
        return mpmath.quad(phi_mp, nodes, method="gauss-legendre")

    return psi


def quad_reference(phi_mp: MpFn, points: list[mpmath.mpf], cuts: list[float]) -> list[mpmath.mpf]:
    """integral_0^t Phi at every t in ``points``, chaining quadratures between sorted points."""
    values: dict[mpmath.mpf, mpmath.mpf] = {}
    for sign in (1, -1):
        side = sorted((mpmath.mpf(t) for t in points if sign * t > 0), key=lambda t: sign * t)
        total, last = mpmath.mpf(0), mpmath.mpf(0)
        for t in side:
            nodes = [last, *(c for c in cuts if min(last, t) < c < max(last, t)), t]
            n = int(min(100, 1 + int(abs(t - last)) // 2))
            nodes = sorted(
                {*nodes, *(last + (t - last) * k / n for k in range(1, n))}, reverse=sign < 0
            )
            total += mpmath.quad(phi_mp, nodes, method="gauss-legendre")
            values[t], last = total, t
    return [values.get(mpmath.mpf(t), mpmath.mpf(0)) for t in points]


def _asymptote(phi_mp: MpFn, sign: int) -> tuple[float, float] | None:
    """Phi's asymptotic line a t + b towards sign*inf, if Phi reaches it exponentially fast.

    Fitted at |t| = 2R and 3R in 30-digit arithmetic; accepted only if Phi is within 1e-12 of
    it at |t| = R and the gap shrinks at least 1000-fold by |t| = 4R (relative to max(1, |Phi|)).
    The remaining tail integral is a computed constant whose size enters the stated accuracy.
    """
    with mpmath.workdps(30):
        t1, t2 = mpmath.mpf(2 * sign * RADIUS), mpmath.mpf(3 * sign * RADIUS)
        try:
            a = (phi_mp(t2) - phi_mp(t1)) / (t2 - t1)
            b = phi_mp(t1) - a * t1
            a, b = (v if abs(v) > 1e-20 else mpmath.mpf(0) for v in (a, b))  # flat tail: exact 0
            near, far = (
                abs(phi_mp(t) - (a * t + b)) / max(1, abs(phi_mp(t)))
                for t in (mpmath.mpf(sign * RADIUS), mpmath.mpf(4 * sign * RADIUS))
            )
            if near > 1e-12 or far > max(1e-3 * near, mpmath.mpf(10) ** -25):
                return None
        except (ZeroDivisionError, ValueError, TypeError):
            return None
        return float(a), float(b)


class ChebyshevAntiderivative:
    """Vectorised float64 Psi from panel-wise Chebyshev integration plus asymptotic tails."""

    def __init__(self, phi_fn: FloatFn, phi_mp: MpFn, slow: MpFn) -> None:
        self.slow = slow
        self.phi_mp = phi_mp
        edges = np.arange(-RADIUS, RADIUS + 1, 1.0)
        self.edges = edges
        self.panels: list[Chebyshev] = []
        start = 0.0
        offsets = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            cheb = Chebyshev.interpolate(phi_fn, DEGREE, domain=[a, b]).integ(lbnd=a)
            self.panels.append(cheb)
            offsets.append(start)
            start += float(cheb(b))
        self.offsets = np.array(offsets)
        self.offsets -= self._inside(np.zeros(1))[0]
        self.tail_bound = 0.0
        self.tails: list[Callable[[np.ndarray], np.ndarray] | None] = []
        for sign in (-1, 1):
            self.tails.append(self._tail(sign, phi_mp))

    def _inside(self, t: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, len(self.panels) - 1)
        out = np.empty(t.shape, dtype=float)
        for k in np.unique(idx):
            mask = idx == k
            out[mask] = self.panels[k](t[mask]) + self.offsets[k]
        return out

    def _tail(self, sign: int, phi_mp: MpFn) -> Callable[[np.ndarray], np.ndarray] | None:
        line = _asymptote(phi_mp, sign)
        if line is None:
            return None
        a, b = line
        r = sign * RADIUS
        base = float(self._inside(np.array([float(r)]))[0])
        with mpmath.workdps(30):
            rest = mpmath.quad(lambda t: phi_mp(t) - a * t - b, [r, 2 * r, sign * mpmath.inf])
        delta = sign * float(rest)
        self.tail_bound += abs(delta)

        def tail(t: np.ndarray) -> np.ndarray:
            return base + a * (t**2 - r**2) / 2 + b * (t - r) + delta

        return tail

    def _slow(self, t: np.ndarray) -> np.ndarray:
        with mpmath.workdps(20):
            points = [mpmath.mpf(float(v)) for v in t]
            return np.array([float(v) for v in quad_reference(self.phi_mp, points, [])])

    def __call__(self, t: np.ndarray) -> np.ndarray:
        arr = np.asarray(t, dtype=float)
        flat = arr.reshape(-1)
        out = np.empty_like(flat)
        inside = np.abs(flat) <= RADIUS
        out[inside] = self._inside(flat[inside])
        for tail, mask in zip(self.tails, (flat < -RADIUS, flat > RADIUS), strict=True):
            if mask.any():
                out[mask] = tail(flat[mask]) if tail is not None else self._slow(flat[mask])
        return out.reshape(arr.shape)
