"""The dual of a :class:`~optnet_theory.certify.problem.Pep`, assembled and solved directly.

The PEP maximises c.phi + <C, G> subject to v_ij(phi, G) >= 0 for every ordered pair of points,
init(phi, G) <= 1 and G >= 0. Its Lagrange dual is

    minimise tau   over tau >= 0, lambda_ij >= 0,
    subject to     c + sum lambda_ij a_ij - tau a_init = 0          (function-value rows)
                   S = tau A_init - C - sum lambda_ij Q_ij >= eps I  (the dual matrix),

whose value tau bounds the worst case from above for every feasible (tau, lambda): that is
the certificate. ``eps`` > 0 asks for a strictly positive definite S, so that S stays positive
definite when the multipliers are rounded and the equalities repaired exactly; it costs at
most eps tr(G*) of the bound, which the checked upper bound includes (it is not subtracted).

Solvers: Clarabel (interior point, the default) and SCS, called with the sparse data directly
(no modelling layer). Clarabel's dual variables give the primal (phi, G) for the lower bound.
Vectorisation: the upper triangle column by column, off-diagonal entries times sqrt 2
(Clarabel's convention for the PSD cone; SCS reads the lower triangle column by column, so its
rows are permuted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from optnet_theory.certify.problem import Pep

__all__ = ["SOLVERS", "DualData", "SolverResult", "assemble", "smat", "solve", "svec_index",
           "violations"]

#: a row scaled by the size of its terms on quadratics keeps coefficients below this.
ROW_GROWTH = 64.0
#: solvers tried in order.
SOLVERS: tuple[str, ...] = ("clarabel", "scs")
#: a solve that stopped short of its tolerance ("AlmostSolved") is used when its residuals and
#: relative gap are below this: it is then solved to this tolerance, and its numbers are only
#: the input of the exact checks, which decide.
ACCEPTED_ACCURACY = 1e-6


def svec_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each entry of the vectorised upper triangle (column-major)."""
    rows, cols = np.triu_indices(n)
    order = np.lexsort((rows, cols))
    return rows[order], cols[order]


def svec(M: np.ndarray) -> np.ndarray:
    r, c = svec_index(M.shape[0])
    w = np.where(r == c, 1.0, math.sqrt(2.0))
    return M[r, c] * w


def smat(v: np.ndarray, n: int) -> np.ndarray:
    r, c = svec_index(n)
    w = np.where(r == c, 1.0, 1.0 / math.sqrt(2.0))
    M = np.zeros((n, n))
    M[r, c] = v * w
    M[c, r] = v * w
    return M


@dataclass
class DualData:
    """Float data of the dual, with the exact row scales used to build it.

    ``pairs[k] = (i, j)``: constraint k is v_ij scaled by ``rowscale[k]`` (a power of two).
    ``a``: (nf, M) function-value coefficients; ``Q``: (svec length, M) matrix parts;
    ``a_init``, ``A_init``, ``c``, ``C``: the initial condition's and the objective's.
    """

    pairs: list[tuple[int, int]]
    rowscale: list[Fraction]
    a: np.ndarray
    Q: sp.csc_matrix
    a_init: np.ndarray
    A_init: np.ndarray
    c: np.ndarray
    C: np.ndarray


@dataclass
class SolverResult:
    """What one solve returned: its status, the multipliers and the primal (phi, G)."""

    solver: str
    status: str
    solved: bool
    tau: float
    lam: np.ndarray
    phi: np.ndarray
    G: np.ndarray


def _outer_sym(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (np.outer(a, b) + np.outer(b, a))


def assemble(pep: Pep) -> DualData:
    """The dual's data in floats, each row v_ij scaled by a power of two near the inverse of
    the size of its terms (:attr:`Pep.pair_size`, or its largest coefficient)."""
    X, Gr = pep.Xs, pep.Grs
    q, k2 = float(pep.q), float(2 * (1 - pep.q))
    d, nf = pep.dim, pep.nf
    omega = [float(w) for w in pep.omega]
    r, c = svec_index(d)
    wsv = np.where(r == c, 1.0, math.sqrt(2.0))
    pairs, scales, acols, qcols = [], [], [], []
    for i, j in pep.pairs:
        dx, dg = X[:, i] - X[:, j], Gr[:, i] - Gr[:, j]
        Q = (-k2 * _outer_sym(Gr[:, j], dx) - np.outer(dg, dg) - q * np.outer(dx, dx)
             + 2 * q * _outer_sym(dg, dx))
        a = np.zeros(nf)
        if i:
            a[i - 1] += k2 * omega[i - 1]
        if j:
            a[j - 1] -= k2 * omega[j - 1]
        qv = Q[r, c] * wsv
        size = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(qv))))
        if size == 0.0:
            continue  # nothing to constrain
        if pep.pair_size[i, j] > 0:  # never let a row's coefficients grow past ROW_GROWTH
            size = max(float(pep.pair_size[i, j]), size / ROW_GROWTH)
        s = Fraction(2) ** (-round(math.log2(size)))
        pairs.append((i, j))
        scales.append(s)
        acols.append(a * float(s))
        qcols.append(qv * float(s))
    a_init, A_init = np.zeros(nf), np.zeros((d, d))
    c, C = np.zeros(nf), np.zeros((d, d))
    if pep.initial == "distance":
        assert pep.x0s is not None
        x0 = pep.x0s[:, 0]
        A_init = np.outer(x0, x0)
    else:
        assert pep.x0_point is not None
        a_init[pep.x0_point - 1] = omega[pep.x0_point - 1]
    scale = float(pep.objective_scale)
    if pep.metric == "distance":
        o = pep.outs[:, 0]
        C = scale * np.outer(o, o)
    elif pep.metric == "function-gap":
        assert pep.out_point is not None
        c[pep.out_point - 1] = scale * omega[pep.out_point - 1]
    else:
        assert pep.out_point is not None
        g = Gr[:, pep.out_point]
        C = scale * np.outer(g, g)
    return DualData(pairs, scales, np.array(acols).T.reshape(nf, len(pairs)),
                    sp.csc_matrix(np.array(qcols).T), a_init, A_init, c, C)


def solve(data: DualData, eps: float, solver: str, tol: float,
          rows: np.ndarray | None = None) -> SolverResult:
    """Solve the PEP with margins ``eps`` by ``solver`` to tolerance ``tol``; read the
    certificate (tau, lambda) from its dual variables.

    The solver is given the PEP itself (interior-point methods reach their tolerances on it
    far more often than on its dual; the dual variables are the same numbers), with two
    margins: the objective c.phi + <C + eps I, G>, whose dual asks S >= eps I (module
    docstring), and every v_ij >= eps, which keeps the primal (phi, G) that the lower bound
    reads strictly inside the interpolation conditions by more than the solver's tolerance.
    Any feasible (tau, lambda) bounds the worst case whatever the objective was, so tau stays a
    certificate. ``rows``: the indices of the conditions imposed (all by default; lambda is 0
    for the others, so the bound holds for the whole problem).
    """
    d = data.C.shape[0]
    rows = np.arange(len(data.pairs)) if rows is None else rows
    M = len(rows)
    nf = data.a.shape[0]
    nv = d * (d + 1) // 2
    cost = -np.concatenate([data.c, svec(data.C + eps * np.eye(d))])
    A = sp.vstack([
        -sp.hstack([sp.csc_matrix(data.a[:, rows].T), data.Q[:, rows].T]),  # v_k >= eps
        sp.csc_matrix(np.concatenate([data.a_init, svec(data.A_init)])[None, :]),  # init <= 1
        sp.hstack([sp.csc_matrix((nv, nf)), -sp.identity(nv)]),  # G >= 0
    ]).tocsc()
    b = np.concatenate([np.full(M, -eps), [1.0], np.zeros(nv)])
    if solver == "clarabel":
        x, z, status, solved = _clarabel(A, b, cost, M, d, tol)
    elif solver == "scs":
        x, z, status, solved = _scs(A, b, cost, M, d, tol)
    else:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
    lam = np.zeros(len(data.pairs))
    lam[rows] = z[:M]
    return SolverResult(solver, status, solved, float(z[M]), lam, x[:nf], smat(x[nf:], d))


def violations(data: DualData, result: SolverResult) -> np.ndarray:
    """v_k at the solver's primal (scaled rows), for every condition k."""
    return data.a.T @ result.phi + data.Q.T @ svec(result.G)


def _clarabel(A: sp.csc_matrix, b: np.ndarray, cost: np.ndarray, M: int, d: int,
              tol: float) -> tuple[np.ndarray, np.ndarray, str, bool]:
    import clarabel

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.max_iter = 400
    settings.tol_gap_abs = settings.tol_gap_rel = tol
    settings.tol_feas = settings.tol_ktratio = tol
    settings.direct_solve_method = "faer"  # supernodal: about 2x qdldl on these KKT systems
    cones = [clarabel.NonnegativeConeT(M + 1), clarabel.PSDTriangleConeT(d)]
    n = A.shape[1]
    sol = clarabel.DefaultSolver(sp.csc_matrix((n, n)), cost, A, b, cones, settings).solve()
    status = str(sol.status)
    if status == "AlmostSolved":  # stopped at its reduced tolerances: say how close it got
        gap = abs(sol.obj_val - sol.obj_val_dual) / max(1.0, abs(sol.obj_val))
        accuracy = max(sol.r_prim, sol.r_dual, gap)
        if accuracy <= ACCEPTED_ACCURACY:
            return (np.array(sol.x), np.array(sol.z),
                    f"AlmostSolved (residuals {accuracy:.1e} <= {ACCEPTED_ACCURACY:g})", True)
    return np.array(sol.x), np.array(sol.z), status, status == "Solved"


def _scs(A: sp.csc_matrix, b: np.ndarray, cost: np.ndarray, M: int, d: int,
         tol: float) -> tuple[np.ndarray, np.ndarray, str, bool]:
    import scs

    r, c = svec_index(d)
    lower = {(int(j), int(i)): k for k, (i, j) in enumerate(zip(r, c, strict=True))}
    perm = np.array([lower[(i, j)] for j in range(d) for i in range(j, d)])  # SCS's order
    head = M + 1
    rows = np.concatenate([np.arange(head), head + perm])
    cone = {"l": M + 1, "s": [d]}
    solver = scs.SCS({"A": A[rows], "b": b[rows], "c": cost}, cone, verbose=False,
                     eps_abs=tol, eps_rel=tol, max_iters=20_000)
    sol = solver.solve()
    y = np.array(sol["y"])
    z = np.empty_like(y)
    z[rows] = y
    status = str(sol["info"]["status"])
    return np.array(sol["x"]), z, status, status == "solved"
