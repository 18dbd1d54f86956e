"""Numeric antiderivative when no closed form is found (e.g. Mish): method "numeric".

Psi(x) = integral_0^x Phi (Lemma 1, eq. (8)), in three parts:

1. Panels. Outward from 0, block by block up to |x| = 1000 (``BLOCKS``), Phi is interpolated
   in float64 by a degree-32 Chebyshev series on each panel (width 1, halved until the last
   coefficients are below ``COEFF_TOL`` of the panel's scale, down to width 2^-12; panels end
   at Phi's breakpoints), integrated exactly, and the panels chained so Psi(0) = 0. The sum
   of the dropped coefficients bounds each panel's error; an integrand that needs more than
   ``MAX_PANELS`` panels (fast oscillation) ends the block structure there.
2. Asymptotic tails. After each block Phi is tested for an asymptotic line a t + b (fitted at
   30 digits and kept at 30 digits): it must hold to ``GAP_TOL`` relative at the block end and
   at 1.5, 4, 10, 1e2, 1e4 and 1e6 times it. Then Psi beyond the block end is
   Psi(r) + a (t^2 - r^2)/2 + b (t - r), whose error is at most integral_r^(1e6 r) |Phi - a t - b|
   (computed at 30 digits; it enters the stated accuracy). This is the saturating case
   (tanh(tanh(x)) -> tanh(1)), integrated without ever subtracting two nearly equal numbers.
3. Domain. A side with no such line (sin(x**2), x**2 tanh(x), slowly saturating Phi) ends at
   the last block built: Psi is then only defined on the stated ``domain`` (nan outside).

The accuracy is then established against the independent reference
(:mod:`optnet_theory.antiderivative.reference`) by the caller, see
:func:`optnet_theory.energy.derive_energy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np
from numpy.polynomial import chebyshev as C

from optnet_theory.antiderivative.check import check_points
from optnet_theory.antiderivative.reference import REF_DPS, reference_values
from optnet_theory.antiderivative.timelimit import call_with_limit
from optnet_theory.errors import OptnetError
from optnet_theory.numerics import FloatFn, MpFn

#: Panels are built outward from 0 up to these |x|, block by block.
BLOCKS = (40.0, 100.0, 300.0, 1000.0)
DEGREE = 32
#: A panel is accepted when its last three Chebyshev coefficients are below this fraction of
#: max(1, max |Phi| on the panel) * max(1, |lo| + |hi|)^2.
COEFF_TOL = 1e-15
MIN_WIDTH = 2.0**-12
MAX_PANELS = 20000
#: Relative distance max |Phi - (a t + b)| / max(1, |Phi|) for an asymptotic line.
GAP_TOL = 1e-16
#: |x| at which the numeric Psi is checked against the reference (inside its domain).
FAR_POINTS = (1.0, 10.0, 45.0, 100.0, 300.0, 1000.0, 3000.0, 1e4)
SAFETY = 10.0
#: A numeric Psi whose stated accuracy is worse than this is refused (never returned).
ACCURACY_LIMIT = 1e-8
_LINE_FACTORS = (1.5, 4, 10, 1e2, 1e4, 1e6)
_LINE_SECONDS = 2.0

_NODES = C.chebpts1(DEGREE + 1)
_VANDER = C.chebvander(_NODES, DEGREE)


class NumericFailure(OptnetError):
    """The numeric antiderivative could not be built to a known accuracy (one-line reason)."""


def _fit(phi_fn: FloatFn, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev coefficients of Phi on each panel [lo_k, hi_k] and whether each converged."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    t = mid[:, None] + half[:, None] * _NODES[None, :]
    y = np.asarray(phi_fn(t.ravel()), dtype=float).reshape(t.shape)
    coef = y @ _VANDER / (DEGREE + 1)
    coef[:, 1:] *= 2
    # float64 rounding of Phi's argument grows with |t| (sin(x**2) at x = 1000 is only known
    # to about 1e-10), so the tolerance grows like the argument of such a Phi
    reach = np.maximum(1.0, np.abs(lo) + np.abs(hi))
    scale = np.maximum(1.0, np.max(np.abs(y), axis=1)) * reach**2
    tail = np.max(np.abs(coef[:, -3:]), axis=1)
    ok = np.all(np.isfinite(y), axis=1) & (tail <= COEFF_TOL * scale)
    return coef, ok


def _panels(
    phi_fn: FloatFn, start: float, end: float, cuts: list[float], room: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Accepted panels (lo, hi, coefficients, error bound) covering [start, end], or None."""
    grid = set(np.arange(math.ceil(min(start, end)), math.floor(max(start, end)) + 1.0))
    grid |= {start, end, *(c for c in cuts if min(start, end) < c < max(start, end))}
    edges = np.array(sorted(grid))
    lo, hi = edges[:-1], edges[1:]
    done: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    count = 0
    while lo.size:
        coef, ok = _fit(phi_fn, lo, hi)
        done.append((lo[ok], hi[ok], coef[ok]))
        count += int(ok.sum())
        lo, hi = lo[~ok], hi[~ok]
        if not lo.size:
            break
        mid = (lo + hi) / 2
        if np.any(hi - lo < 2 * MIN_WIDTH) or count + 2 * lo.size > room:
            return None
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
    los = np.concatenate([d[0] for d in done])
    order = np.argsort(los)
    his = np.concatenate([d[1] for d in done])[order]
    coefs = np.concatenate([d[2] for d in done])[order]
    err = (his - los[order]) * np.sum(np.abs(coefs[:, -3:]), axis=1)
    return los[order], his, coefs, err


def asymptote(phi_mp: MpFn, end: float) -> tuple[float, float, float] | None:
    """(a, b, bound): Phi = a t + b beyond ``end`` (a signed block end) to ``GAP_TOL``, or None.

    ``bound`` is integral_end^(1e6 end) |Phi - a t - b| at 30 digits. Evaluated in a child
    process under a CPU limit (Phi far out may be expensive, e.g. sin(exp(x))).
    """

    def attempt() -> tuple[float, float, float] | None:
        with mpmath.workdps(30):
            r = mpmath.mpf(end)
            t1, t2 = 2 * r, 3 * r
            a = (phi_mp(t2) - phi_mp(t1)) / (t2 - t1)
            b = phi_mp(t1) - a * t1

            def gap(t: mpmath.mpf) -> mpmath.mpf:
                return abs(phi_mp(t) - a * t - b)

            for factor in (1, *_LINE_FACTORS):
                t = r * factor
                if not gap(t) <= GAP_TOL * max(1, abs(phi_mp(t))):
                    return None
            nodes = [r * 2**k for k in range(21)]
            bound = mpmath.quad(gap, nodes, method="gauss-legendre")
            return float(a), float(b), float(bound)

    try:
        return call_with_limit(_LINE_SECONDS, attempt)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError):
        return None


class ChebyshevAntiderivative:
    """Vectorised float64 Psi (Psi(0) = 0) from Chebyshev panels plus asymptotic tails.

    ``domain`` is where it is defined (nan outside; +-inf on a side with an asymptotic line,
    narrowed by :meth:`restrict`); ``panel_error`` bounds the panels' error
    relative to max(1, |Psi|); ``tail_bound`` the tails' (see the module docstring).
    """

    def __init__(self, phi_fn: FloatFn, phi_mp: MpFn, cuts: list[float]) -> None:
        los, his, coefs, errs = [], [], [], []
        ends: list[float] = []
        self.lines: list[tuple[float, float] | None] = []
        self.tail_bound = 0.0
        for sign in (-1.0, 1.0):
            reach, line, room = 0.0, None, MAX_PANELS
            for block in BLOCKS:
                built = _panels(phi_fn, sign * reach, sign * block, cuts, room)
                if built is None:
                    break
                los.append(built[0])
                his.append(built[1])
                coefs.append(built[2])
                errs.append(built[3])
                room -= built[0].size
                reach = block
                found = asymptote(phi_mp, sign * block)
                if found is not None:
                    line = found
                    break
            if reach == 0.0:
                raise NumericFailure(
                    f"Phi cannot be interpolated to float64 accuracy on "
                    f"[{min(0, sign * BLOCKS[0]):g}, {max(0, sign * BLOCKS[0]):g}] "
                    f"(panels narrower than {MIN_WIDTH:g} or more than {MAX_PANELS} needed: "
                    "a cusp, a singularity or fast oscillation)"
                )
            ends.append(sign * reach)
            self.lines.append(None if line is None else line[:2])
            if line is not None:
                self.tail_bound = max(self.tail_bound, line[2])
        lo = np.concatenate(los)
        order = np.argsort(lo)
        self.lo = lo[order]
        self.hi = np.concatenate(his)[order]
        half = (self.hi - self.lo) / 2
        self.integral_coefs = (
            C.chebint(np.concatenate(coefs)[order], lbnd=-1, axis=1) * half[:, None]
        )
        self.ends = (ends[0], ends[1])
        totals = _clenshaw(self.integral_coefs, np.ones(self.lo.size)).astype(np.longdouble)
        zero = int(np.searchsorted(self.lo, 0.0))
        self.offsets = np.zeros(self.lo.size, dtype=np.longdouble)
        self.offsets[zero:] = np.concatenate([[0.0], np.cumsum(totals[zero:-1])])
        self.offsets[:zero] = -np.cumsum(totals[:zero][::-1])[::-1]
        err = np.concatenate(errs)[order]
        cum = np.zeros(self.lo.size)
        cum[zero:] = np.cumsum(err[zero:])
        cum[:zero] = np.cumsum(err[:zero][::-1])[::-1]
        scale = np.maximum(1.0, np.minimum(np.abs(self.offsets), np.abs(self.offsets + totals)))
        self._relative_error = cum / scale.astype(float)
        self.panel_error = float(np.max(self._relative_error))
        edge_values = self._inside(np.array([self.ends[0], self.ends[1]]))
        self.edge_values = (float(edge_values[0]), float(edge_values[1]))
        self.domain = (
            -math.inf if self.lines[0] is not None else self.ends[0],
            math.inf if self.lines[1] is not None else self.ends[1],
        )

    def restrict(self, lo: float, hi: float) -> None:
        """Narrow the domain to [lo, hi] (where the caller could establish the accuracy)."""
        self.domain = (max(lo, self.domain[0]), min(hi, self.domain[1]))
        used = (self.hi > self.domain[0]) & (self.lo < self.domain[1])
        self.panel_error = float(np.max(self._relative_error[used]))

    def _inside(self, t: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(self.lo, t, side="right") - 1, 0, self.lo.size - 1)
        half = (self.hi[idx] - self.lo[idx]) / 2
        u = np.clip((t - self.lo[idx]) / half - 1, -1.0, 1.0)
        return (self.offsets[idx] + _clenshaw(self.integral_coefs[idx], u)).astype(float)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        arr = np.asarray(t, dtype=float)
        flat = arr.reshape(-1)
        out = np.full(flat.shape, np.nan)
        (left, right), (lo, hi) = self.ends, self.domain
        inside = (flat >= max(left, lo)) & (flat <= min(right, hi))
        out[inside] = self._inside(flat[inside])
        for line, edge, base, mask in (
            (self.lines[0], left, self.edge_values[0], (flat < left) & (flat >= lo)),
            (self.lines[1], right, self.edge_values[1], (flat > right) & (flat <= hi)),
        ):
            if line is not None and mask.any():
                a, b = line
                s = flat[mask]
                out[mask] = base + a * (s - edge) * (s + edge) / 2 + b * (s - edge)
        return out.reshape(arr.shape)


def _clenshaw(coefs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """sum_k coefs[i, k] T_k(u[i]) for every row i (Clenshaw's recurrence)."""
    b1 = np.zeros(u.shape)
    b2 = np.zeros(u.shape)
    for k in range(coefs.shape[1] - 1, 0, -1):
        b1, b2 = coefs[:, k] + 2 * u * b1 - b2, b1
    return coefs[:, 0] + u * b1 - b2


@dataclass(frozen=True)
class Established:
    """What the reference check of a numeric Psi found (see :func:`establish`)."""

    accuracy: float  # stated bound on |Psi_float - Psi| / max(1, |Psi|) on the domain
    worst: float  # largest deviation observed against the reference
    points: int
    reach: tuple[float, float]  # farthest checked point on each side


def establish(approx: ChebyshevAntiderivative, phi_mp: MpFn, cuts: list[float]) -> Established:
    """Check ``approx`` against adaptive quadrature at ``REF_DPS`` digits; narrow its domain.

    Points: ``interior`` (>= 50 points in [-20, 20]) and +-``FAR_POINTS`` inside the domain.
    Where the reference itself cannot be resolved (fast oscillation), the domain ends at the
    last point checked on that side. Stated accuracy: max(SAFETY * worst deviation, panel
    bound, 1e-15) + tail bound. Raises :class:`NumericFailure` when it exceeds
    ``ACCURACY_LIMIT`` or [-20, 20] cannot be checked.
    """
    lo, hi = approx.domain
    interior = [float(t) for t in check_points(cuts)]
    ends = [v for v in approx.domain if math.isfinite(v)]
    far = sorted({*ends, *(s * v for v in FAR_POINTS for s in (-1.0, 1.0) if lo <= s * v <= hi)})
    points = [*interior, *far]
    with mpmath.workdps(REF_DPS):
        partition = [*cuts, *approx.lo[approx.hi - approx.lo < 1]]  # where Phi varies fast
        ref = reference_values(phi_mp, [mpmath.mpf(t) for t in points], partition)
    values = dict(zip(points, approx(np.array(points)), strict=True))
    errs, reach = [], [0.0, 0.0]
    for t in sorted(points, key=abs):
        r = ref[mpmath.mpf(t)]
        side = int(t > 0)
        if r is None:
            if abs(t) <= max(abs(v) for v in interior):
                raise NumericFailure(
                    f"the integral of Phi cannot be resolved near x={t:.4g} (Phi oscillates "
                    "too fast for a checked numeric Psi)"
                )
            continue
        if abs(t) > abs(reach[side]):
            reach[side] = t
        errs.append(abs(values[t] - float(r)) / max(1.0, abs(float(r))))
    if any(ref[mpmath.mpf(t)] is None for t in far if t < 0):
        approx.restrict(reach[0], math.inf)
    if any(ref[mpmath.mpf(t)] is None for t in far if t > 0):
        approx.restrict(-math.inf, reach[1])
    worst = max(errs)
    accuracy = max(SAFETY * worst, approx.panel_error, 1e-15) + approx.tail_bound
    if not accuracy <= ACCURACY_LIMIT:
        raise NumericFailure(
            f"the numeric Psi reaches a stated accuracy of only {accuracy:.1e} (needs <= "
            f"{ACCURACY_LIMIT:g}; largest deviation from {REF_DPS}-digit quadrature {worst:.1e})"
        )
    return Established(accuracy, worst, len(errs), (reach[0], reach[1]))
