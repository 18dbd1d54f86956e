"""Methods given by their dense form (18): x_{k+1} = x_k - sum_{j<=k} h_{k,j} grad f(x_j) / L.

This is the general N-step fixed-step method (Drori & Teboulle 2014), the space in which the
optimal methods live, and the paper's own (18) with AGD-Net's alpha as h (the summed form (4)
with L = 1). Every registered method has one at a horizon N (:func:`dense_h`); a designed
method (``optnet design``), a method file and a blend of two methods are given by one.

As a linear system (:mod:`optnet_theory.methods.core`) it runs on the state
xi = (x_k, u_0, ..., u_{N-1}): step k moves x_k by the stored gradients and stores u_k in its
slot. Row N-1 of h defines the output x_N (no gradient is taken there), so a method whose
output is not its next gradient point (ITEM's z_N) has a dense form too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.core import Method
from optnet_theory.methods.dense import dense_form
from optnet_theory.methods.spec import MethodSpec, Params, Step
from optnet_theory.validation import check_int

__all__ = ["MAX_HORIZON", "check_h", "dense_h", "history_spec"]

#: the largest horizon of a method given by h (N(N+1)/2 numbers; 820 at N = 40).
MAX_HORIZON = 1000


def check_h(h: Any, name: str) -> list[list[float]]:
    """``h`` as a lower-triangular list of rows (row k has k + 1 finite numbers), or an
    :class:`OptnetError` saying what is wrong."""
    if not isinstance(h, (list, tuple)) or not h:
        raise OptnetError(f"{name}: h must be a non-empty list of rows, got {type(h).__name__}")
    if len(h) > MAX_HORIZON:
        raise OptnetError(f"{name}: h has {len(h)} rows; at most {MAX_HORIZON} are accepted")
    rows: list[list[float]] = []
    for k, row in enumerate(h):
        if not isinstance(row, (list, tuple)) or len(row) != k + 1:
            raise OptnetError(
                f"{name}: row {k} of h must hold {k + 1} numbers (h is lower triangular: "
                f"x_(k+1) = x_k - sum_(j<=k) h[k][j] g_j / L), got {row!r:.80}"
            )
        values = []
        for v in row:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise OptnetError(f"{name}: h[{k}] holds {v!r}; finite numbers only")
            values.append(float(v))
        rows.append(values)
    return rows


def dense_h(method: Method, N: int) -> list[list[float]]:
    """The dense form of ``method`` over N gradient calls, in units of 1/L: row k < N - 1 gives
    y_{k+1} - y_k, row N - 1 the output x_N - y_{N-1}. Needs a method that keeps x* fixed."""
    N = check_int(N, "N", 1, MAX_HORIZON)
    s = method.spec.substeps
    if N % s:
        raise OptnetError(f"method {method.name!r} takes {s} gradient calls per iteration; "
                          f"N = {N} is not a multiple")
    form = dense_form(method, N // s)
    c = [float(v) for v in form.c[:N]] + [float(form.output_c[-1])]
    if max(abs(v - 1.0) for v in c) > 1e-9:
        raise OptnetError(f"method {method.name!r} does not keep x* fixed; it has no dense form "
                          f"x_(k+1) = x_k - sum h g")
    g = [[float(v) * method.L for v in form.g[k, :N]] for k in range(N)]
    g.append([float(v) * method.L for v in form.output_g[-1, :N]])
    return [[g[k + 1][j] - g[k][j] for j in range(k + 1)] for k in range(N)]


def _step(h: Sequence[Sequence[float]]) -> Any:
    N = len(h)

    def schedule(j: int, p: Params) -> Step:
        one, zero = p.ar.one(), p.ar.zero()
        m = N + 1
        C = tuple(one if i == 0 else zero for i in range(m))
        if j >= N:  # read-out only
            A = tuple(tuple(one if r == c else zero for c in range(m)) for r in range(m))
            return Step(A=A, B=(zero,) * m, C=C, D=C)
        row = [p.ar.num(v) / p.L for v in h[j]]
        A = tuple(
            tuple((one if c == 0 else -row[c - 1] if c - 1 < j else zero) if r == 0
                  else (one if r == c else zero) for c in range(m))
            for r in range(m)
        )
        B = tuple(-row[j] if r == 0 else one if r == j + 1 else zero for r in range(m))
        return Step(A=A, B=B, C=C, D=C)

    return schedule


def history_spec(
    name: str,
    h: Sequence[Sequence[float]],
    *,
    source: str,
    function_class: str = "smooth-convex",
    metric: str = "function-gap",
    default_mu: float = 0.0,
) -> MethodSpec:
    """The method with dense form ``h`` (rows in units of 1/L), horizon N = len(h)."""
    rows = check_h([list(r) for r in h], f"method {name!r}")
    N = len(rows)

    return MethodSpec(
        name=name,
        source=source,
        function_class=function_class,
        slots=("x_k",) + tuple(f"u_{i}" for i in range(N)),
        initial=(1.0,) + (0.0,) * N,
        schedule=_step(rows),
        output="x",
        metric=metric,
        guarantee="the certificate of `optnet certify` (no published bound)",
        equation="(18): x_{k+1} = x_k - sum_j h_{k,j} grad f(x_j)/L",
        network="(18)",
        horizon=N,
        default_mu=default_mu,
    )
