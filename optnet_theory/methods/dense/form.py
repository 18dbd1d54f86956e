"""The dense form (18) of any method, computed by unrolling its linear recurrence.

Unrolling xi_{j+1} = A_j xi_j + B_j u_j from xi_0 = initial (x) x_0 writes every gradient point
as a combination of x_0 and of all earlier gradients,

    y_j = c_j x_0 - sum_{i<j} g_{j,i} u_i,                                       (gradient form)

and, with Lemma 1's u_i = y_i - T(y_i) substituted recursively, as a combination of x_0 and of
the transforms of all earlier points,

    y_j = a_j x_0 + sum_{i<j} alpha_{j,i} T(y_i),                                (transform form)

with a_j = c_j - sum_i g_{j,i} a_i and alpha_{j,i} = g_{j,i} - sum_{i<l<j} g_{j,l} alpha_{l,i}.
For a method that keeps every fixed point (c_j = 1) the increments h_{j+1,i} = g_{j+1,i} - g_{j,i}
are the coefficients of the summed form y_{j+1} = y_j - sum_i h_{j+1,i} u_i, which is (4):
for ``agd`` they are (5)'s h table, derived here from (3) rather than assumed. In T the same
step reads y_{j+1} = sum_i h_{j+1,i} T(y_i) + y_j - sum_i h_{j+1,i} y_i, i.e. (13), an instance
of (18) with alpha^i_{j+1} = h_{j+1,i} and beta^i_{j+1} = [i = j] - h_{j+1,i}.

Exact (SymPy), mpmath or float64, as the coefficients are. The float64 form costs O(J^2 m^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy

from optnet_theory.methods.core import Method

__all__ = ["DenseForm", "dense_form", "format_dense_form"]


@dataclass(frozen=True)
class DenseForm:
    """Coefficients of the unrolled method over J sub-steps (object arrays unless float).

    ``c[j]``, ``g[j, i]`` (gradient form), ``h[j, i]`` = g[j, i] - g[j-1, i] (row 0 zero),
    ``a[j]``, ``alpha[j, i]`` (transform form); ``output_c``, ``output_g``: the same for the
    output x_k at iteration boundaries.
    """

    c: np.ndarray
    g: np.ndarray
    h: np.ndarray
    a: np.ndarray
    alpha: np.ndarray
    output_c: np.ndarray
    output_g: np.ndarray


def dense_form(
    method: Method, iterations: int, *, arithmetic: str = "float", dps: int | None = None
) -> DenseForm:
    """The dense form of ``method`` over ``iterations`` iterations (J = s * iterations)."""
    steps = method.coefficients(iterations, arithmetic=arithmetic, dps=dps)
    if arithmetic == "mp":
        with mpmath.workdps(dps or 30):
            return _unroll(method, steps, object)
    return _unroll(method, steps, np.float64 if arithmetic == "float" else object)


def _unroll(method: Method, steps: list[Any], dtype: Any) -> DenseForm:
    m, J, s = method.spec.state_size, len(steps) - 1, method.spec.substeps
    exact = dtype is object and _is_sym(steps)
    zero = 0.0 if dtype is np.float64 else (sympy.Integer(0) if exact else mpmath.mpf(0))
    tidy = np.vectorize(_simplify, otypes=[object]) if exact else (lambda a: a)

    def arr(values: Any) -> np.ndarray:
        return np.array(values, dtype=dtype)

    # xi_j = e_j x_0 + P_j u, P_j: (m, J) coefficient of each earlier gradient
    e = arr([_conv(v, dtype, exact) for v in method.spec.initial])
    P = np.full((m, J), zero, dtype=dtype)
    c = np.full(J + 1, zero, dtype=dtype)
    g = np.full((J + 1, J), zero, dtype=dtype)
    out_c = np.full(J // s + 1, zero, dtype=dtype)
    out_g = np.full((J // s + 1, J), zero, dtype=dtype)
    for j in range(J + 1):
        st = steps[j]
        C, D = arr(st.C), arr(st.D)
        c[j] = _simplify(C @ e)
        g[j, :j] = tidy(-(C @ P[:, :j]))
        if j % s == 0:
            out_c[j // s] = _simplify(D @ e)
            out_g[j // s, :j] = tidy(-(D @ P[:, :j]))
        if j < J:
            A, B = arr(st.A), arr(st.B)
            e = tidy(A @ e)
            P[:, : j + 1] = tidy(A @ P[:, : j + 1])
            P[:, j] = P[:, j] + B
    h = np.full((J + 1, J), zero, dtype=dtype)
    h[1:] = tidy(g[1:] - g[:-1])
    a = np.full(J + 1, zero, dtype=dtype)
    alpha = np.full((J + 1, J), zero, dtype=dtype)
    for j in range(J + 1):
        # a_j = c_j - sum_l g_{j,l} a_l;  alpha_{j,i} = g_{j,i} - sum_{i<l<j} g_{j,l} alpha_{l,i}
        a[j] = _simplify(c[j] - g[j, :j] @ a[:j]) if j else c[0]
        if j:
            alpha[j, :j] = tidy(g[j, :j] - g[j, :j] @ alpha[:j, :j])
    return DenseForm(c, g, h, a, alpha, out_c, out_g)


def _is_sym(steps: list[Any]) -> bool:
    return any(isinstance(v, sympy.Basic) for v in steps[0].B)


def _conv(value: float, dtype: Any, exact: bool) -> Any:
    if dtype is np.float64:
        return float(value)
    return sympy.nsimplify(value) if exact else mpmath.mpf(value)


def _simplify(value: Any) -> Any:
    """Expand polynomials in symbols (so equal coefficients compare equal); numbers as they are.

    Nested radicals (agd's exact theta schedule) are left unexpanded: expanding them grows
    exponentially with the depth, and they are compared through symbolic schedules instead.
    """
    if isinstance(value, sympy.Basic) and value.free_symbols:
        return sympy.expand(value)
    return value


def format_dense_form(method: Method, iterations: int, digits: int = 4) -> str:
    """The transform form y_j = a_j x_0 + sum_i alpha_{j,i} T(y_i), one line per point."""
    form = dense_form(method, iterations)
    lines = [f"{method.name}: gradient points in x_0 and T(y_i) = Phi(W y_i)"]
    for j in range(len(form.a)):
        terms = [f"{form.a[j]:.{digits}g} x_0"] + [
            f"{form.alpha[j, i]:+.{digits}g} T(y_{i})"
            for i in range(j)
            if abs(form.alpha[j, i]) > 0
        ]
        lines.append(f"  y_{j} = " + " ".join(terms))
    return "\n".join(lines)
