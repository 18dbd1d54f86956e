"""The coefficient tables of Sec. 6: (16), (17), (18)/(21) and (20) as rows of :class:`Step`.

Each builder returns the table :class:`~tests.nets.multistep.Multistep` runs and the named models
of :mod:`optnet_nets.models` implement:

* :func:`heavy_ball_table`, eq. (16): x_{k+1} = T(x_k) + beta1 x_k + beta2 x_{k-1};
  ResNet is beta1 = 1, beta2 = 0 (Table 3) with ``act = ReLU``, HB-Net (Sec. 6.1) is
  beta1 = 1, beta2 = -1;
* :func:`nesterov_table`, eq. (17): x_{k+1} = T(beta1 x_k + beta2 x_{k-1}); with T a residual
  unit F(y) + y (:func:`nesterov_residual_table`) beta2 = 0 is again ResNet;
* :func:`dense_table`, eq. (18) and its practical form (21) (:func:`agd_beta`):
  z_{k+1} = sum_j alpha_{k+1}^j T(z_j) + sum_j beta_{k+1}^j z_j; DenseNet (19) is alpha = 1,
  beta = 0 (Table 3);
* :func:`admm_table`, eq. (20): two paths x' and x with shared merge sums; DMRNet is
  alpha = beta = 1/2 on the newest pair only
  (:func:`optnet_nets.models.admm.dmrnet_coefficient`, Table 3).

A coefficient is given as a :data:`Spec`: a fixed number, a :class:`~tests.nets.multistep.Learnable`
or a schedule, a callable of the step (and term) index that returns either, e.g.
``lambda k1, j: h[k1][j]`` with ``h = optnet_theory.nesterov_h(K)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from optnet_theory.errors import OptnetError
from tests.nets.multistep import Coefficient, Learnable, Step, step, term

__all__ = [
    "Spec",
    "admm_table",
    "agd_beta",
    "dense_table",
    "heavy_ball_table",
    "nesterov_residual_table",
    "nesterov_table",
]

#: what a table builder accepts per coefficient: a constant, or a schedule of the indices.
Spec = float | Learnable | Callable[..., Coefficient]


def _entry(spec: Spec, *index: int) -> Coefficient:
    """Resolve a constant-or-schedule spec at one table position."""
    value = spec(*index) if callable(spec) and not isinstance(spec, Learnable) else spec
    if isinstance(value, Learnable):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptnetError(
            f"coefficient at {index} is {value!r}; accepted: a real number, a Learnable, or a "
            "schedule returning one"
        ) from None
    if not math.isfinite(number):
        raise OptnetError(f"coefficient at {index} is {number}; accepted: a finite number")
    return number



def heavy_ball_table(n_steps: int, beta1: Spec = 1.0, beta2: Spec = -1.0) -> list[Step]:
    """Eq. (16): x_{k+1} = T_k(x_k) + beta1 x_k + beta2 x_{k-1}.

    Input states (x_{-1}, x_0) are states 0 and 1; step k writes x_{k+1} (state k + 2). A
    schedule is called as ``beta1(k)``. ResNet: ``beta2=0``; HB-Net (Sec. 6.1): the defaults.
    """
    return [
        step([term(1.0, {k + 1: 1.0})], {k + 1: _entry(beta1, k), k: _entry(beta2, k)}, k)
        for k in range(n_steps)
    ]


def nesterov_table(n_steps: int, beta1: Spec = 1.0, beta2: Spec = 0.0) -> list[Step]:
    """Eq. (17): x_{k+1} = T_k(beta1 x_k + beta2 x_{k-1}); inputs (x_{-1}, x_0) as in (16).

    Eq. (12) is beta1 = 1 + beta_k, beta2 = -beta_k with beta_k of (3).
    """
    return [
        step([term(1.0, {k + 1: _entry(beta1, k), k: _entry(beta2, k)})], {}, k)
        for k in range(n_steps)
    ]


def nesterov_residual_table(n_steps: int, beta1: Spec, beta2: Spec) -> list[Step]:
    """Eq. (17) with T the residual unit T(y) = F(y) + y, i.e. Nesterov's (3) in ResNet terms:

        y_k = beta1 x_k + beta2 x_{k-1},   x_{k+1} = F_k(y_k) + y_k

    (F plays -grad f, so F(y) + y is the gradient step of (3)). Each coefficient is resolved
    once per step and used in both places. beta1 = 1, beta2 = 0 is ResNet; (12) is
    beta1 = 1 + beta_k, beta2 = -beta_k.
    """
    rows = []
    for k in range(n_steps):
        y = {k + 1: _entry(beta1, k), k: _entry(beta2, k)}
        rows.append(step([term(1.0, y)], y, k))
    return rows


def dense_table(
    n_steps: int,
    alpha: Spec = 1.0,
    beta: Spec = 0.0,
    beta_states: Callable[[int], Sequence[int]] | None = None,
    joint: bool = True,
) -> list[Step]:
    """Eq. (18): z_{k+1} = sum_{j<=k} alpha(k+1, j) T_k(z_j) + sum_j beta(k+1, j) z_j.

    The input z_0 is state 0; step k writes z_{k+1}. ``beta_states(k)`` lists the j that take
    part in the second sum at step k (default all 0..k; channel counts must agree). DenseNet
    (19): alpha = 1, beta = 0. For (21) see :func:`agd_beta`. The steps are ``joint`` (T_k
    takes z_0..z_k at once, as :class:`~optnet_nets.models.layers.DenseLayer` does) unless
    ``joint=False``, which applies T_k to each z_j alone.
    """
    rows = []
    for k in range(n_steps):
        js = range(k + 1) if beta_states is None else beta_states(k)
        rows.append(
            step(
                [term(_entry(alpha, k + 1, j), {j: 1.0}) for j in range(k + 1)],
                {j: _entry(beta, k + 1, j) for j in js},
                k,
                joint,
            )
        )
    return rows


def agd_beta(beta: float, h: Sequence[Sequence[float]]) -> Callable[[int, int], float]:
    """The second sum of (21) as b_{k+1,j}: beta (z_k - sum_j h_{k+1,j} z_j).

    b_{k+1,k} = beta (1 - h_{k+1,k}) and b_{k+1,j} = -beta h_{k+1,j} for j < k, with h from
    (5) (``optnet_theory.nesterov_h``).
    """

    def b(k1: int, j: int) -> float:
        return beta * ((1.0 if j == k1 - 1 else 0.0) - float(h[k1][j]))

    return b


def admm_table(n_steps: int, alpha: Spec = 0.5, beta: Spec = 0.5) -> list[Step]:
    """Eq. (20), two paths with shared merge sums, begun at x'_0 = x_0 with sums from t = 0:

        x'_{k+1} = T'_k(x'_k) + sum_{t<=k} alpha(k+1, t) x'_t + sum_{t<=k} beta(k+1, t) x_t,
        x_{k+1}  = T_k(x_k)   + (the same two sums).

    States interleave: x'_t is state 2t, x_t is state 2t + 1; transform 2k is T'_k, 2k + 1 is
    T_k. A schedule is called as ``alpha(k+1, t)`` once per position, so a Learnable it
    returns is shared by both paths. DMRNet [36]: alpha = beta = 1/2 at t = k, 0 for t < k
    (:func:`~optnet_nets.models.admm.dmrnet_coefficient`).
    """
    rows = []
    for k in range(n_steps):
        sums: dict[int, Coefficient] = {}
        for t in range(k + 1):
            sums[2 * t] = _entry(alpha, k + 1, t)
            sums[2 * t + 1] = _entry(beta, k + 1, t)
        rows.append(step([term(1.0, {2 * k: 1.0})], sums, 2 * k))
        rows.append(step([term(1.0, {2 * k + 1: 1.0})], sums, 2 * k + 1))
    return rows

