"""Certified linear rates: a quadratic Lyapunov function found by a small SDP and checked exactly.

For a time-invariant method (its steps repeat with the period of its sub-steps) on the class of
1-smooth q-strongly convex functions (normalised units, q = mu/L), the rate rho is certified by
a function of the state at the start of an iteration and the gradient there,

    V_k = [xi_k - xi*; u_k]^T P [xi_k - xi*; u_k] + p (f(y_k) - f*)

(Taylor, Van Scoy & Lessard, "Lyapunov functions for first-order methods: tight automated
convergence guarantees", ICML 2018), with two conditions written as S-procedures over the
interpolation inequalities v_ij >= 0 of :mod:`optnet_theory.certify.problem`:

* nonnegative on the class, and normalised: V_k - ||y_k - x*||^2 - sum mu_ij v_ij >= 0 over the
  points {x*, y_k} (not P >= 0);
* decreasing: V_{k+1} - rho^2 V_k + sum lambda_ij v_ij <= 0 over the points x* and the
  s + 1 gradient points of one iteration.

Both are linear in (P, p, lambda, mu) for fixed rho, so rho is found by bisection; the worst
one-dimensional quadratic's spectral radius is a lower bound on every rate and starts it.

The answer is checked exactly: the multipliers are rounded to the rationals they are, the
function-value equalities repaired as for certificates, P raised by eta I (which makes the
positivity matrix positive definite at a cost the decrease margin absorbs), and both matrices
decided by :func:`~optnet_theory.certify.exact.is_positive_definite`. Only then is rho reported.
A method whose steps change with k (a horizon or a theta schedule) has no such rate; nor has a
method for which no certificate below 1 exists, such as heavy ball with Polyak's
quadratic-tuned parameters (Lessard, Recht & Packard 2016).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from optnet_theory.certify.exact import RatMatrix, is_positive_definite, to_fraction
from optnet_theory.certify.search import maximise_on_interval
from optnet_theory.certify.solver import require_solver
from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method, Step

__all__ = ["RateCertificate", "certify_rate", "quadratic_rate", "steady_steps"]

#: iterations compared to decide that a method's steps repeat.
_PERIODS = 8
#: bisection stops when the bracket is this narrow.
_RESOLUTION = 1e-9
#: the raise of P that makes the positivity matrix definite (relative to trace P).
_ETA = 1e-9


@dataclass(frozen=True)
class RateCertificate:
    """``rate``: a checked rho with V_{k+1} <= rho^2 V_k (None, with ``reason``, when none can
    be given); ``rate_lower``: the worst one-dimensional quadratic's spectral radius per
    iteration, below which no method is faster on the class (None for a time-varying
    method); ``lyapunov``: P and p of the
    checked V (normalised units, state order of the method's slots, then the gradient)."""

    method: str
    L: float
    mu: float
    rate: float | None
    rate_lower: float | None
    reason: str | None
    lyapunov: dict[str, Any] | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def steady_steps(method: Method) -> list[Step] | None:
    """The steps of one iteration if the method is time-invariant from its second iteration
    on (a first iteration may differ, as for a start x_{-1} = x_0), else None."""
    s = method.spec.substeps
    if method.spec.needs_horizon:
        return None
    steps = method.coefficients(_PERIODS)
    period = steps[s:2 * s]
    for j in range(s, len(steps) - 1):
        ref, st = period[(j - s) % s], steps[j]
        for a, b in ((ref.A, st.A), (ref.B, st.B), (ref.C, st.C)):
            if not np.allclose(np.array(a, dtype=float), np.array(b, dtype=float),
                               rtol=1e-13, atol=1e-15):
                return None
    return list(period)


def quadratic_rate(steps: list[Step], q: float, L: float) -> float:
    """max over curvatures m in [q, 1] of the spectral radius of one iteration on m x^2/2."""
    def radius(m: float) -> float:
        M = np.eye(len(steps[0].B))
        for st in steps:
            A, B, C = (np.array(x, dtype=float) for x in (st.A, st.B, st.C))
            M = (A + m * L * np.outer(B, C)) @ M
        return float(np.max(np.abs(np.linalg.eigvals(M))))

    best, top = maximise_on_interval(radius, q, 1.0, 401)
    return max(top, radius(best))


class _Lmi:
    """The LMI data of one iteration (exact), basis (xi_0 slots, u_0 .. u_s)."""

    def __init__(self, steps: list[Step], q: Fraction, L: Fraction) -> None:
        m, s = len(steps[0].B), len(steps)
        self.m, self.s, self.nb, self.q = m, s, m + s + 1, q
        nb = self.nb
        zero = [Fraction(0)] * nb

        def unit(k: int) -> list[Fraction]:
            v = list(zero)
            v[k] = Fraction(1)
            return v

        xi = [unit(k) for k in range(m)]
        xs, gs = [], []
        for t in range(s + 1):
            st = steps[t % s]
            xs.append([sum((to_fraction(c) * x[k] for c, x in zip(st.C, xi, strict=True)),
                           Fraction(0)) for k in range(nb)])
            gs.append(unit(m + t))
            if t < s:
                new = []
                for row, b in zip(st.A, st.B, strict=True):
                    v = [sum((to_fraction(a) * x[k] for a, x in zip(row, xi, strict=True)),
                             Fraction(0)) for k in range(nb)]
                    v[m + t] += L * to_fraction(b)
                    new.append(v)
                xi = new
        self.X = [zero] + xs  # point 0 is x*, point t + 1 is y_t
        self.G = [zero] + gs
        self.E0 = [unit(k) for k in range(m)] + [unit(m)]
        self.E1 = xi + [unit(m + s)]
        self.pairs = [(i, j) for i in range(s + 2) for j in range(s + 2) if i != j]

    def interpolation(self, i: int, j: int, points: range | None = None) -> tuple[
            np.ndarray, dict[int, Fraction]]:
        """v_ij: (matrix part, {point: function-value coefficient}) as in problem.py."""
        q, k2 = self.q, 2 * (1 - self.q)
        X, G = np.array(self.X, dtype=object), np.array(self.G, dtype=object)
        dx, dg = X[i] - X[j], G[i] - G[j]
        Q = (-k2 * _sym(G[j], dx) - np.outer(dg, dg) - q * np.outer(dx, dx)
             + 2 * q * _sym(dg, dx))
        f = {}
        if i:
            f[i] = k2
        if j:
            f[j] = f.get(j, Fraction(0)) - k2
        return Q, f


def _sym(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.outer(a, b) + np.outer(b, a)) / 2


def _quadform(E: list[list[Fraction]], P: np.ndarray) -> np.ndarray:
    Em = np.array(E, dtype=object)
    return Em.T @ P @ Em


def certify_rate(method: Method) -> RateCertificate:
    """The checked linear rate of ``method`` on its (L, mu) class (module docstring)."""
    import time

    require_solver()
    start = time.perf_counter()
    if method.mu <= 0:
        raise OptnetError(
            "a linear rate needs a strongly convex class: pass --mu with 0 < mu < L "
            "(on L-smooth convex functions first-order methods converge sublinearly)"
        )
    if method.mu >= method.L:
        raise OptnetError(
            f"mu = L = {method.L:g} leaves one function up to translation, the quadratic "
            f"(L/2)||x - x*||^2 + f*: there is nothing to certify; use mu < L"
        )
    q = to_fraction(method.mu) / to_fraction(method.L)
    steps = steady_steps(method)

    def done(rate: float | None, lower: float | None, reason: str | None,
             lyap: dict[str, Any] | None) -> RateCertificate:
        return RateCertificate(method.name, method.L, method.mu, rate, lower, reason, lyap,
                               time.perf_counter() - start)

    if steps is None:
        return done(None, None, "the method is time-varying (its steps change with k), "
                    "so no single Lyapunov function applies; use its N-step rate", None)
    lower = quadratic_rate(steps, float(q), method.L)
    lmi = _Lmi(steps, q, to_fraction(method.L))
    found = _checked(lmi, 1.0)
    if found is None:
        return done(None, lower, "no quadratic Lyapunov function certifies a rate below 1 on "
                    "this class (the method need not converge on every function of it; "
                    "Lessard, Recht & Packard 2016)", None)
    lo, hi, best = max(lower - 1e-12, 0.0), 1.0, found
    while hi - lo > _RESOLUTION:
        mid = 0.5 * (lo + hi)
        trial = _checked(lmi, mid)
        if trial is None:
            lo = mid
        else:
            hi, best = mid, trial
    return done(hi, lower, None, best)


def _checked(lmi: _Lmi, rho: float) -> dict[str, Any] | None:
    """A Lyapunov certificate at ``rho``, checked exactly, or None."""
    sol = _solve(lmi, rho)
    if sol is None:
        return None
    return _verify(lmi, to_fraction(rho), *sol)


def _solve(lmi: _Lmi, rho: float) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:
    """(P, p, lambda, mu) maximising the decrease margin t at ``rho`` (floats), if t > 0."""
    import clarabel

    n1, nb = lmi.m + 1, lmi.nb
    sym_idx = [(a, b) for b in range(n1) for a in range(b + 1)]
    npairs, npos = len(lmi.pairs), 2
    nvar = len(sym_idx) + 1 + npairs + npos + 1  # P entries, p, lambda, mu, t
    ip, il, imu, it = len(sym_idx), len(sym_idx) + 1, len(sym_idx) + 1 + npairs, nvar - 1
    pos_pairs = [(1, 0), (0, 1)]
    # linear maps: each variable's contribution to Dec (nb x nb), Pos (n1 x n1), F rows
    dec = [np.zeros((nb, nb)) for _ in range(nvar)]
    pos = [np.zeros((n1, n1)) for _ in range(nvar)]
    feq = np.zeros((lmi.s + 2, nvar))  # rows: f of y_0..y_s (decrease), then positivity f_0
    E0 = np.array(lmi.E0, dtype=float)
    E1 = np.array(lmi.E1, dtype=float)
    r2 = rho * rho
    for k, (row, col) in enumerate(sym_idx):
        B = np.zeros((n1, n1))
        B[row, col] = B[col, row] = 1.0
        dec[k] = E1.T @ B @ E1 - r2 * (E0.T @ B @ E0)
        pos[k] = B
    feq[lmi.s, ip] += 1.0
    feq[0, ip] -= r2
    feq[lmi.s + 1, ip] += 1.0
    for k, (i, j) in enumerate(lmi.pairs):
        Q, f = lmi.interpolation(i, j)
        dec[il + k] = Q.astype(float)
        for point, c in f.items():
            feq[point - 1, il + k] += float(c)
    c0 = np.array(lmi.X[1], dtype=float)[:n1]
    for k, (i, j) in enumerate(pos_pairs):
        Q, f = lmi.interpolation(i, j)
        pos[imu + k] = -Q.astype(float)[:n1, :n1]
        for c in f.values():
            feq[lmi.s + 1, imu + k] -= float(c)
    dec[it] = np.eye(nb)  # Dec + t I <= 0
    const_pos = -np.outer(c0, c0)  # Pos = E0^T P E0 (restricted) - c0 c0^T - sum mu Q
    # Clarabel: A x + s = b, s in cones
    from optnet_theory.certify.sdp import svec

    rows_a, rows_b, cones = [], [], []
    rows_a.append(feq)
    rows_b.append(np.zeros(lmi.s + 2))
    cones.append(clarabel.ZeroConeT(lmi.s + 2))
    nn = np.zeros((npairs + npos + 1, nvar))
    for k in range(npairs + npos):
        nn[k, il + k] = -1.0
    nn[-1, it] = 1.0  # t <= 1: the problem is homogeneous but for the normalisation of V
    rows_a.append(nn)
    rows_b.append(np.concatenate([np.zeros(npairs + npos), [1.0]]))
    cones.append(clarabel.NonnegativeConeT(npairs + npos + 1))
    rows_a.append(np.array([svec(d) for d in dec]).T)  # -Dec - tI >= 0: s = -A x
    rows_b.append(np.zeros(nb * (nb + 1) // 2))
    cones.append(clarabel.PSDTriangleConeT(nb))
    rows_a.append(-np.array([svec(p) for p in pos]).T)  # Pos >= 0
    rows_b.append(svec(const_pos))
    cones.append(clarabel.PSDTriangleConeT(n1))
    A = sp.csc_matrix(np.vstack(rows_a))
    rhs = np.concatenate(rows_b)
    cost = np.zeros(nvar)
    cost[it] = -1.0
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    sol = clarabel.DefaultSolver(sp.csc_matrix((nvar, nvar)), cost, A, rhs, cones,
                                 settings).solve()
    x = np.array(sol.x)
    if str(sol.status) not in ("Solved", "AlmostSolved") or x[it] <= 0:
        return None
    P = np.zeros((n1, n1))
    for k, (a, bb) in enumerate(sym_idx):
        P[a, bb] = P[bb, a] = x[k]
    return P, float(x[ip]), x[il:il + npairs], x[imu:imu + npos]


def _verify(lmi: _Lmi, rho: Fraction, P: np.ndarray, p: float, lam: np.ndarray,
            mu: np.ndarray) -> dict[str, Any] | None:
    """Exact check of a candidate (module docstring); the certificate's (P, p) or None."""
    n1 = lmi.m + 1
    k2 = 2 * (1 - lmi.q)
    Pf = np.array([[to_fraction(v) for v in row] for row in P], dtype=object)
    trace = sum((Pf[a, a] for a in range(n1)), Fraction(0))
    Pf = Pf + np.diag([to_fraction(_ETA) * trace + Fraction(1, 2**60)] * n1).astype(object)
    pf = to_fraction(p)
    lamf = {pair: to_fraction(max(v, 0.0)) for pair, v in zip(lmi.pairs, lam, strict=True)}
    muf = {pair: to_fraction(max(v, 0.0)) for pair, v in zip([(1, 0), (0, 1)], mu, strict=True)}
    # decrease: f-row t (point t+1): p [t = s] - rho^2 p [t = 0] + sum lambda a = 0
    for t in range(lmi.s + 1):
        point = t + 1
        res = pf * ((t == lmi.s) - rho * rho * (t == 0))
        for (i, j), v in lamf.items():
            res += v * (k2 * (i == point) - k2 * (j == point))
        if res < 0:
            lamf[(point, 0)] += -res / k2
        elif res > 0:
            lamf[(0, point)] += res / k2
    # positivity: p - sum mu a_0 = 0, a_0 = +k2 for (1, 0), -k2 for (0, 1)
    res = pf - k2 * muf[(1, 0)] + k2 * muf[(0, 1)]
    if res > 0:
        muf[(1, 0)] += res / k2
    elif res < 0:
        muf[(0, 1)] += -res / k2
    dec = _quadform(lmi.E1, Pf) - rho * rho * _quadform(lmi.E0, Pf)
    for (i, j), v in lamf.items():
        if v:
            dec = dec + v * lmi.interpolation(i, j)[0]
    c0 = np.array(lmi.X[1][:n1], dtype=object)
    pos = Pf - np.outer(c0, c0)
    for (i, j), v in muf.items():
        if v:
            pos = pos - v * lmi.interpolation(i, j)[0][:n1, :n1]
    if not (is_positive_definite(RatMatrix.of(-dec))[0]
            and is_positive_definite(RatMatrix.of(pos))[0]):
        return None
    return {"P": [[float(v) for v in row] for row in Pf], "p": float(pf)}
