"""The trials of ``optnet verify``: W and x_0 drawn (or given), U = sqrt(W) and U^{-1}.

W is drawn (when not given) with spectrum geometrically spaced in [1/(c cond), 1/c], c the
Lipschitz constant of Phi (estimated on a grid), so each layer x -> Phi(W x) is non-expansive
and the iterates stay bounded. A W that is not symmetric positive definite is refused (Lemma 1
needs U = sqrt(W)) unless ``general_w=True`` (see :mod:`optnet_theory.verify`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import Any

import mpmath
import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int
from optnet_theory.verify.matrices import (
    as_square_matrix,
    check_spd,
    general_sqrt,
    random_spd,
    spd_sqrt,
    to_mp,
)

__all__ = ["MAX_DRAWN_COND", "Setting", "make_settings"]

#: Largest condition number of a drawn W: its smallest eigenvalue top/cond must stay well
#: above the float64 rounding of the eigendecomposition (about n * 2^-53 * top).
MAX_DRAWN_COND = 1e12

#: Grid on which the Lipschitz constant of Phi is estimated for scaling a drawn W.
_GRID = np.linspace(-60.0, 60.0, 24001)


@dataclass(frozen=True)
class Setting:
    """One trial: the energy, W, U = sqrt(W), U^{-1}, x_0 and the arithmetic (dps or None)."""

    energy: Any
    W: np.ndarray
    U: np.ndarray
    U_inv: np.ndarray
    x0: np.ndarray
    dps: int | None
    kappa_u: float
    general_w: bool = False

    @property
    def phi(self) -> Callable[[Any], Any]:
        """Phi elementwise in this setting's arithmetic."""
        if self.dps is None:
            return self.energy.phi_fn
        return np.frompyfunc(self.energy.phi_mp, 1, 1)

    def gradient(self) -> Callable[[np.ndarray], np.ndarray]:
        """The oracle for step 2: the energy's gradient (9) z - U Phi(U^T z), or z - U Phi(U z)."""
        U = self.U
        if self.general_w:
            phi = self.phi
            return lambda z: z - U @ phi(U @ z)
        if self.dps is None:
            return self.energy.gradient_fn(U)
        g = self.energy.gradient_mp(U.tolist())
        return lambda z: np.array(g(list(z)), dtype=object)

    def unit_roundoff(self) -> float:
        """u of this setting's arithmetic."""
        if self.dps is None:
            return float(np.finfo(np.float64).eps) / 2
        with mpmath.workdps(self.dps):
            return float(mpmath.mp.eps) / 2


def _phi_lipschitz(energy: Any) -> float:
    y = np.asarray(energy.phi_fn(_GRID), dtype=np.float64)
    return float(np.max(np.abs(np.diff(y)) / np.diff(_GRID)))


def _draw_w(
    n: int, cond: float, top: float, general_w: bool, rng: np.random.Generator
) -> np.ndarray:
    if not general_w:
        return random_spd(n, cond, rng, top=top)
    # SPD part plus a skew part: eigenvalues keep positive real parts, so sqrt(W) is real.
    S = random_spd(n, cond, rng, top=top / 2)
    G = rng.standard_normal((n, n))
    A = G - G.T
    norm = float(np.linalg.norm(A, 2))
    return S + (top / 2) * A / norm if norm > 0 else S


def _resolve_energy(activation: Any, params: dict[str, float] | None) -> Any:
    if hasattr(activation, "gradient_fn") and hasattr(activation, "phi_fn"):
        return activation
    from optnet_theory.energy import derive_energy

    return derive_energy(activation, **(params or {}))


def make_settings(
    activation: Any = "sigmoid",
    *,
    W: Any = None,
    dim: int = 8,
    cond: float = 10.0,
    trials: int = 3,
    precision: int | None = None,
    seed: int = 0,
    general_w: bool = False,
    x0: Any = None,
    params: dict[str, float] | None = None,
) -> list[Setting]:
    """Draw (or take) W and x_0 for each trial and compute U, U^{-1} in the chosen arithmetic.

    ``activation`` is anything :func:`derive_energy` accepts (with ``params``, e.g.
    ``{"alpha": 0.1}``), or an ``Energy``. ``precision``:
    None for float64, else mpmath digits (10 to 10000). With ``W`` given, every trial uses it
    (only x_0 is redrawn, unless ``x0`` is given too).
    """
    energy = _resolve_energy(activation, params)
    trials = check_int(trials, "trials", 1)
    if precision is not None:
        precision = check_int(precision, "precision (digits)", 10, 10_000)
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    if W is not None:
        W = as_square_matrix(W) if general_w else check_spd(W)
        dim = W.shape[0]
    else:
        dim = check_int(dim, "dim", 1)
        if not (isinstance(cond, Real) and np.isfinite(cond) and 1 <= cond <= MAX_DRAWN_COND):
            raise OptnetError(
                f"cond must be a number in [1, {MAX_DRAWN_COND:g}], got {cond!r}: a W drawn with "
                "a larger condition number is not reliably positive definite in float64 "
                "(give such a W yourself, e.g. optnet verify --matrix)"
            )
    top = 1.0 / max(_phi_lipschitz(energy), 1e-300)
    top = top if np.isfinite(top) else 1.0
    settings = []
    for _ in range(trials):
        Wt = _draw_w(dim, float(cond), top, general_w, rng) if W is None else W
        xt = rng.standard_normal(dim) if x0 is None else np.asarray(x0)
        if xt.shape != (dim,) or not np.issubdtype(xt.dtype, np.number):
            raise OptnetError(f"x0 must be a numeric vector of length {dim}, got {xt!r}")
        xt = xt.astype(np.float64)
        U, U_inv = (general_sqrt if general_w else spd_sqrt)(Wt, dps=precision)
        Uf = np.asarray(U, dtype=np.float64)
        kappa = float(np.linalg.cond(Uf, 2))
        if precision is None:
            settings.append(Setting(energy, Wt, U, U_inv, xt, None, kappa, general_w))
        else:
            with mpmath.workdps(precision):
                settings.append(
                    Setting(energy, to_mp(Wt), U, U_inv, to_mp(xt), precision, kappa, general_w)
                )
    return settings
