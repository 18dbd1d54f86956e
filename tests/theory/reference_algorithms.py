"""Hand-written algorithms (1)-(6) of Sec. 2, an independent reference for the tests.

The package generates every algorithm from its description (:mod:`optnet_theory.methods`);
these are the paper's update equations written out by hand, so that the generator is checked
against code that shares nothing with it.

Each function takes ``grad`` (z -> grad f(z)), a start point and a number of steps K, and
returns the whole history (K + 1 iterates, index k = iterate k). Step size and ADMM penalty are
1, as in the paper (footnotes 3 and 7). Iterates are NumPy arrays: float64, or object arrays of
``mpmath.mpf`` for high precision (run the call inside ``mpmath.workdps(d)`` and pass
coefficients computed at that precision, e.g. ``nesterov_beta(K, dps=d)``).

Conventions at the first step: z_{-1} = z_0 (no momentum at k = 0) in (2) and (3), y_0 = z_0
in (3), and lambda_0 = 0, y_0 = z_0 in (6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optnet_theory.coefficients import nesterov_beta, nesterov_h
from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

__all__ = [
    "ADMMHistory",
    "AGDHistory",
    "Oracle",
    "gradient_descent",
    "heavy_ball",
    "linearized_admm",
    "nesterov_agd",
    "nesterov_agd_summed",
]

#: A gradient oracle: z -> grad f(z), same shape and number type as z.
Oracle = Callable[[np.ndarray], np.ndarray]


def _steps(K: Any) -> int:
    return check_int(K, "the number of steps", 0)


def _coeffs(given: Sequence[Any] | None, K: int, dps: int | None, name: str) -> Sequence[Any]:
    beta = nesterov_beta(K, dps=dps) if given is None else given
    if len(beta) < K + 1:
        raise OptnetError(f"{name} needs at least K + 1 = {K + 1} entries, got {len(beta)}")
    return beta


def gradient_descent(grad: Oracle, z0: np.ndarray, K: int) -> list[np.ndarray]:
    """Gradient descent (1): z_{k+1} = z_k - grad f(z_k). Returns [z_0, ..., z_K]."""
    z = [np.asarray(z0)]
    for _ in range(_steps(K)):
        z.append(z[-1] - grad(z[-1]))
    return z


def heavy_ball(grad: Oracle, z0: np.ndarray, K: int, beta: Any) -> list[np.ndarray]:
    """Heavy ball (2): z_{k+1} = z_k - grad f(z_k) + beta (z_k - z_{k-1}), z_{-1} = z_0."""
    z = [np.asarray(z0)]
    prev = z[0]
    for _ in range(_steps(K)):
        cur = z[-1]
        z.append(cur - grad(cur) + beta * (cur - prev))
        prev = cur
    return z


@dataclass(frozen=True)
class AGDHistory:
    """Iterates of (3): ``z[k]`` = z_k and ``y[k]`` = y_k (y_K is formed too, for (4))."""

    z: list[np.ndarray]
    y: list[np.ndarray]


def nesterov_agd(
    grad: Oracle,
    z0: np.ndarray,
    K: int,
    beta: Sequence[Any] | None = None,
    dps: int | None = None,
) -> AGDHistory:
    """Nesterov's AGD (3): y_k = z_k + beta_k (z_k - z_{k-1}), z_{k+1} = y_k - grad f(y_k).

    ``beta[k]`` = beta_k (default: the theta schedule, :func:`nesterov_beta`, at ``dps``
    digits when given); z_{-1} = z_0, so y_0 = z_0. Returns z_0..z_K and y_0..y_K.
    """
    K = _steps(K)
    b = _coeffs(beta, K, dps, "beta")
    z = [np.asarray(z0)]
    y: list[np.ndarray] = []
    prev = z[0]
    for k in range(K + 1):
        cur = z[k]
        y.append(cur + b[k] * (cur - prev))
        if k < K:
            z.append(y[k] - grad(y[k]))
        prev = cur
    return AGDHistory(z=z, y=y)


def nesterov_agd_summed(
    grad: Oracle,
    y0: np.ndarray,
    K: int,
    h: Sequence[Sequence[Any]] | None = None,
    dps: int | None = None,
) -> list[np.ndarray]:
    """AGD in the summed form (4): y_{k+1} = y_k - sum_{j=0}^k h_{k+1,j} grad f(y_j).

    ``h[k][j]`` = h_{k,j} (default: (5) on the theta schedule, :func:`nesterov_h`, at ``dps``
    digits when given). Returns [y_0, ..., y_K].
    """
    K = _steps(K)
    hh = nesterov_h(K, dps=dps) if h is None else h
    if len(hh) < K + 1:
        raise OptnetError(f"h needs rows 0..K = {K}, got {len(hh)} rows")
    y = [np.asarray(y0)]
    g: list[np.ndarray] = []
    for k in range(K):
        g.append(grad(y[k]))
        row = hh[k + 1]
        step = row[0] * g[0]
        for j in range(1, k + 1):
            step = step + row[j] * g[j]
        y.append(y[k] - step)
    return y


@dataclass(frozen=True)
class ADMMHistory:
    """Iterates of (6): ``z[k]``, ``y[k]`` and the multiplier ``lam[k]``, k = 0..K."""

    z: list[np.ndarray]
    y: list[np.ndarray]
    lam: list[np.ndarray]


def linearized_admm(
    grad: Oracle,
    z0: np.ndarray,
    K: int,
    y0: np.ndarray | None = None,
    lam0: np.ndarray | None = None,
) -> ADMMHistory:
    """Linearized ADMM (6), penalty 1, for min f(z) + f(y) s.t. y - z = 0.

    Setting the gradients of the two quadratic models in (6) to zero gives the closed forms
        z_{k+1} = (z_k - grad f(z_k) + y_k - lambda_k) / 2,
        y_{k+1} = (y_k - grad f(y_k) + z_{k+1} + lambda_k) / 2,
        lambda_{k+1} = lambda_k + z_{k+1} - y_{k+1},
    which this runs; defaults y_0 = z_0 and lambda_0 = 0.
    """
    K = _steps(K)
    z = [np.asarray(z0)]
    y = [z[0] if y0 is None else np.asarray(y0)]
    lam = [z[0] * 0 if lam0 is None else np.asarray(lam0)]
    for k in range(K):
        z.append((z[k] - grad(z[k]) + y[k] - lam[k]) / 2)
        y.append((y[k] - grad(y[k]) + z[k + 1] + lam[k]) / 2)
        lam.append(lam[k] + (z[k + 1] - y[k + 1]))
    return ADMMHistory(z=z, y=y, lam=lam)
