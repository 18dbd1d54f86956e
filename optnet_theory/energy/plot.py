"""A picture of a derived energy: Phi and Psi, and the residual Psi' - Phi (``derive --plot``).

Left panel: Phi and Psi in float64 over [lo, hi]. Right panel: |Psi'(x) - Phi(x)| on a log
scale, Psi' taken by mpmath's numerical differentiation of the multiprecision Psi at
:data:`~optnet_theory.antiderivative.check.CHECK_DPS` digits (the precision of the exact check
of Psi' = Phi, eq. (8)'s premise), so the panel shows how well Psi' = Phi actually holds, not
float64 noise. matplotlib is imported only here, only when a plot is asked for, so ``optnet
derive`` stays fast and needs no plotting library otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from optnet_theory.antiderivative.check import CHECK_DPS
from optnet_theory.errors import OptnetError

__all__ = ["DEFAULT_RANGE", "plot_energy", "residual"]

#: The x-range drawn when none is given.
DEFAULT_RANGE = (-5.0, 5.0)
#: Grid sizes: the curves (float64, cheap) and the residual (mpmath, a few ms a point).
_CURVE_POINTS = 401
_RESIDUAL_POINTS = 81


def residual(energy: Any, xs: np.ndarray, dps: int = CHECK_DPS) -> np.ndarray:
    """|Psi'(x) - Phi(x)| at each x, Psi' by mpmath differentiation at ``dps`` digits."""
    with mpmath.workdps(dps):
        return np.array(
            [float(abs(mpmath.diff(energy.psi_mp, mpmath.mpf(float(x)))
                       - energy.phi_mp(mpmath.mpf(float(x))))) for x in xs]
        )


def _check_range(lo: float, hi: float) -> tuple[float, float]:
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise OptnetError(f"--range takes two finite numbers LO < HI, got {lo:g} {hi:g}")
    return float(lo), float(hi)


def plot_energy(
    energy: Any, path: str | Path, x_range: tuple[float, float] = DEFAULT_RANGE
) -> Path:
    """Draw Phi, Psi and |Psi' - Phi| of ``energy`` (an ``Energy``) into the PNG ``path``."""
    lo, hi = _check_range(*x_range)
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise OptnetError(f"--plot writes a PNG; give a file name ending in .png, got {target}")
    if not target.resolve().parent.is_dir():
        raise OptnetError(f"cannot write {target}: its folder does not exist")
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise OptnetError("--plot needs matplotlib: pip install 'optnet[nets]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.linspace(lo, hi, _CURVE_POINTS)
    xr = np.linspace(lo, hi, _RESIDUAL_POINTS)
    res = residual(energy, xr)
    fig, (ax, ax_res) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax.plot(xs, energy.phi_fn(xs), label="Φ(x), the activation", color="tab:blue")
    ax.plot(xs, energy.psi_fn(xs), label="Ψ(x), with Ψ′ = Φ, Ψ(0) = 0", color="tab:orange")
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.set(xlabel="x", title="Activation Φ and its energy term Ψ (8)")
    ax.legend()
    floor = 10.0 ** -(CHECK_DPS + 5)  # where an exact zero is drawn on the log scale
    exact = res == 0
    ax_res.semilogy(xr[~exact], res[~exact], "o", ms=3, color="tab:red",
                    label=f"|Ψ′ − Φ| (Ψ′ by mpmath at {CHECK_DPS} digits)")
    if exact.any():
        ax_res.semilogy(xr[exact], np.full(int(exact.sum()), floor), "o", ms=3, mfc="none",
                        color="tab:red", label=f"exactly 0 (drawn at {floor:.0e})")
    ax_res.axhline(10.0**-CHECK_DPS, color="0.4", ls=":",
                   label=f"{CHECK_DPS}-digit working precision")
    if energy.accuracy is not None:
        ax_res.axhline(energy.accuracy, color="0.4", ls="--",
                       label=f"stated accuracy of the numeric Ψ ({energy.accuracy:.0e})")
    ax_res.set(xlabel="x", ylabel="|Ψ′(x) − Φ(x)|", xlim=(lo, hi),
               ylim=(floor / 10, max(10.0, 10 * float(res.max()))),
               title="Residual of Ψ′ = Φ (log scale)")
    ax_res.legend(loc="upper right", fontsize=8)
    for a in (ax, ax_res):
        a.grid(True, alpha=0.3)
    psi = "numeric antiderivative" if energy.psi is None else f"Ψ(x) = {energy.psi}"
    fig.suptitle(_shorten(f"Φ(x) = {energy.phi};  {psi}  [{energy.method}]"), fontsize=10)
    fig.tight_layout()
    fig.savefig(target, format="png", dpi=110)
    plt.close(fig)
    return target


def _shorten(text: str, limit: int = 150) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
