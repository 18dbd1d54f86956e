"""Reference values of Psi(t) = integral_0^t Phi by adaptive mpmath quadrature (Lemma 1's Psi).

Every piece is integrated by two Gauss-Legendre rules (24 and 48 nodes, mpmath's nodes at the
current precision), and halved until their difference is below ``tol * max(1, |piece|)``;
pieces end at the breakpoints of Phi and at the points asked for. The number of pieces is
capped, so an integrand that oscillates too fast (e.g. sin(x**2) far out) raises
:class:`Unresolved` instead of returning a value whose accuracy is unknown. This is the
independent reference against which the numeric fallback
(:mod:`optnet_theory.antiderivative.numeric`) states its accuracy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import mpmath
from mpmath.calculus.quadrature import GaussLegendre

from optnet_theory.antiderivative.timelimit import start_with_limit
from optnet_theory.numerics import MpFn

#: Working precision of the reference (digits).
REF_DPS = 20
#: Largest number of pieces (quadratures) one side of one call may use before giving up.
MAX_PIECES = 300
#: The two Gauss-Legendre rules of every piece (mpmath degrees: 3 * 2^(d-1) nodes); their
#: difference is the piece's error estimate, and a piece whose estimate is too large is halved.
RULES = (4, 5)
#: CPU seconds for the negative side's child (its piece budget normally ends it long before).
SIDE_SECONDS = 600.0
_NODES: dict[tuple[int, int], list[tuple[mpmath.mpf, mpmath.mpf]]] = {}


def _rule(degree: int) -> list[tuple[mpmath.mpf, mpmath.mpf]]:
    """(node, weight) pairs of mpmath's Gauss-Legendre rule on [-1, 1] at the current precision."""
    key = (degree, mpmath.mp.prec)
    if key not in _NODES:
        _NODES[key] = GaussLegendre(mpmath.mp).calc_nodes(degree, mpmath.mp.prec)
    return _NODES[key]


def _piece(phi_mp: MpFn, a: mpmath.mpf, b: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(integral_a^b Phi by the finer rule, |finer - coarser|)."""
    mid, half = (a + b) / 2, (b - a) / 2
    coarse, fine = (
        half * mpmath.fsum(w * phi_mp(mid + half * t) for t, w in _rule(d)) for d in RULES
    )
    return fine, abs(fine - coarse)


class Unresolved(Exception):
    """The quadrature could not reach its tolerance within ``MAX_PIECES`` pieces."""

    def __init__(self, where: float) -> None:
        super().__init__(f"quadrature unresolved near x={where:.4g}")
        self.where = where


def _initial_nodes(lo: mpmath.mpf, hi: mpmath.mpf, cuts: list[float]) -> list[mpmath.mpf]:
    """lo, hi, the cuts (and any other given nodes) between them, and |t| = 1, 2, 4, ..."""
    flo, fhi = float(lo), float(hi)
    start, stop = bisect.bisect_right(cuts, flo), bisect.bisect_left(cuts, fhi)
    inner = {c for c in cuts[start:stop] if flo < c < fhi}
    step = 1.0
    while step < max(abs(flo), abs(fhi)):
        inner |= {t for t in (step, -step) if flo < t < fhi}
        step *= 2
    return [lo, *(mpmath.mpf(c) for c in sorted(inner)), hi]


def integrate(
    phi_mp: MpFn,
    lo: mpmath.mpf,
    hi: mpmath.mpf,
    cuts: list[float],
    tol: mpmath.mpf,
    budget: list[int],
) -> mpmath.mpf:
    """integral_lo^hi Phi (lo <= hi) at the current precision; ``budget[0]`` pieces left.

    ``cuts`` must be sorted.
    """
    total = mpmath.mpf(0)
    nodes = _initial_nodes(lo, hi, cuts)
    stack = list(zip(nodes[:-1], nodes[1:], strict=True))[::-1]
    while stack:
        a, b = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise Unresolved(float(a))
        value, err = _piece(phi_mp, a, b)
        if err <= tol * max(1, abs(value)) and mpmath.isfinite(value):
            total += value
            continue
        if b - a < mpmath.mpf(2) ** -30:
            raise Unresolved(float(a))
        mid = (a + b) / 2
        stack += [(mid, b), (a, mid)]
    return total


def reference_values(
    phi_mp: MpFn, points: Iterable[mpmath.mpf], cuts: list[float], max_pieces: int = MAX_PIECES
) -> dict[mpmath.mpf, mpmath.mpf | None]:
    """integral_0^t Phi for each t, chained outward from 0 on each side.

    ``cuts`` are nodes every piece ends at (breakpoints of Phi, or a finer partition where Phi
    is known to vary fast). A point beyond one that could not be resolved maps to None (so do
    all further out on that side: the chain is broken there). With points on both sides, the
    negative side is integrated in a child process meanwhile (the same arithmetic, on the
    second core); a child that dies or runs past SIDE_SECONDS leaves its side unresolved.
    """
    tol = mpmath.mpf(10) ** (3 - mpmath.mp.dps)
    cuts = sorted(cuts)
    points = [mpmath.mpf(t) for t in points]
    negative = [t for t in points if t < 0]
    other = (start_with_limit(SIDE_SECONDS, lambda: _side(phi_mp, negative, cuts, tol, max_pieces,
                                                          -1))
             if negative and any(t > 0 for t in points) else None)  # fmt: skip
    out = _side(phi_mp, points, cuts, tol, max_pieces, 1)
    if other is None:
        out.update(_side(phi_mp, negative, cuts, tol, max_pieces, -1))
    else:
        out.update(other.result() or dict.fromkeys(negative))
    out[mpmath.mpf(0)] = mpmath.mpf(0)
    return out


def _side(
    phi_mp: MpFn, points: list[mpmath.mpf], cuts: list[float], tol: mpmath.mpf,
    max_pieces: int, sign: int,
) -> dict[mpmath.mpf, mpmath.mpf | None]:
    """:func:`reference_values` on the side of 0 given by ``sign``."""
    out: dict[mpmath.mpf, mpmath.mpf | None] = {}
    side = sorted({t for t in points if sign * t > 0}, key=lambda t: sign * t)
    total, last = mpmath.mpf(0), mpmath.mpf(0)
    budget = [max_pieces]
    broken = False
    for t in side:
        if not broken:
            try:
                lo, hi = min(last, t), max(last, t)
                total += sign * integrate(phi_mp, lo, hi, cuts, tol, budget)
                last = t
            except Unresolved:
                broken = True
        out[t] = None if broken else total
    return out


def psi_by_quadrature(phi_mp: MpFn, cuts: list[float], lo: float, hi: float) -> MpFn:
    """Psi(t) = integral_0^t Phi at the current precision for lo <= t <= hi, else nan."""

    def psi(t: mpmath.mpf) -> mpmath.mpf:
        t = mpmath.mpf(t)
        if not lo <= t <= hi:
            return mpmath.nan
        value = reference_values(phi_mp, [t], cuts, max_pieces=20 * MAX_PIECES)[t]
        return mpmath.nan if value is None else value

    return psi
