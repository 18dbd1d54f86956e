"""Momentum coefficients of Nesterov's method: theta_k and beta_k of (3), h_{k,j} of (5).

The schedule of (3): theta_0 = 1 and (1 - theta_k) / theta_k^2 = 1 / theta_{k-1}^2, whose
positive root is theta_k = 2 theta_{k-1} / (theta_{k-1} + sqrt(theta_{k-1}^2 + 4)) (written so
that nothing cancels). The momentum is beta_k = theta_k (1 - theta_{k-1}) / theta_{k-1} for
k >= 1; beta_0 is set to 0 (step 0 has no previous iterate, z_{-1} = z_0), and beta_1 = 0 since
theta_0 = 1.

The coefficients of the summed form (4) follow (5), which in terms of beta reads

    h_{k+1,j} = beta_{k+1} h_{k,j}          (j <= k-2)
    h_{k+1,k-1} = beta_{k+1} (h_{k,k-1} - 1)
    h_{k+1,k} = 1 + beta_{k+1}

with h_{1,0} = 1 + beta_1 (the j = k case at k = 0). Unrolled, h_{k,k-1} = 1 + beta_k and
h_{k,j} = beta_{j+1} beta_{j+2} ... beta_k for j <= k-2; the float64 form uses this product
(checked against the literal recursion in the tests) so that K = 10^4 costs O(K) memory.

Footnote 4: for a mu-strongly convex f with L-Lipschitz gradient the momentum is the constant
beta = (sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)); here it is used for every k >= 1, so
h_{1,0} = 1 + beta.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, overload

import mpmath
import numpy as np
import sympy

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

__all__ = [
    "NesterovH",
    "h_recursion",
    "nesterov_beta",
    "nesterov_h",
    "nesterov_h_matrix",
    "nesterov_theta",
    "strongly_convex_beta",
    "strongly_convex_h",
    "tuned_hb_beta",
]

#: Above this K the exact (SymPy radical) schedule is refused: the radicals nest K deep.
EXACT_MAX_K = 12


def _check_mode(K: int, exact: bool, dps: int | None, nested: bool = True) -> None:
    if exact and dps is not None:
        raise OptnetError("choose exact=True or dps=..., not both")
    if dps is not None:
        check_int(dps, "dps (digits)", 1)
    if exact and nested and K > EXACT_MAX_K:
        raise OptnetError(
            f"exact=True is offered for K <= {EXACT_MAX_K} (the radicals nest K deep); "
            f"got K={K}; use dps=... for high precision instead"
        )


def _theta_step(prev: Any, sqrt: Callable[[Any], Any]) -> Any:
    """Positive root of (1 - t)/t^2 = 1/prev^2, in the cancellation-free form."""
    return 2 * prev / (prev + sqrt(prev * prev + 4))


def nesterov_theta(K: int, exact: bool = False, dps: int | None = None) -> list[Any]:
    """theta_0, ..., theta_K of (3): theta_0 = 1, (1 - theta_k)/theta_k^2 = 1/theta_{k-1}^2.

    float64 by default; ``exact=True`` gives SymPy radicals (K <= 12); ``dps`` gives mpmath
    numbers computed at that many significant digits.
    """
    K = check_int(K, "K", 0)
    _check_mode(K, exact, dps)
    if exact:
        theta: list[Any] = [sympy.Integer(1)]
        for _ in range(K):
            # the same root as 2 / (1 + sqrt(1 + 4/theta^2)): theta_{k-1} occurs once, so
            # the radical grows linearly in k instead of tripling
            theta.append(2 / (1 + sympy.sqrt(1 + 4 / theta[-1] ** 2)))
        return theta
    if dps is not None:
        with mpmath.workdps(dps):
            theta = [mpmath.mpf(1)]
            for _ in range(K):
                theta.append(_theta_step(theta[-1], mpmath.sqrt))
        return theta
    out = [1.0]
    for _ in range(K):
        out.append(float(_theta_step(out[-1], np.sqrt)))
    return out


def nesterov_beta(K: int, exact: bool = False, dps: int | None = None) -> list[Any]:
    """beta_0, ..., beta_K: beta_k = theta_k (1 - theta_{k-1}) / theta_{k-1} as in (3) and (12).

    beta_0 = 0 by convention (z_{-1} = z_0); beta_1 = 0 because theta_0 = 1.
    """
    theta = nesterov_theta(K, exact=exact, dps=dps)
    zero: Any = sympy.Integer(0) if exact else (mpmath.mpf(0) if dps is not None else 0.0)
    beta = [zero]
    if dps is not None:
        with mpmath.workdps(dps):
            beta += [theta[k] * (1 - theta[k - 1]) / theta[k - 1] for k in range(1, K + 1)]
        return beta
    step: Callable[[Any], Any] = (lambda b: b) if exact else float
    beta += [step(theta[k] * (1 - theta[k - 1]) / theta[k - 1]) for k in range(1, K + 1)]
    return beta


def h_recursion(beta: Sequence[Any]) -> list[list[Any]]:
    """The recursion (5), literally, for any momentum sequence beta_0, ..., beta_K.

    Returns ``h`` with ``h[k][j]`` = h_{k,j} for 1 <= k <= K, 0 <= j <= k-1 and ``h[0] = []``.
    Works for any number type (float, mpmath, SymPy); evaluate mpmath inputs inside the
    precision context you want.
    """
    K = len(beta) - 1
    h: list[list[Any]] = [[]]
    if K >= 1:
        h.append([1 + beta[1]])
    for k in range(1, K):
        b = beta[k + 1]
        row = [b * h[k][j] for j in range(k - 1)]
        row.append(b * (h[k][k - 1] - 1))
        row.append(1 + b)
        h.append(row)
    return h


class NesterovH(Sequence[np.ndarray]):
    """float64 coefficients h_{k,j} of (5), row by row on demand: ``h[k][j]``, ``h[k]`` a row.

    Holds only beta (O(K) memory); row k (length k, read-only) is computed in O(k) from the
    unrolled recursion h_{k,k-1} = 1 + beta_k, h_{k,j} = beta_{j+1} ... beta_k (j <= k-2).
    ``h[0]`` is the empty row.
    """

    def __init__(self, beta: Sequence[float]) -> None:
        self.beta = np.asarray(beta, dtype=np.float64)
        self.beta.setflags(write=False)

    def __len__(self) -> int:
        return len(self.beta)

    @overload
    def __getitem__(self, k: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[np.ndarray]: ...

    def __getitem__(self, k: int | slice) -> np.ndarray | Sequence[np.ndarray]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"row {k} outside 0..{len(self) - 1}")
        row = np.empty(k, dtype=np.float64)
        if k >= 1:
            row[k - 1] = 1.0 + self.beta[k]
        if k >= 2:
            # cumprod of beta_k, beta_{k-1}, ..., beta_1 gives prod(beta[j+1..k]) for
            # j = k-1 down to 0; its first entry (j = k-1) is replaced by 1 + beta_k above
            row[: k - 1] = np.cumprod(self.beta[k:0:-1])[1:][::-1]
        row.setflags(write=False)
        return row

    def matrix(self) -> np.ndarray:
        """Dense (K+1, K) lower-triangular array H with H[k, j] = h_{k,j} (row 0 zero)."""
        K = len(self) - 1
        H = np.zeros((K + 1, K), dtype=np.float64)
        for k in range(1, K + 1):
            H[k, :k] = self[k]
        return H


def _h_from_beta(beta: Sequence[Any], exact: bool, dps: int | None) -> Any:
    """h_{k,j} of (5) for the momentum ``beta`` in the number type of the mode.

    ``exact``: the recursion on SymPy numbers; ``dps``: the recursion at ``dps`` digits;
    otherwise the float64 :class:`NesterovH`.
    """
    if exact:
        return h_recursion(beta)
    if dps is not None:
        with mpmath.workdps(dps):
            return h_recursion(beta)
    return NesterovH(beta)


def nesterov_h(K: int, exact: bool = False, dps: int | None = None) -> Any:
    """Coefficients h_{k,j} of (5) for the theta schedule of (3): ``h[k][j]``, 1 <= k <= K.

    ``h[0]`` is empty and ``h[1][0] = 1``. float64 (default): a :class:`NesterovH`, cheap for
    K = 10^4. ``exact=True``: lists of SymPy radicals (K <= 12). ``dps=d``: lists of mpmath
    numbers from the recursion (5) evaluated at d digits.
    """
    return _h_from_beta(nesterov_beta(K, exact=exact, dps=dps), exact, dps)


def nesterov_h_matrix(K: int) -> np.ndarray:
    """float64 (K+1, K) lower-triangular array with H[k, j] = h_{k,j} of (5) (row 0 zero)."""
    return NesterovH(nesterov_beta(K)).matrix()


def tuned_hb_beta(step: float, mu: float) -> float:
    """The heavy-ball momentum (1 - sqrt(step * mu))^2 tuned to the step (Polyak 1964): with
    step 1/L it is (1 - sqrt(mu/L))^2, the one formula for every step."""
    return (1.0 - math.sqrt(step * mu)) ** 2


def strongly_convex_beta(
    L: Any, mu: Any, exact: bool = False, dps: int | None = None
) -> Any:
    """Footnote 4: constant momentum (sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)), 0 < mu <= L."""
    try:
        ok = bool(0 < mu <= L)
    except TypeError as exc:
        raise OptnetError(f"L and mu must be real numbers, got L={L!r}, mu={mu!r}") from exc
    if not ok:
        raise OptnetError(f"footnote 4 needs 0 < mu <= L, got L={L!r}, mu={mu!r}")
    if exact:
        sL, sm = sympy.sqrt(sympy.nsimplify(L)), sympy.sqrt(sympy.nsimplify(mu))
        return sympy.radsimp((sL - sm) / (sL + sm))
    if dps is not None:
        with mpmath.workdps(dps):
            sL, sm = mpmath.sqrt(mpmath.mpf(L)), mpmath.sqrt(mpmath.mpf(mu))
            return (sL - sm) / (sL + sm)
    sLf, smf = float(np.sqrt(L)), float(np.sqrt(mu))
    return (sLf - smf) / (sLf + smf)


def strongly_convex_h(
    K: int, L: Any, mu: Any, exact: bool = False, dps: int | None = None
) -> Any:
    """h_{k,j} of (5) with footnote 4's constant momentum beta_k = beta for all k >= 1.

    Unrolled: h_{k,k-1} = 1 + beta and h_{k,j} = beta^(k-j) for j <= k-2. Same return types
    as :func:`nesterov_h`.
    """
    K = check_int(K, "K", 0)
    _check_mode(K, exact, dps, nested=False)
    b = strongly_convex_beta(L, mu, exact=exact, dps=dps)
    return _h_from_beta([0 * b] + [b] * K, exact, dps)
