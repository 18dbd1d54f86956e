"""The performance estimation problem (PEP) of a method, built directly from its description.

Normalised units. For f in the class of L-smooth mu-strongly convex functions and a start with
||x_0 - x*|| <= R, the function f~(x) = f(x* + R x) / (L R^2) is 1-smooth and q-strongly convex
with q = mu/L, and the method with step coefficients (A, B, C, D) on f is the method with
(A, L B, C, D) on f~ (u = grad f = L R grad f~). So every PEP is solved for L = 1, R = 1 (or an
initial gap of 1) and mapped back by the metric's exact law, :data:`SCALING`. mu/L is the only
shape parameter.

The problem (Drori & Teboulle 2014; Taylor, Hendrickx & Glineur 2017). Running the linear
system xi_{j+1} = A_j xi_j + L B_j u_j on symbolic vectors writes every point where a gradient
is taken as an exact combination of the *natural basis* (x_0 - x*, g_1, g_2, ...): x* = 0 and
point p's gradient is basis vector p. The unknowns are the Gram matrix G of a basis and the
function values; the constraints are the interpolation conditions of Taylor et al. (Thm 4)
between ordered pairs of points, with the factor 2(1 - q) cleared,

    v_ij = 2(1-q) (f_i - f_j - <g_j, x_i - x_j>)
           - ||g_i - g_j||^2 - q ||x_i - x_j||^2 + 2q <g_i - g_j, x_i - x_j>  >= 0,

the initial condition ||x_0 - x*||^2 <= 1 or f(x_0) - f* <= 1, and G >= 0. Its value is the
exact worst case. The method's float64 coefficients are read as the exact rationals they are,
except that every point's x_0-coefficient, 1 up to rounding for a method that keeps x* fixed
(checked to 1e-9 by :func:`~optnet_theory.certify.certificate.fixed_point_defect`), is taken
as exactly 1.

A start f(x_0) - f* <= 1 bounds nothing about x_0 - x* on the merely convex class (q = 0), and
x_0 - x* then enters only the conditions v_{*j}; the dual of such a PEP has lambda_{*j} = 0
(its matrix has a zero x_0-diagonal, so it must have a zero x_0-row). Those conditions and the
x_0 basis vector are left out; the lower bound puts x_0 - x* back
(:mod:`optnet_theory.certify.bounds`).

Conditioning. On the strongly convex class worst cases near 1e-13 are differences of O(1)
numbers in the natural basis. There the problem is posed in a *scaled basis*: after each
gradient g_p the next point the method reaches, z = beta g_p + (earlier terms), divided by beta
and by its size on the one-dimensional quadratics of the class (a power of two), so that
iterates shrinking like rho^k are basis vectors of size about 1 (iterates rescaled by their
expected rate). On the convex class only the gradients are rescaled. The change of basis is
triangular with powers of two on its diagonal, so it and its inverse are exact. Function
values, constraint rows and the objective are scaled by powers of two the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from optnet_theory.certify.exact import RatMatrix, to_fraction
from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method

__all__ = ["BASES", "INITIAL_CONDITIONS", "SCALING", "Pep", "build_pep", "quadratic_values",
           "scale_factor"]

#: initial conditions -> their text.
INITIAL_CONDITIONS: dict[str, str] = {
    "distance": "||x_0 - x*||^2 <= 1",
    "function-gap": "f(x_0) - f* <= 1",
}

#: (metric, initial) -> the exact scaling law of the worst case in (L, R^2 or Delta).
SCALING: dict[tuple[str, str], str] = {
    ("function-gap", "distance"): "L R^2",
    ("distance", "distance"): "R^2",
    ("gradient-norm", "distance"): "L^2 R^2",
    ("function-gap", "function-gap"): "Delta",
    ("distance", "function-gap"): "Delta / L",
    ("gradient-norm", "function-gap"): "L Delta",
}

#: curvatures of the one-dimensional quadratics that set the scales.
_GRID = 257
#: largest |c - 1| of a point's x_0-coefficient taken as exactly 1.
_SNAP = 1e-9


def scale_factor(metric: str, initial: str, L: float, size: float = 1.0) -> float:
    """The factor of :data:`SCALING` for (L, R^2 = size) or (L, Delta = size)."""
    law = SCALING[(metric, initial)]
    return {"L R^2": L * size, "R^2": size, "L^2 R^2": L * L * size, "Delta": size,
            "Delta / L": size / L, "L Delta": L * size}[law]


@dataclass
class Pep:
    """The PEP of one method, metric and initial condition, in normalised units.

    Points: 0 is x*, 1..n-1 the points where gradients are taken. ``X``, ``Gr``: exact natural
    coordinates (restricted to the basis in use) of their positions and gradients, one column
    per point; ``Xs``, ``Grs``: the same in the scaled basis, in floats, for the solver.
    ``T``: scaled basis vectors in natural coordinates (floats; natural = T scaled). ``pairs``:
    the ordered pairs (i, j) whose condition v_ij >= 0 is imposed. ``omega``: function-value
    scales (f_p = omega_{p-1} phi_{p-1}). ``x0``, ``out`` (exact, natural) and ``x0s``,
    ``outs`` (floats, scaled): x_0 - x* (None when it is left out) and the output x_N;
    ``out_point``, ``x0_point``: their point indices where the metric or the start reads f or
    grad f there. ``natural_x``, ``natural_out``: positions in the full natural basis
    (x_0 - x*, g_1, ..). ``objective_scale``: the scaled problem's objective is this times the
    metric. ``pair_size[i, j]``: the size of v_ij's terms on the quadratics.
    """

    q: Fraction
    metric: str
    initial: str
    X: RatMatrix
    Gr: RatMatrix
    Xs: np.ndarray
    Grs: np.ndarray
    T: np.ndarray
    pairs: list[tuple[int, int]]
    omega: list[Fraction]
    x0: RatMatrix | None
    out: RatMatrix
    x0s: np.ndarray | None
    outs: np.ndarray
    out_point: int | None
    x0_point: int | None
    natural_x: np.ndarray
    natural_out: np.ndarray
    objective_scale: Fraction
    pair_size: np.ndarray

    @property
    def dim(self) -> int:
        return self.X.shape[0]

    @property
    def npoints(self) -> int:
        return self.X.shape[1]

    @property
    def nf(self) -> int:
        return len(self.omega)


def _pow2(size: float) -> Fraction:
    """The power of two nearest ``1/size`` (1 for a zero or non-finite size)."""
    if not (size > 0 and math.isfinite(size)):
        return Fraction(1)
    e = max(-1000, min(1000, -round(math.log2(size))))
    return Fraction(2) ** e


def quadratic_values(positions: np.ndarray, m: float) -> np.ndarray:
    """Natural-basis values on f = m x^2/2 in one dimension from x_0 = 1: entry 0 is
    x_0 - x* = 1, entry p >= 1 the gradient m x_p at point p (row p of ``positions``, whose
    entries past p - 1 are zero)."""
    n = positions.shape[0]
    u = np.zeros(n)
    u[0] = 1.0
    for p in range(1, n):
        u[p] = m * float(positions[p, :p] @ u[:p])
    return u


def _combine(coeffs: tuple, vectors: list[list[Fraction]]) -> list[Fraction]:
    out = [Fraction(0)] * len(vectors[0])
    for c, v in zip(coeffs, vectors, strict=True):
        cf = to_fraction(c)
        if cf:
            for k, x in enumerate(v):
                if x:
                    out[k] += cf * x
    return out


def _points(method: Method, steps: int, metric: str, initial: str) -> tuple[
        list[list[Fraction]], list[Fraction], int | None, int | None]:
    """Natural positions of the distinct gradient points (index 0: x*), the output, and the
    point indices of the output and of x_0 where the metric or the start needs them."""
    coefficients = method.coefficients(steps)
    size = len(coefficients) + 2
    L = to_fraction(method.L)
    positions: list[list[Fraction]] = [[Fraction(0)] * size]

    def snapped(v: list[Fraction]) -> list[Fraction]:
        if abs(float(v[0]) - 1.0) <= _SNAP:
            v = [Fraction(1)] + v[1:]
        return v

    def point(v: list[Fraction]) -> int:
        v = snapped(v)
        for i, p in enumerate(positions):
            if p == v:
                return i
        positions.append(v)
        return len(positions) - 1

    e0 = [Fraction(1)] + [Fraction(0)] * (size - 1)
    xi = [[to_fraction(c) * x for x in e0] for c in method.spec.initial]
    for st in coefficients[:-1]:
        p = point(_combine(st.C, xi))
        new = []
        for row, coef in zip(st.A, st.B, strict=True):
            v = _combine(row, xi)
            lb = L * to_fraction(coef)
            if lb and p:
                v[p] += lb
            new.append(v)
        xi = new
    out = snapped(_combine(coefficients[-1].D, xi))
    out_point = point(out) if metric != "distance" else None
    x0_point = point(e0) if initial == "function-gap" else None
    return positions, out, out_point, x0_point


#: choices of the scaled basis: "auto" is "positional" on the strongly convex class and
#: "diagonal" (gradients rescaled only) on the convex one.
BASES: tuple[str, ...] = ("auto", "positional", "diagonal")


def build_pep(method: Method, steps: int, metric: str, initial: str,
              basis_choice: str = "auto") -> Pep:
    """The scaled PEP of ``method`` after ``steps`` iterations (module docstring)."""
    if basis_choice not in BASES:
        raise OptnetError(f"unknown basis {basis_choice!r}; choose from {', '.join(BASES)}")
    q = to_fraction(method.mu) / to_fraction(method.L)
    if q >= 1:
        raise OptnetError(
            f"mu = L = {method.L:g} leaves one function up to translation, the quadratic "
            f"(L/2)||x - x*||^2 + f*: there is nothing to certify; use mu < L"
        )
    has_x0 = not (initial == "function-gap" and q == 0)
    if not has_x0 and metric == "distance":
        raise OptnetError(
            "the distance ||x_N - x*||^2 from a start f(x_0) - f* <= 1 has no finite worst "
            "case on L-smooth convex functions (mu = 0): a flat function puts x* arbitrarily "
            "far; use --initial distance or mu > 0"
        )
    positions, out, out_point, x0_point = _points(method, steps, metric, initial)
    n = len(positions)
    # the dense form (18) in float64: every point's coefficients rounded once
    fx = np.array([[float(c) for c in p[:n]] for p in positions])
    fout = np.array([float(c) for c in out[:n]])
    basis = list(range(n)) if has_x0 else list(range(1, n))
    lo = float(q)
    grid = lo + (1.0 - lo) * (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, _GRID)))
    U = np.array([quadratic_values(fx, m) for m in grid])  # (grid, n)
    positional = q > 0 if basis_choice == "auto" else basis_choice == "positional"
    T, Tinv = _basis_change(fx, fout, basis, U, positional=positional)
    grad = np.eye(n)
    grad[0, 0] = 0.0  # x* is stationary; point p >= 1 has gradient e_p
    e0 = np.zeros(n)
    e0[0] = 1.0

    Tr = RatMatrix.of(Tinv)

    def scaled(natural: np.ndarray) -> np.ndarray:
        return (Tr @ RatMatrix.of(natural[basis])).floats()

    xpos = fx @ U.T  # (points, grid)
    grads = grid[None, :] * xpos
    fvals = 0.5 * grid[None, :] * xpos**2
    omega = [1 / _pow2(float(np.max(fvals[p]))) for p in range(1, n)]
    out_vals = fout @ U.T
    env = {"distance": out_vals**2, "function-gap": 0.5 * grid * out_vals**2,
           "gradient-norm": (grid * out_vals) ** 2}[metric]
    return Pep(
        q=q, metric=metric, initial=initial,
        X=RatMatrix.of(fx[:, basis].T), Gr=RatMatrix.of(grad[:, basis].T),
        Xs=scaled(fx.T), Grs=scaled(grad.T), T=T,
        pairs=[(i, j) for i in range(n) for j in range(n) if i != j and (has_x0 or i != 0)],
        omega=omega,
        x0=RatMatrix.of(e0[basis][:, None]) if has_x0 else None,
        out=RatMatrix.of(fout[basis][:, None]),
        x0s=scaled(e0[:, None]) if has_x0 else None, outs=scaled(fout[:, None]),
        out_point=out_point, x0_point=x0_point, natural_x=fx, natural_out=fout,
        objective_scale=_pow2(float(np.max(env))),
        pair_size=_pair_size(xpos, grads, fvals, lo),
    )


def _pair_size(xpos: np.ndarray, grads: np.ndarray, fvals: np.ndarray, q: float) -> np.ndarray:
    """max over the quadratics of the absolute terms of v_ij, for every pair."""
    k2 = 2 * (1 - q)
    dx = xpos[:, None, :] - xpos[None, :, :]
    dg = grads[:, None, :] - grads[None, :, :]
    terms = (k2 * np.abs(fvals[:, None, :] - fvals[None, :, :])
             + k2 * np.abs(grads[None, :, :] * dx) + dg**2 + q * dx**2 + 2 * q * np.abs(dg * dx))
    return terms.max(axis=2)


def _basis_change(fx: np.ndarray, fout: np.ndarray, basis: list[int], U: np.ndarray,
                  positional: bool) -> tuple[np.ndarray, np.ndarray]:
    """T (floats) and its exact inverse (Fractions): column k of T is scaled basis vector k in
    natural coordinates (restricted to ``basis``; upper triangular, powers of two on the
    diagonal), so a point with natural coordinates c has scaled coordinates T^-1 c."""
    d = len(basis)
    T = np.zeros((d, d))
    candidates = [fx[p, basis] for p in range(1, fx.shape[0])] + [fout[basis]]
    Ub = U[:, basis]
    for k in range(d):
        col = np.zeros(d)
        col[k] = 1.0
        if positional and basis[k] != 0:
            for z in candidates:
                if z[k] != 0 and not np.any(z[k + 1:]):
                    col = z / z[k]
                    col[k] = 1.0
                    break
        T[:, k] = col * float(_pow2(float(np.max(np.abs(Ub @ col)))))
    return T, _upper_inverse(np.array([[Fraction(v) for v in row] for row in T], dtype=object))


def _upper_inverse(T: np.ndarray) -> np.ndarray:
    """Exact inverse of an upper-triangular matrix of Fractions."""
    d = T.shape[0]
    inv = np.zeros((d, d), dtype=object)
    inv[:] = Fraction(0)
    for j in range(d):
        inv[j, j] = 1 / T[j, j]
        for i in range(j - 1, -1, -1):
            acc = sum((T[i, k] * inv[k, j] for k in range(i + 1, j + 1) if T[i, k]),
                      Fraction(0))
            inv[i, j] = -acc / T[i, i]
    return inv
