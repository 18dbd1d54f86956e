"""Hand-written (7), (11)-(14), from the paper's printed equations: an independent reference.

The package generates these networks from the method descriptions
(:mod:`optnet_theory.methods`); this module, which only the tests use, writes each one out as
the paper prints it, so that the generator is checked against code that shares nothing with it.
The first layer uses x_{-1} = x_0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from optnet_theory.coefficients import nesterov_beta, nesterov_h
from optnet_theory.paper_values import SIMULATION_HB_BETA
from optnet_theory.validation import check_int

Activation = Callable[[Any], Any]
Map = Callable[[np.ndarray], np.ndarray]


def _depth(K: Any) -> int:
    return check_int(K, "depth", 0)


def layer_map(phi: Activation, W: np.ndarray) -> Map:
    """T(x) = Phi(W x), the operator of Sec. 6."""
    W = np.asarray(W)
    return lambda x: phi(W @ x)


def feedforward_network(phi: Activation, W: np.ndarray, x0: np.ndarray, K: int) -> list[np.ndarray]:
    """Feedforward network (7) with tied weights: x_{k+1} = Phi(W x_k)."""
    T = layer_map(phi, W)
    x = [np.asarray(x0)]
    for _ in range(_depth(K)):
        x.append(T(x[-1]))
    return x


def hb_network(
    phi: Activation, W: np.ndarray, x0: np.ndarray, K: int, beta: Any = SIMULATION_HB_BETA
) -> list[np.ndarray]:
    """Heavy-ball network (11): x_{k+1} = Phi(W x_k) + beta (x_k - x_{k-1})."""
    T = layer_map(phi, W)
    x = [np.asarray(x0)]
    for k in range(_depth(K)):
        prev = x[k - 1] if k >= 1 else x[0]
        x.append(T(x[k]) + beta * (x[k] - prev))
    return x


def agd_network(
    phi: Activation,
    W: np.ndarray,
    x0: np.ndarray,
    K: int,
    beta: Sequence[Any] | None = None,
    dps: int | None = None,
) -> list[np.ndarray]:
    """AGD network (12): x_{k+1} = Phi(W (x_k + beta_k (x_k - x_{k-1}))).

    ``beta[k]`` = beta_k, default the theta schedule of (3) (at ``dps`` digits when given).
    """
    K = _depth(K)
    b = nesterov_beta(K, dps=dps) if beta is None else beta
    T = layer_map(phi, W)
    x = [np.asarray(x0)]
    for k in range(K):
        prev = x[k - 1] if k >= 1 else x[0]
        x.append(T(x[k] + b[k] * (x[k] - prev)))
    return x


def agd2_network(
    phi: Activation,
    W: np.ndarray,
    x0: np.ndarray,
    K: int,
    h: Sequence[Sequence[Any]] | None = None,
    dps: int | None = None,
) -> list[np.ndarray]:
    """AGD network in the summed form (13):

    x_{k+1} = sum_{j=0}^k h_{k+1,j} Phi(W x_j) + x_k - sum_{j=0}^k h_{k+1,j} x_j,

    ``h[k][j]`` = h_{k,j}, default (5) on the theta schedule (at ``dps`` digits when given).
    """
    K = _depth(K)
    hh = nesterov_h(K, dps=dps) if h is None else h
    T = layer_map(phi, W)
    x = [np.asarray(x0)]
    t: list[np.ndarray] = []
    for k in range(K):
        t.append(T(x[k]))
        row = hh[k + 1]
        nxt = x[k]
        for j in range(k + 1):
            nxt = nxt + row[j] * t[j] - row[j] * x[j]
        x.append(nxt)
    return x


def admm_network(
    phi: Activation,
    W: np.ndarray,
    x0: np.ndarray,
    K: int,
    x0_prime: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """ADMM network (14), two paths x' and x (default x'_0 = x_0):

    x'_{k+1} = (Phi(W x'_k) + x_k - sum_{t=1}^k (x'_t - x_t)) / 2,
    x_{k+1}  = (Phi(W x_k) + x'_{k+1} + sum_{t=1}^k (x'_t - x_t)) / 2.

    Returns (x' states, x states).
    """
    T = layer_map(phi, W)
    x = [np.asarray(x0)]
    xp = [x[0] if x0_prime is None else np.asarray(x0_prime)]
    acc = x[0] * 0  # sum_{t=1}^k (x'_t - x_t)
    for k in range(_depth(K)):
        xp.append((T(xp[k]) + x[k] - acc) / 2)
        x.append((T(x[k]) + xp[k + 1] + acc) / 2)
        acc = acc + (xp[k + 1] - x[k + 1])
    return xp, x


