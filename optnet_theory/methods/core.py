"""A fixed-step first-order method as data: a linear system in feedback with the gradient.

Every method of this package is the time-varying linear system (the form used by performance
estimation and IQC analyses)

    xi_{j+1} = A_j xi_j + B_j u_j,    y_j = C_j xi_j,    u_j = grad f(y_j),    x_j = D_j xi_j,

where xi_j stacks m points of R^n and A_j (m x m), B_j, C_j, D_j (length m) are scalars acting
blockwise (Kronecker with I_n). The start is xi_0 = ``initial`` (x) x_0: each of the m slots is a
multiple of x_0 (most methods repeat x_0; the summed form (4) starts its sums at 0).

One paper iteration may make several gradient calls: linearized ADMM (6) evaluates grad f at z_k
and then at y_k, and y_{k+1} needs z_{k+1}. Its iteration is two sub-steps of the one-gradient
form above (``substeps = 2``), so the form needs no extension: only the grouping of sub-steps into
iterations (and, in a network, into layers that share W_k) is recorded. Iteration k is sub-steps
j = k s .. k s + s - 1 and the method's output after k iterations is x_k = D_{ks} xi_{ks}.

Everything else is generated from this description: the iterates (:meth:`Method.run`), the
tied- or untied-weight network by Lemma 1 (:meth:`Method.network`), and the dense form (18)
(:mod:`optnet_theory.methods.dense`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy

from optnet_theory.errors import OptnetError
from optnet_theory.methods.arith import Arith, arith
from optnet_theory.methods.spec import (
    Feedback,
    MethodSpec,
    Params,
    Step,
)
from optnet_theory.validation import check_int

__all__ = ["Method", "Trajectory"]


def _real(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise OptnetError(f"{name} must be a real number, got {value!r}") from exc
    if not np.isfinite(out):
        raise OptnetError(f"{name} must be finite, got {value!r}")
    return out


@dataclass(frozen=True)
class Trajectory:
    """Everything one run produced, indexed by sub-step j = 0..J (J = s * iterations).

    ``states[j]`` = xi_j (m, n); ``points[j]`` = y_j (where the gradient was taken, j < J, and
    the read-out point at J); ``outputs[k]`` = x_k after k iterations (k = 0..iterations).
    """

    states: np.ndarray
    points: np.ndarray
    outputs: np.ndarray


class Method:
    """A :class:`MethodSpec` bound to (L, mu, N, params): coefficients and everything generated.

    Obtain one with :func:`optnet_theory.get_method`. ``N`` is the horizon of methods whose
    schedule depends on it (ogm, ogmg); when it is None such a method takes N = the number of
    iterations asked of it.
    """

    def __init__(
        self, spec: MethodSpec, *, L: float, mu: float, N: int | None, params: dict[str, Any]
    ) -> None:
        self.spec = spec
        self.L = _real(L, "L")
        self.mu = _real(mu, "mu")
        if self.L <= 0:
            raise OptnetError(f"L must be > 0, got {L!r}")
        if self.mu < 0 or self.mu > self.L:
            raise OptnetError(f"mu must satisfy 0 <= mu <= L = {self.L:g}, got {mu!r}")
        if spec.function_class == "smooth-strongly-convex" and not 0 < self.mu < self.L:
            raise OptnetError(
                f"method {spec.name!r} is designed for L-smooth mu-strongly convex functions and "
                f"needs 0 < mu < L; got L={self.L:g}, mu={self.mu:g} (pass mu=...)"
            )
        self.N = None if N is None else check_int(N, "N (horizon)", 1)
        unknown = sorted(set(params) - set(spec.params))
        if unknown:
            accepted = ", ".join(spec.params) or "none"
            raise OptnetError(
                f"method {spec.name!r} has no parameter(s) {', '.join(unknown)}; "
                f"accepted: {accepted}"
            )
        values: dict[str, Any] = {}
        for key, default in spec.params.items():
            value = params.get(key, default)
            if callable(value):
                value = value(self.L, self.mu)
            if isinstance(value, str):
                values[key] = value
            else:  # keep mpmath/SymPy values at their own precision, after checking them
                _real(value, key)
                exact = isinstance(value, (mpmath.mpf, sympy.Basic))
                values[key] = value if exact else float(value)
        self.params = values
        if spec.check is not None:
            spec.check(self.L, self.mu, self.params)

    # ------------------------------------------------------------------ description
    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        horizon = f", N={self.N}" if self.N is not None else ""
        return f"Method({self.name!r}, L={self.L:g}, mu={self.mu:g}{horizon}{extra})"

    def describe(self) -> dict[str, Any]:
        """The spec's record, with this binding's L, mu, N and parameter values."""
        return {**self.spec.describe(), "params": dict(self.params), "L": self.L, "mu": self.mu,
                "N": self.N}

    def horizon(self, iterations: int | None = None) -> int | None:
        """N for this run: the bound N, else ``iterations`` for horizon methods."""
        if not self.spec.needs_horizon:
            return self.N
        if self.N is None:
            return iterations
        if iterations is not None and iterations > self.N:
            raise OptnetError(
                f"method {self.name!r} was built for a horizon of N={self.N} iterations; "
                f"asked for {iterations} (pass N={iterations})"
            )
        return self.N

    def _params(self, ar: Arith, N: int | None, last: int = 0) -> Params:
        return Params(
            ar,
            ar.num(self.L),
            ar.num(self.mu),
            N,
            {k: v if isinstance(v, str) else ar.num(v) for k, v in self.params.items()},
            last,
        )

    def coefficients(
        self,
        iterations: int,
        *,
        arithmetic: str = "float",
        dps: int | None = None,
        N: int | None = None,
    ) -> list[Step]:
        """Steps of sub-steps j = 0 .. s * iterations (the last one for its C and D only).

        ``arithmetic``: "float" (float64), "mp" (mpmath at ``dps`` digits; use the returned
        numbers inside ``mpmath.workdps(dps)``) or "exact" (SymPy, where the schedule is
        algebraic). ``N`` overrides the horizon (default :meth:`horizon`).
        """
        iterations = check_int(iterations, "iterations", 0)
        if self.spec.horizon is not None and iterations > self.spec.horizon:
            raise OptnetError(
                f"method {self.name!r} is defined for {self.spec.horizon} iterations (its dense "
                f"form has {self.spec.horizon} rows); asked for {iterations}"
            )
        ar = arith(arithmetic, dps)
        J = self.spec.substeps * iterations
        p = self._params(ar, N if N is not None else self.horizon(iterations), J)
        if ar.name == "mp":
            with mpmath.workdps(ar.dps or 30):
                return [self._checked(self.spec.schedule(j, p), j) for j in range(J + 1)]
        return [self._checked(self.spec.schedule(j, p), j) for j in range(J + 1)]

    def _checked(self, st: Step, j: int) -> Step:
        m = self.spec.state_size
        if len(st.A) != m or any(len(r) != m for r in st.A) or not (
            len(st.B) == len(st.C) == len(st.D) == m
        ):
            raise OptnetError(
                f"method {self.name!r}: sub-step {j} has coefficients of the wrong size "
                f"(state size {m})"
            )
        return st

    # ------------------------------------------------------------------ generated: iterates
    def trajectory(
        self,
        oracle: Feedback,
        x0: Any,
        iterations: int,
        *,
        arithmetic: str = "float",
        dps: int | None = None,
    ) -> Trajectory:
        """Run the system with ``oracle(j, y_j) -> u_j`` for ``iterations`` iterations.

        float64 arrays, or object arrays of mpmath numbers (``arithmetic="mp"``) computed
        inside ``mpmath.workdps(dps)``.
        """
        return self._run(oracle, None, x0, iterations, arithmetic, dps)

    def _run(
        self,
        oracle: Feedback | None,
        transform: Feedback | None,
        x0: Any,
        iterations: int,
        arithmetic: str,
        dps: int | None,
    ) -> Trajectory:
        steps = self.coefficients(iterations, arithmetic=arithmetic, dps=dps)
        dtype = object if arithmetic != "float" else np.float64
        if arithmetic == "mp":
            with mpmath.workdps(dps or 30):
                return self._iterate(steps, oracle, transform, x0, dtype)
        return self._iterate(steps, oracle, transform, x0, dtype)

    def _iterate(
        self,
        steps: Sequence[Step],
        oracle: Feedback | None,
        transform: Feedback | None,
        x0: Any,
        dtype: Any,
    ) -> Trajectory:
        states, points = [], []
        for xi, y in self._stream(steps, oracle, transform, x0, dtype):
            states.append(xi)
            points.append(y)
        s = self.spec.substeps
        outputs = [np.array(steps[j].D, dtype=dtype) @ states[j] for j in range(0, len(steps), s)]
        return Trajectory(np.array(states), np.array(points), np.array(outputs))

    def _stream(
        self,
        steps: Sequence[Step],
        oracle: Feedback | None,
        transform: Feedback | None,
        x0: Any,
        dtype: Any,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(xi_j, y_j) for j = 0 .. len(steps) - 1.

        xi_{j+1} = A xi + B u with u = oracle(j, y); or, given ``transform`` (u = y - T(y)),
        xi_{j+1} = (A + B C^T) xi - B T(y), which avoids forming y - T(y) and cancelling it.
        """
        x0 = np.asarray(x0, dtype=dtype)
        if x0.ndim != 1:
            raise OptnetError(f"x0 must be a vector, got shape {x0.shape}")
        init = np.array([c if dtype is object else float(c) for c in self.spec.initial],
                        dtype=dtype)
        xi = init[:, None] * x0[None, :]
        for j, st in enumerate(steps):
            C = np.array(st.C, dtype=dtype)
            y = C @ xi
            yield xi, y
            if j == len(steps) - 1:
                return
            A = np.array(st.A, dtype=dtype)
            B = np.array(st.B, dtype=dtype)
            # an overflowing run is reported by its caller (non-finite states), not warned here
            with np.errstate(over="ignore", invalid="ignore"):
                if transform is not None:
                    xi = (A + np.outer(B, C)) @ xi - B[:, None] * np.asarray(
                        transform(j, y), dtype=dtype)[None, :]
                else:
                    assert oracle is not None
                    xi = A @ xi + B[:, None] * np.asarray(oracle(j, y), dtype=dtype)[None, :]

    def network_outputs(
        self, phi: Callable[[Any], Any], W: np.ndarray, x0: Any, depth: int
    ) -> Iterator[np.ndarray]:
        """The tied-weight network's outputs x_0, x_1, ... one layer at a time (float64), for
        callers that stop early (layers to epsilon)."""
        depth = check_int(depth, "depth", 0)
        steps = self.coefficients(depth)
        s = self.spec.substeps
        W = np.asarray(W)

        def transform(_j: int, y: np.ndarray) -> np.ndarray:
            return np.asarray(phi(W @ y))

        for j, (xi, _y) in enumerate(self._stream(steps, None, transform, x0, np.float64)):
            if j % s == 0:
                yield np.array(steps[j].D, dtype=np.float64) @ xi

    def run(
        self,
        grad: Callable[[np.ndarray], np.ndarray],
        x0: Any,
        steps: int,
        *,
        arithmetic: str = "float",
        dps: int | None = None,
    ) -> np.ndarray:
        """The output points x_0 .. x_steps of ``steps`` iterations on ``grad``: (steps+1, n).

        float64 by default; ``arithmetic="mp"`` runs in mpmath at ``dps`` digits (pass a
        ``grad`` that works on object arrays of mpmath numbers).
        """
        return self.trajectory(
            lambda _j, y: grad(y), x0, steps, arithmetic=arithmetic, dps=dps
        ).outputs

    # ------------------------------------------------------------------ generated: networks
    def network(
        self,
        phi: Callable[[Any], Any],
        W: Any,
        x0: Any,
        depth: int,
        *,
        arithmetic: str = "float",
        dps: int | None = None,
    ) -> Trajectory:
        """The network this method generates by Lemma 1, ``depth`` layers.

        With z = U x, a gradient step on f of (8) is, in x-coordinates, y - Phi(W y) (eq. (9)
        mapped back by U^{-1}), so layer k is the system with u_j = y_j - Phi(W_k y_j):

            xi_{j+1} = A_j xi_j + B_j (y_j - Phi(W_k y_j)),   y_j = C_j xi_j,

        for its s sub-steps j = k s .. k s + s - 1 (one W_k per layer, as in (14)). ``W`` is one
        square matrix (tied weights, Sec. 5.1) or a sequence of ``depth`` of them (Sec. 5.2).
        For gd (B = -1, C = D = 1) this is Phi(W x_k), which is (7).
        """
        depth = check_int(depth, "depth", 0)
        mats = _layer_matrices(W, depth)
        s = self.spec.substeps

        def transform(j: int, y: np.ndarray) -> np.ndarray:
            return phi(mats[j // s] @ y)

        return self._run(None, transform, x0, depth, arithmetic, dps)


def _layer_matrices(W: Any, depth: int) -> list[Any]:
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
