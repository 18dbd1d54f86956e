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

from collections.abc import Callable, Iterator
from typing import Any

import mpmath
import numpy as np
import sympy

from optnet_theory.errors import OptnetError
from optnet_theory.methods.arith import Arith, arith
from optnet_theory.methods.cost import check_run, run_estimate
from optnet_theory.methods.iterate import Trajectory, iterate, layer_matrices, stream
from optnet_theory.methods.spec import (
    Feedback,
    MethodSpec,
    Params,
    Step,
)
from optnet_theory.methods.values import callable_or_error, checked_step
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
        algebraic). ``N`` overrides the horizon (default :meth:`horizon`). The schedule is
        computed only as far as asked (N = 10^9 costs nothing for 3 iterations); a list whose
        estimated memory or time exceeds the limits of :mod:`~optnet_theory.methods.cost` is
        refused, unless asked inside :func:`~optnet_theory.methods.cost.forced`.
        """
        iterations = check_int(iterations, "iterations", 0)
        if self.spec.horizon is not None and iterations > self.spec.horizon:
            raise OptnetError(
                f"method {self.name!r} is defined for {self.spec.horizon} iterations (its dense "
                f"form has {self.spec.horizon} rows); asked for {iterations}"
            )
        ar = arith(arithmetic, dps)
        J = self.spec.substeps * iterations
        horizon = N if N is not None else self.horizon(iterations)
        self._check_cost(J, horizon, arithmetic)
        return self._step_list(J, self._params(ar, horizon, J))

    def _step_list(self, J: int, p: Params) -> list[Step]:
        ar = p.ar
        if ar.name == "mp":
            with mpmath.workdps(ar.dps or 30):
                return list(self._steps(J, p))
        return list(self._steps(J, p))

    def _steps(self, J: int, p: Params) -> Iterator[Step]:
        """The checked steps of sub-steps 0..J, computed one at a time."""
        for j in range(J + 1):
            try:
                st = self.spec.schedule(j, p)
            except OptnetError:
                raise
            except Exception as exc:  # a user's schedule: its failure, named, in one line
                raise OptnetError(
                    f"method {self.name!r}: its schedule failed at sub-step {j} "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            yield checked_step(st, j, self.spec.state_size, self.name)

    def _check_cost(
        self,
        sub_steps: int,
        horizon: int | None,
        arithmetic: str,
        *,
        dim: int = 0,
        stored: bool = False,
        listed: bool = True,
    ) -> None:
        need = run_estimate(self.spec, sub_steps, horizon, dim=dim, arithmetic=arithmetic,
                            stored=stored, listed=listed)  # fmt: skip
        what = f"{self.name} for {sub_steps // self.spec.substeps} iterations" + (
            f" on R^{dim}" if dim else "")
        check_run(what, need)

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
        inside ``mpmath.workdps(dps)``. A run past the memory or time limits of
        :mod:`~optnet_theory.methods.cost` is refused, unless made inside
        :func:`~optnet_theory.methods.cost.forced`.
        """
        callable_or_error(oracle, "the oracle (j, y) -> gradient")
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
        iterations = check_int(iterations, "iterations", 0)
        ar = arith(arithmetic, dps)  # a bad arithmetic is named before any estimate
        dim = int(np.size(x0)) if isinstance(x0, (np.ndarray, list, tuple)) else 1
        J, horizon = self.spec.substeps * iterations, self.horizon(iterations)
        self._check_cost(J, horizon, arithmetic, dim=dim, stored=True)
        steps = self._step_list(J, self._params(ar, horizon, J))
        dtype = object if arithmetic != "float" else np.float64
        if arithmetic == "mp":
            with mpmath.workdps(dps or 30):
                return iterate(self.spec.initial, self.spec.substeps, steps, oracle, transform,
                               x0, dtype)  # fmt: skip
        return iterate(self.spec.initial, self.spec.substeps, steps, oracle, transform, x0, dtype)

    def network_outputs(
        self,
        phi: Callable[[Any], Any],
        W: np.ndarray,
        x0: Any,
        depth: int,
    ) -> Iterator[np.ndarray]:
        """The tied-weight network's outputs x_0, x_1, ... one layer at a time (float64), for
        callers that stop early (layers to epsilon). The coefficients are computed as the
        layers go, so memory does not grow with ``depth``; a ``depth`` whose time exceeds the
        limits is refused unless asked inside :func:`~optnet_theory.methods.cost.forced`."""
        depth = check_int(depth, "depth", 0)
        callable_or_error(phi, "phi")
        J = self.spec.substeps * depth
        horizon = self.horizon(depth)
        W = np.asarray(W)
        self._check_cost(J, horizon, "float", dim=int(W.shape[0]) if W.ndim else 1,
                         listed=False)  # fmt: skip
        s = self.spec.substeps
        p = self._params(arith("float"), horizon, J)
        readout: list[Step] = []

        def steps() -> Iterator[Step]:
            for st in self._steps(J, p):
                readout[:] = [st]
                yield st

        def transform(_j: int, y: np.ndarray) -> np.ndarray:
            return np.asarray(phi(W @ y))

        run = stream(self.spec.initial, steps(), J, None, transform, x0, np.float64)
        for j, (xi, _y) in enumerate(run):
            if j % s == 0:
                yield np.array(readout[0].D, dtype=np.float64) @ xi

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
        ``grad`` that works on object arrays of mpmath numbers). A bad ``x0`` (not a finite
        real vector), a ``grad`` that is not callable or returns another shape, and a run past
        the memory or time limits (unless made inside
        :func:`~optnet_theory.methods.cost.forced`) are :class:`OptnetError`.
        """
        callable_or_error(grad, "grad")
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
        callable_or_error(phi, "phi")
        mats = layer_matrices(W, depth)
        s = self.spec.substeps

        def transform(j: int, y: np.ndarray) -> np.ndarray:
            return phi(mats[j // s] @ y)

        return self._run(None, transform, x0, depth, arithmetic, dps)
