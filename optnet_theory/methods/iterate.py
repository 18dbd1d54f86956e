"""Running the system of :mod:`optnet_theory.methods.core` on given coefficient steps.

    xi_{j+1} = A_j xi_j + B_j u_j,   y_j = C_j xi_j,   x = D_j xi_j,

with u_j the gradient at y_j (an oracle), or, for the network a method generates by Lemma 1,
u_j = y_j - T(y_j) applied as xi_{j+1} = (A + B C^T) xi - B T(y), which avoids forming
y - T(y) and cancelling it. Steps are read one at a time, so a streamed run holds one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods.spec import Feedback, Step
from optnet_theory.methods.values import start_vector, update_vector

__all__ = ["Trajectory", "iterate", "layer_matrices", "stream"]


@dataclass(frozen=True)
class Trajectory:
    """Everything one run produced, indexed by sub-step j = 0..J (J = s * iterations).

    ``states[j]`` = xi_j (m, n); ``points[j]`` = y_j (where the gradient was taken, j < J, and
    the read-out point at J); ``outputs[k]`` = x_k after k iterations (k = 0..iterations).
    """

    states: np.ndarray
    points: np.ndarray
    outputs: np.ndarray


def stream(
    initial: Sequence[Any],
    steps: Iterable[Step],
    last: int,
    oracle: Feedback | None,
    transform: Feedback | None,
    x0: Any,
    dtype: Any,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(xi_j, y_j) for j = 0 .. last from xi_0 = initial (x) x_0 (see the module docstring)."""
    x0 = start_vector(x0, dtype)
    init = np.array([c if dtype is object else float(c) for c in initial], dtype=dtype)
    xi = init[:, None] * x0[None, :]
    for j, st in enumerate(steps):
        C = np.array(st.C, dtype=dtype)
        y = C @ xi
        yield xi, y
        if j == last:
            return
        A = np.array(st.A, dtype=dtype)
        B = np.array(st.B, dtype=dtype)
        # an overflowing run is reported by its caller (non-finite states), not warned here
        with np.errstate(over="ignore", invalid="ignore"):
            if transform is not None:
                t = update_vector(transform(j, y), x0.shape, dtype, j, "the network layer")
                xi = (A + np.outer(B, C)) @ xi - B[:, None] * t[None, :]
            else:
                assert oracle is not None
                u = update_vector(oracle(j, y), x0.shape, dtype, j, "the gradient")
                xi = A @ xi + B[:, None] * u[None, :]


def iterate(
    initial: Sequence[Any],
    substeps: int,
    steps: Sequence[Step],
    oracle: Feedback | None,
    transform: Feedback | None,
    x0: Any,
    dtype: Any,
) -> Trajectory:
    """The whole :class:`Trajectory` over ``steps`` (outputs every ``substeps`` sub-steps)."""
    states, points = [], []
    for xi, y in stream(initial, steps, len(steps) - 1, oracle, transform, x0, dtype):
        states.append(xi)
        points.append(y)
    outputs = [np.array(steps[j].D, dtype=dtype) @ states[j]
               for j in range(0, len(steps), substeps)]  # fmt: skip
    return Trajectory(np.array(states), np.array(points), np.array(outputs))


def layer_matrices(W: Any, depth: int) -> list[Any]:
    """One matrix per layer: ``W`` repeated (tied weights) or the ``depth`` matrices given."""
    if isinstance(W, np.ndarray) and W.ndim == 2:
        return [W] * depth
    if isinstance(W, (list, tuple)) or (isinstance(W, np.ndarray) and W.ndim == 3):
        mats = list(W)
        if len(mats) < depth:
            raise OptnetError(f"got {len(mats)} layer matrices for depth {depth}")
        return [np.asarray(m) for m in mats]
    arr = np.asarray(W)
    if arr.ndim != 2:
        raise OptnetError(f"W must be a square matrix or one per layer, got shape {arr.shape}")
    return [arr] * depth
