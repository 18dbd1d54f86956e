"""The checked interval [lower, upper] around a PEP's worst case, in exact arithmetic.

``upper``: a dual certificate (tau, lambda) of :mod:`optnet_theory.certify.sdp` made exact.
The multipliers are rounded to rationals (negative ones to 0) and the function-value equalities
c + sum lambda_ij a_ij - tau a_init = 0 are repaired exactly: the pair (p, x*) carries f_p alone
with a positive coefficient and (x*, p) with a negative one, so raising one of the two
multipliers by the residual over that coefficient zeroes row p and keeps every multiplier
nonnegative. Then S = tau A_init - C - sum lambda_ij Q_ij is formed exactly
(:class:`~optnet_theory.certify.exact.RatMatrix`) and must be positive definite
(:func:`~optnet_theory.certify.exact.is_positive_definite`). Weak duality then makes tau an
upper bound whatever the solver's tolerance. Raising tau cannot repair a deficit of S (tau
touches the x_0 block only), so the solve asked for S >= eps I in the first place
(:func:`~optnet_theory.certify.sdp.solve`); a failed check is retried with a larger eps.

``lower``: the metric on an explicit instance. The solver's primal Gram matrix is made exactly
feasible: G_a = P^T P from its eigenvectors (exactly positive semidefinite), the function
values as returned, scaled to meet the initial condition exactly. Where an interpolation
inequality v_ij >= 0 is violated, G_a is mixed with the worst one-dimensional quadratic
f = m x^2 / 2 (q < m < 1), on which every v_ij = (m - q)(1 - m)(x_i - x_j)^2 > 0: the mixture
(1 - s) a + s b with the least s that makes every v_ij >= 0 satisfies all of them exactly, so by
the interpolation theorem (Taylor, Hendrickx & Glineur 2017, Thm 4) a function of the class
takes those values and gradients at those points, and the method run on it from x_0 visits
exactly those points. Its metric is a lower bound by construction; the quadratic alone is one
too, and the larger of the two is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.linalg

from optnet_theory.certify.exact import RatMatrix, is_positive_definite, to_fraction
from optnet_theory.certify.problem import Pep, quadratic_values
from optnet_theory.certify.sdp import DualData
from optnet_theory.certify.search import maximise_on_interval

__all__ = ["LowerBound", "lower_bound", "upper_bound", "worst_quadratic"]


def _dual_matrix(pep: Pep, w: np.ndarray, tau: Fraction) -> RatMatrix:
    """S = tau A_init - C - sum w_ij Q_ij exactly, w the (n, n) matrix of scaled multipliers."""
    X, G = pep.X, pep.Gr
    q, k2 = pep.q, 2 * (1 - pep.q)
    W = RatMatrix.of(w)
    rows = W.num.sum(axis=1)
    cols = W.num.sum(axis=0)
    lap = RatMatrix(np.diag(rows + cols) - W.num - W.num.T, W.den)  # sum w (e_i-e_j)(e_i-e_j)^T
    colsum = RatMatrix(np.diag(cols), W.den)
    cross = G @ (W.T - colsum) @ X.T  # sum w_ij g_j (x_i - x_j)^T
    total = (cross.sym().scale(-k2) - G @ lap @ G.T - (X @ lap @ X.T).scale(q)
             + (G @ lap @ X.T).sym().scale(2 * q))
    S = total.scale(-1)
    if pep.initial == "distance":
        assert pep.x0 is not None
        S = S + (pep.x0 @ pep.x0.T).scale(tau)
    scale = pep.objective_scale
    if pep.metric == "distance":
        S = S - (pep.out @ pep.out.T).scale(scale)
    elif pep.metric == "gradient-norm":
        assert pep.out_point is not None
        g = RatMatrix(G.num[:, pep.out_point:pep.out_point + 1], G.den)
        S = S - (g @ g.T).scale(scale)
    return S


def _polished(data: DualData, tau: float, lam: np.ndarray) -> np.ndarray:
    """lam with its function-value residual r = c + a lam - tau a_init removed in floats by
    the least relative change: lam (1 + t) with the least ||t|| such that a (lam t) = -r.

    The solver meets these equalities to its tolerance only; spread over every positive
    multiplier the correction moves S far less than the exact repair of :func:`upper_bound`
    would if it carried the whole residual on one multiplier per row.
    """
    support = lam > 0
    if not support.any():
        return lam
    residual = data.c + data.a @ lam - tau * data.a_init
    weighted = data.a[:, support] * lam[support][None, :]
    t, *_ = np.linalg.lstsq(weighted, -residual, rcond=None)
    out = lam.copy()
    out[support] = np.maximum(lam[support] * (1.0 + t), 0.0)
    return out


@dataclass(frozen=True)
class _Dual:
    """A dual point repaired to meet the function-value equalities exactly: the (n, n)
    multipliers w (row scales folded in) and tau."""

    w: np.ndarray
    tau: Fraction


def _repaired(pep: Pep, data: DualData, tau: float, lam: np.ndarray) -> _Dual | None:
    """Round the multipliers to the rationals they are (negative ones to 0, after the float
    polish of :func:`_polished`) and zero row p of the function-value equalities exactly:
    raise lambda_{p*} (residual < 0) or lambda_{*p} (residual > 0; lambda_{x0,p} where the
    x_*-pairs are left out, which moves the residual to x_0's row). With a start
    f(x_0) - f* <= 1, tau enters x_0's row only and is solved from it exactly."""
    n = pep.npoints
    lam = _polished(data, tau, np.maximum(lam, 0.0))
    t = to_fraction(max(tau, 0.0))
    w = np.empty((n, n), dtype=object)
    w[:] = Fraction(0)
    for (i, j), s, v in zip(data.pairs, data.rowscale, lam, strict=True):
        if v > 0:
            w[i, j] += to_fraction(float(v)) * s
    W = RatMatrix.of(w)
    rows = [Fraction(int(v), W.den) for v in W.num.sum(axis=1)]
    cols = [Fraction(int(v), W.den) for v in W.num.sum(axis=0)]
    k2 = 2 * (1 - pep.q)
    tau_row = pep.x0_point if pep.initial == "function-gap" else None

    def residual(p: int) -> Fraction:
        om = pep.omega[p - 1]
        res = k2 * om * (rows[p] - cols[p])
        if pep.metric == "function-gap" and p == pep.out_point:
            res += pep.objective_scale * om
        return res

    for p in range(1, n):
        if p == tau_row:
            continue
        res = residual(p)
        step = abs(res) / (k2 * pep.omega[p - 1])
        if res < 0:
            w[p, 0] += step
            rows[p] += step
        elif res > 0:
            if pep.x0 is not None:
                w[0, p] += step
            elif tau_row is not None:
                w[tau_row, p] += step
                rows[tau_row] += step
            else:
                return None
            cols[p] += step
    if tau_row is not None:
        t = residual(tau_row) / pep.omega[tau_row - 1]
        if t < 0:
            return None
    return _Dual(w, t)


def upper_bound(pep: Pep, data: DualData, accurate: tuple[float, np.ndarray],
                robust: tuple[float, np.ndarray] | None = None) -> tuple[Fraction, float] | None:
    """The exact bound (scaled problem's units) of a checked dual certificate, and the weight
    given to ``robust``; None when no certificate could be checked.

    ``accurate`` = (tau, lambda) of a near-optimal solve, ``robust`` of a solve whose dual
    matrix has a wide margin (S >= eps I). Both are repaired (:func:`_repaired`), which keeps
    every multiplier nonnegative and every equality exact, so each mixture (1 - s) accurate +
    s robust does too; the least s on a grid whose dual matrix is
    positive definite (checked exactly) gives the bound (1 - s) tau + s tau_robust, for s in
    0, 2^-30, 2^-26, .., 1.
    """
    acc = _repaired(pep, data, *accurate)
    if acc is None:
        return None
    S_acc = _dual_matrix(pep, acc.w, acc.tau)
    if is_positive_definite(S_acc)[0]:
        return acc.tau, 0.0
    rob = None if robust is None else _repaired(pep, data, *robust)
    if rob is None:
        return None
    S_rob = _dual_matrix(pep, rob.w, rob.tau)
    if not is_positive_definite(S_rob)[0]:
        return None
    s = Fraction(1, 2**30)
    while s < 1:
        mix = RatMatrix.combine([(1 - s, S_acc), (s, S_rob)])
        if is_positive_definite(mix)[0]:
            return (1 - s) * acc.tau + s * rob.tau, float(s)
        s *= 16
    return rob.tau, 1.0


def _pairwise(M: RatMatrix) -> tuple[RatMatrix, RatMatrix, RatMatrix]:
    """(M_ii as rows i, M_jj as columns j, M_ij) broadcast to (n, n), exactly."""
    diag = np.diagonal(M.num).copy()
    return RatMatrix(diag[:, None], M.den), RatMatrix(diag[None, :], M.den), M


def _instance_values(pep: Pep, Xr: RatMatrix, Gr: RatMatrix, f: RatMatrix,
                     x0: RatMatrix | None, out: RatMatrix) -> _Instance | None:
    """The instance whose points have positions ``Xr`` and gradients ``Gr`` (realised vectors,
    one column per point; x* = 0), function values ``f`` ((n, 1); f[0] = f* = 0), start ``x0``
    and output ``out``: its v_ij, start value and metric, normalised to a start value of 1."""
    XX, GX, GG = Xr.T @ Xr, Gr.T @ Xr, Gr.T @ Gr
    xi, xj, xij = _pairwise(XX)
    gi, gj, gij = _pairwise(GG)
    one = Fraction(1)
    q, k2 = pep.q, 2 * (1 - pep.q)
    gx_diag = np.diagonal(GX.num).copy()
    gxi, gxj = RatMatrix(gx_diag[:, None], GX.den), RatMatrix(gx_diag[None, :], GX.den)
    v = RatMatrix.combine([
        (k2, f), (-k2, f.T),  # f_i - f_j
        (-k2, GX.T), (k2, gxj),  # - <g_j, x_i - x_j>
        (-one, gi), (-one, gj), (2 * one, gij),  # - ||g_i - g_j||^2
        (-q, xi), (-q, xj), (2 * q, xij),  # - q ||x_i - x_j||^2
        (2 * q, gxi), (-2 * q, GX), (-2 * q, GX.T), (2 * q, gxj),  # + 2q <g_i-g_j, x_i-x_j>
    ])
    np.fill_diagonal(v.num, v.den)
    if pep.initial == "distance":
        assert x0 is not None
        init = (x0.T @ x0).entry(0, 0)
    else:
        assert pep.x0_point is not None
        init = f.entry(pep.x0_point, 0)
    if pep.metric == "function-gap":
        assert pep.out_point is not None
        metric = f.entry(pep.out_point, 0)
    elif pep.metric == "gradient-norm":
        assert pep.out_point is not None
        metric = GG.entry(pep.out_point, pep.out_point)
    else:
        metric = (out.T @ out).entry(0, 0)
    if init <= 0:
        return None
    return _Instance(v.scale(1 / init), metric / init)


def _quadratic_instance(pep: Pep, m: Fraction) -> _Instance:
    """The instance f = m x^2 / 2 in one dimension from x_0 = 1 (exact)."""
    n = pep.npoints
    nat = RatMatrix.of(pep.natural_x)
    u = [Fraction(1)]
    for p in range(1, n):
        xp = sum((nat.entry(p, k) * u[k] for k in range(p) if nat.num[p, k]), Fraction(0))
        u.append(m * xp)
    x = [Fraction(0)] + [uk / m for uk in u[1:]]
    xr = RatMatrix.of(np.array(x, dtype=object)[None, :])
    gr = xr.scale(m)
    f = RatMatrix.of(np.array([m * xp * xp / 2 for xp in x], dtype=object)[:, None])
    out = sum((to_fraction(c) * uk for c, uk in zip(pep.natural_out, u, strict=True) if c),
              Fraction(0))
    x0 = RatMatrix.of(np.array([[1]], dtype=object)) if pep.initial == "distance" else None
    inst = _instance_values(pep, xr, gr, f, x0, RatMatrix.of(np.array([[out]], dtype=object)))
    assert inst is not None
    return inst


def worst_quadratic(pep: Pep) -> Fraction:
    """The curvature m in (q, 1) of the one-dimensional quadratic with the largest metric
    (a grid, then a golden-section refinement), as an exact binary fraction."""
    q = float(pep.q)
    nat = pep.natural_x.astype(float)
    out = pep.natural_out.astype(float)

    def metric(m: float) -> float:
        u = quadratic_values(nat, m)
        o = float(out @ u)
        init = 1.0 if pep.initial == "distance" else 0.5 * m * float(nat[pep.x0_point] @ u) ** 2
        val = {"distance": o * o, "function-gap": 0.5 * m * o * o, "gradient-norm": (m * o) ** 2}
        return val[pep.metric] / init if init > 0 else 0.0

    lo, hi = q + 1e-9 * (1 - q), 1 - 1e-9 * (1 - q)
    best, _ = maximise_on_interval(metric, lo, hi, 513)
    return to_fraction(min(max(best, lo), hi))


@dataclass(frozen=True)
class LowerBound:
    """An exact lower bound (scaled units) and the instance that attains it."""

    value: Fraction
    instance: str


@dataclass(frozen=True)
class _Instance:
    """An instance's constraint values v_ij (exact, (n, n), diagonal 1) and its metric, both
    divided by its start value (so that the start condition holds with equality)."""

    v: RatMatrix
    metric: Fraction

    def feasible(self) -> bool:
        return bool(np.all(self.v.num >= 0))


def _mixed(a: _Instance, b: _Instance) -> tuple[_Instance, Fraction] | None:
    """(1 - s) a + s b with the least s in [0, 1] making every v_ij >= 0; ``b`` feasible."""
    s = Fraction(0)
    for idx in zip(*np.nonzero(a.v.num < 0), strict=True):
        va, vb = a.v.entry(*idx), b.v.entry(*idx)
        if vb <= 0:
            return None
        s = max(s, -va / (vb - va))
    if s == 0:
        return a, s
    v = RatMatrix.combine([(1 - s, a.v), (s, b.v)])
    return _Instance(v, (1 - s) * a.metric + s * b.metric), s


def _primal_instance(pep: Pep, G: np.ndarray, phi: np.ndarray) -> _Instance | None:
    """The solver's primal made exactly positive semidefinite: vectors P realising the scaled
    basis (G = P^T P from its eigenvectors, negative eigenvalues dropped), mapped to the
    natural basis in floats and read exactly; function values as returned. Where
    x_0 - x* was left out (module docstring of :mod:`.problem`), it is put back as a vector z
    with <g_j, z> chosen to meet the conditions v_{*j} (least squares, checked exactly)."""
    evals, evecs = np.linalg.eigh(0.5 * (G + G.T))
    keep = evals > 0
    if not keep.any():
        return None
    scaled = np.sqrt(evals[keep])[:, None] * evecs[:, keep].T  # the scaled basis vectors
    natural = scipy.linalg.solve_triangular(pep.T.T, scaled.T, lower=True).T  # u = w T^-1
    P = RatMatrix.of(natural)
    Xr, Gr = P @ pep.X, P @ pep.Gr
    fvals = [0.0] + [float(v) * float(w) for v, w in zip(phi, pep.omega, strict=True)]
    f = RatMatrix.of(np.array(fvals)[:, None])
    x0 = None if pep.x0 is None else P @ pep.x0
    if pep.x0 is None:
        k2 = float(2 * (1 - pep.q))
        gf, xf = Gr.floats(), Xr.floats()
        target = np.array([fvals[j] + gf[:, j] @ gf[:, j] / k2 - gf[:, j] @ xf[:, j]
                           for j in range(1, pep.npoints)])
        z, *_ = np.linalg.lstsq(gf[:, 1:].T, target + 1e-6 * (1 + np.abs(target)), rcond=None)
        shift = np.zeros_like(xf)
        shift[:, 1:] = z[:, None]
        Xr = Xr + RatMatrix.of(shift)
    return _instance_values(pep, Xr, Gr, f, x0, P @ pep.out)


def lower_bound(pep: Pep, primals: list[tuple[np.ndarray, np.ndarray]]) -> LowerBound:
    """The best exactly feasible instance among the worst quadratic and the solver's primals
    (G, phi), each made feasible by mixing (module docstring). ``primals`` are ordered from
    the most accurate to the most strictly feasible; the last one is repaired with the
    quadratic, and the others with that repaired one or with the quadratic."""
    m = worst_quadratic(pep)
    quad = _quadratic_instance(pep, m)
    if not quad.feasible():
        raise AssertionError("the worst quadratic violates an interpolation condition")
    scale = pep.objective_scale
    best = LowerBound(scale * quad.metric, f"one-dimensional quadratic, curvature {float(m):.6g}")
    partners = [(quad, "the worst quadratic")]
    for k, (G, phi) in enumerate(reversed(primals)):
        inst = _primal_instance(pep, G, phi)
        if inst is None:
            continue
        for partner, label in list(partners):
            found = _mixed(inst, partner)
            if found is None:
                continue
            mix, s = found
            if scale * mix.metric > best.value:
                best = LowerBound(scale * mix.metric,
                                  f"the PEP's primal Gram matrix made exactly feasible (mixed "
                                  f"with {label}, weight {float(s):.3g})")
            if k == 0:
                partners.append((mix, "a strictly feasible primal"))
    return best
