"""The tied-weight networks (7), (11)-(14), generated from their methods, and templates (16)-(20).

Each network is its method (:mod:`optnet_theory.methods`) run through Lemma 1: a gradient step on
f of (8) is y - Phi(W y) in x-coordinates, so the method's linear system with that "gradient" is
the network (:meth:`~optnet_theory.methods.core.Method.network`). The functions here are thin,
named wrappers: the method entries are the one hand-written definition of each structure.
``phi`` is an elementwise callable (float64: ``energy.phi_fn``; mpmath:
``np.frompyfunc(energy.phi_mp, 1, 1)`` with object arrays W, x0, run inside
``mpmath.workdps``), ``W`` a square array, ``x0`` a vector; every function returns the list of
states [x_0, x_1, ..., x_K] (for (14) also the x' path). The first layer uses x_{-1} = x_0.

The templates of Sec. 6 take T (any map x -> T(x), e.g. ``layer_map(phi, W)``) and
coefficients that may vary with the layer: a scalar, or a sequence indexed by k whose entry k
is used for the layer that makes x_{k+1}.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods import get_method
from optnet_theory.methods.catalogue.paper import ADMM, AGD, AGD2, GD, HB, PAPER_METHODS
from optnet_theory.methods.core import Trajectory
from optnet_theory.paper_values import SIMULATION_HB_BETA
from optnet_theory.validation import check_int

__all__ = [
    "STRUCTURES",
    "admm_network",
    "agd2_network",
    "agd_network",
    "feedforward_network",
    "hb_network",
    "layer_map",
    "method_network",
    "network_forward",
    "template_16",
    "template_17",
    "template_18",
    "template_20",
]

Activation = Callable[[Any], Any]
Map = Callable[[np.ndarray], np.ndarray]
Coefficient = Any  # a scalar, or a sequence indexed by layer k

#: the paper's structures: method name -> the network equation it generates (from the entries).
STRUCTURES: dict[str, str] = {spec.name: spec.network for spec in PAPER_METHODS if spec.network}


def _depth(K: Any) -> int:
    return check_int(K, "depth", 0)


def _at(c: Coefficient, k: int) -> Any:
    """Coefficient of layer k: c itself if scalar, else c[k]."""
    if isinstance(c, (Sequence, np.ndarray)) and not isinstance(c, str):
        return c[k]
    return c


def layer_map(phi: Activation, W: np.ndarray) -> Map:
    """T(x) = Phi(W x), the operator of Sec. 6."""
    W = np.asarray(W)
    return lambda x: phi(W @ x)


def method_network(
    name: str, phi: Activation, W: Any, x0: Any, K: int, **params: Any
) -> Trajectory:
    """The network of the registered method ``name`` (L = 1, footnote 3), K layers.

    Object (mpmath) inputs run in mpmath at the current ``mpmath.mp.dps``; ``params`` go to
    :func:`~optnet_theory.methods.get_method` (``mu``, ``N``, ``beta``, ...).
    """
    K = _depth(K)
    mp = np.asarray(x0).dtype == object
    method = get_method(name, **params)
    return method.network(
        phi, W, x0, K, arithmetic="mp" if mp else "float", dps=mpmath.mp.dps if mp else None
    )


def _states(traj: Trajectory) -> list[np.ndarray]:
    return list(traj.outputs)


def feedforward_network(phi: Activation, W: np.ndarray, x0: np.ndarray, K: int) -> list[np.ndarray]:
    """Feedforward network (7) with tied weights, x_{k+1} = Phi(W x_k): method ``gd``."""
    return _states(method_network(GD.name, phi, W, x0, K))


def hb_network(
    phi: Activation, W: np.ndarray, x0: np.ndarray, K: int, beta: Any = SIMULATION_HB_BETA
) -> list[np.ndarray]:
    """Heavy-ball network (11), x_{k+1} = Phi(W x_k) + beta (x_k - x_{k-1}): method ``hb``."""
    return _states(method_network(HB.name, phi, W, x0, K, beta=beta, step=1.0))


def agd_network(
    phi: Activation, W: np.ndarray, x0: np.ndarray, K: int, momentum: str = "theta", **class_: Any
) -> list[np.ndarray]:
    """AGD network (12), x_{k+1} = Phi(W (x_k + beta_k (x_k - x_{k-1}))): method ``agd``.

    ``momentum="theta"`` (the schedule of (3)) or ``"constant"`` (footnote 4, with ``mu=``).
    """
    return _states(method_network(AGD.name, phi, W, x0, K, momentum=momentum, **class_))


def agd2_network(
    phi: Activation, W: np.ndarray, x0: np.ndarray, K: int, momentum: str = "theta", **class_: Any
) -> list[np.ndarray]:
    """AGD network in the summed form (13), h of (5): method ``agd2``.

    x_{k+1} = sum_{j=0}^k h_{k+1,j} Phi(W x_j) + x_k - sum_{j=0}^k h_{k+1,j} x_j.
    """
    return _states(method_network(AGD2.name, phi, W, x0, K, momentum=momentum, **class_))


def admm_network(
    phi: Activation, W: np.ndarray, x0: np.ndarray, K: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """ADMM network (14), two paths x' and x (x'_0 = x_0): method ``admm``.

    x'_{k+1} = (Phi(W x'_k) + x_k - sum_{t=1}^k (x'_t - x_t)) / 2,
    x_{k+1}  = (Phi(W x_k) + x'_{k+1} + sum_{t=1}^k (x'_t - x_t)) / 2.

    Returns (x' states, x states): slots z and y of (6) at the layer boundaries.
    """
    traj = method_network(ADMM.name, phi, W, x0, K)
    s = ADMM.substeps
    return list(traj.states[::s, 0]), list(traj.states[::s, 1])


def network_forward(
    structure: str, phi: Activation, W: np.ndarray, x0: np.ndarray, depth: int, **coefficients: Any
) -> list[np.ndarray]:
    """States x_0..x_depth of the tied-weight network of any registered method.

    ``coefficients`` are the method's parameters: ``beta`` for "hb" (default
    ``SIMULATION_HB_BETA``, step 1), ``momentum`` for "agd"/"agd2", ``mu``/``N`` where a
    method needs them. For "admm" the x path is returned (use :func:`admm_network` for both).
    """
    if structure == HB.name:
        coefficients = {"beta": SIMULATION_HB_BETA, "step": 1.0, **coefficients}
    try:
        return _states(method_network(structure, phi, W, x0, depth, **coefficients))
    except TypeError as exc:
        raise OptnetError(f"bad coefficients for {structure!r}: {exc}") from exc


def template_16(
    T: Map, x0: np.ndarray, K: int, beta1: Coefficient, beta2: Coefficient
) -> list[np.ndarray]:
    """Template (16): x_{k+1} = T(x_k) + beta1 x_k + beta2 x_{k-1}. (11): beta1 = -beta2 = beta."""
    x = [np.asarray(x0)]
    for k in range(_depth(K)):
        prev = x[k - 1] if k >= 1 else x[0]
        x.append(T(x[k]) + _at(beta1, k) * x[k] + _at(beta2, k) * prev)
    return x


def template_17(
    T: Map, x0: np.ndarray, K: int, beta1: Coefficient, beta2: Coefficient
) -> list[np.ndarray]:
    """Template (17): x_{k+1} = T(beta1 x_k + beta2 x_{k-1}).

    (12) is beta1 = 1 + beta_k, beta2 = -beta_k.
    """
    x = [np.asarray(x0)]
    for k in range(_depth(K)):
        prev = x[k - 1] if k >= 1 else x[0]
        x.append(T(_at(beta1, k) * x[k] + _at(beta2, k) * prev))
    return x


def template_18(
    T: Map,
    x0: np.ndarray,
    K: int,
    alpha: Sequence[Sequence[Any]],
    beta: Sequence[Sequence[Any]],
) -> list[np.ndarray]:
    """Template (18): x_{k+1} = sum_{j=0}^k alpha_{k+1}^j T(x_j) + sum_{j=0}^k beta_{k+1}^j x_j.

    ``alpha[k+1][j]`` = alpha_{k+1}^j (row 0 unused, like h). (13): alpha = h and
    beta_{k+1}^j = [j = k] - h_{k+1,j}. DenseNet (19): beta = 0.
    """
    x = [np.asarray(x0)]
    t: list[np.ndarray] = []
    for k in range(_depth(K)):
        t.append(T(x[k]))
        a, b = alpha[k + 1], beta[k + 1]
        nxt = a[0] * t[0] + b[0] * x[0]
        for j in range(1, k + 1):
            nxt = nxt + a[j] * t[j] + b[j] * x[j]
        x.append(nxt)
    return x


def template_20(
    T: Map,
    x0: np.ndarray,
    K: int,
    alpha: Sequence[Sequence[Any]],
    beta: Sequence[Sequence[Any]],
    x0_prime: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Template (20), two paths, with layer-dependent coefficients:

    x'_{k+1} = T(x'_k) + sum_{t=0}^k alpha[k+1][t] x'_t + sum_{t=0}^k beta[k+1][t] x_t,
    x_{k+1}  = T(x_k)  + sum_{t=0}^k alpha[k+1][t] x'_t + sum_{t=0}^k beta[k+1][t] x_t.

    The paper prints alpha_t, beta_t for t = 1..k (the same for every layer): that is
    alpha[k+1][t] = alpha_t for t >= 1 and alpha[k+1][0] = 0. DMRNet (Table 3) needs the
    layer-dependent form: alpha[k+1][k] = beta[k+1][k] = 1/2 and 0 elsewhere.
    Returns (x' states, x states); default x'_0 = x_0.
    """
    x = [np.asarray(x0)]
    xp = [x[0] if x0_prime is None else np.asarray(x0_prime)]
    for k in range(_depth(K)):
        a, b = alpha[k + 1], beta[k + 1]
        side = a[0] * xp[0] + b[0] * x[0]
        for t in range(1, k + 1):
            side = side + a[t] * xp[t] + b[t] * x[t]
        xp.append(T(xp[k]) + side)
        x.append(T(x[k]) + side)
    return xp, x
