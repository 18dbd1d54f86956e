"""The worst case of a dense-form method and its gradient in h, by the envelope theorem.

For x_{k+1} = x_k - sum_{j<=k} h_{k,j} g_j / L (:mod:`optnet_theory.methods.dense.history`) every
point is y_k = x_0 - sum_j H_{k,j} g_j with H_{k,j} = sum_{m=j}^{k-1} h_{m,j}, so the PEP's data
depend on h through the positions only. At the optimum (G*, F*) with multipliers lambda*,

    d value / d h = d/dh [ objective + sum_ij lambda_ij v_ij ] at (G*, F*, lambda*),

(the envelope theorem), and with Delta p = p_i - p_j, Delta g = g_i - g_j,

    d v_ij = (-2(1-q) g_j - 2q Delta p + 2q Delta g)^T G d(Delta p),
    d ||p_N||^2 = 2 p_N^T G d p_N,    d p_k / d H_{k,l} = -g_l.

One SDP solve gives the value and its whole gradient (N(N+1)/2 numbers); the gradient is exact
where the optimum is unique, and a one-sided estimate otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optnet_theory.certify.problem import build_pep
from optnet_theory.certify.sdp import assemble, solve
from optnet_theory.errors import OptnetError
from optnet_theory.methods.dense.history import history_spec

__all__ = ["Evaluation", "flatten", "unflatten", "worst_case_and_gradient"]


def flatten(h: list[list[float]]) -> np.ndarray:
    return np.array([v for row in h for v in row], dtype=float)


def unflatten(x: np.ndarray, N: int) -> list[list[float]]:
    out, k = [], 0
    for row in range(N):
        out.append([float(v) for v in x[k:k + row + 1]])
        k += row + 1
    return out


@dataclass(frozen=True)
class Evaluation:
    value: float
    gradient: np.ndarray
    status: str


def worst_case_and_gradient(h: list[list[float]], *, function_class: str, metric: str,
                            initial: str, mu: float, tol: float = 1e-9) -> Evaluation:
    """The PEP value (normalised units: L = 1, initial radius or gap 1) of the dense-form
    method ``h`` and its gradient with respect to the flattened h (module docstring)."""
    N = len(h)
    spec = history_spec("design", h, source="optnet design", function_class=function_class,
                        metric=metric)
    pep = build_pep(spec.bind(L=1.0, mu=mu), N, metric, initial)
    data = assemble(pep)
    result = solve(data, 0.0, "clarabel", tol)
    if not result.solved:
        raise OptnetError(f"the PEP of the design could not be solved ({result.status})")
    scale = float(pep.objective_scale)
    value = result.tau / scale
    Tinv = np.linalg.inv(pep.T)
    G = Tinv.T @ result.G @ Tinv  # the Gram matrix of the natural basis (restricted)
    X, Gr = pep.X.floats(), pep.Gr.floats()
    q = float(pep.q)
    k2 = 2 * (1 - q)
    has_x0 = pep.x0 is not None
    n = pep.npoints
    # point p >= 1 is y_{p-1}; the output point (if any) reads out x_N
    row_of = {p: p - 1 for p in range(1, n)}
    if pep.out_point is not None:
        row_of[pep.out_point] = N
    dH = np.zeros((N + 1, N))

    def add(point: int, a: np.ndarray, sign: float) -> None:
        """d (sign * p_point) along H_{row, l} is -sign g_l: accumulate a . that."""
        row = row_of.get(point)
        if row is None or row == 0:
            return
        for l in range(row):
            index = l + 1 if has_x0 else l  # gradient of y_l in the (restricted) basis
            dH[row, l] += -sign * a[index]

    for (i, j), s, lam in zip(data.pairs, data.rowscale, result.lam, strict=True):
        if lam <= 0:
            continue
        w = lam * float(s) / scale
        dp, dg = X[:, i] - X[:, j], Gr[:, i] - Gr[:, j]
        a = G @ (-k2 * Gr[:, j] - 2 * q * dp + 2 * q * dg) * w
        add(i, a, 1.0)
        add(j, a, -1.0)
    if metric == "distance":
        out = pep.out.floats()[:, 0]
        a = 2 * (G @ out)
        for l in range(N):
            index = l + 1 if has_x0 else l
            dH[N, l] += -a[index]
    # h_{m,j} enters H_{k,j} for every k > m
    grad = np.zeros((N, N))
    for m in range(N):
        for j in range(m + 1):
            grad[m, j] = dH[m + 1:, j].sum()
    return Evaluation(value, np.array([grad[m, j] for m in range(N) for j in range(m + 1)]),
                      result.status)
