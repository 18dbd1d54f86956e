"""The weight matrix W of Lemma 1: SPD checks, random SPD draws, and U = sqrt(W).

Lemma 1 assumes W symmetric positive definite and sets U = sqrt(W) (so W = U U^T with U
symmetric); :func:`spd_sqrt` computes U and U^{-1} from one symmetric eigendecomposition, in
float64 (NumPy) or in mpmath at a chosen precision. Matrices in mpmath mode are NumPy object
arrays holding ``mpmath.mpf`` entries, so the same array code runs at both precisions.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import scipy.linalg

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

__all__ = [
    "NotSPDError",
    "as_square_matrix",
    "check_spd",
    "general_sqrt",
    "random_spd",
    "spd_sqrt",
    "to_mp",
]


class NotSPDError(OptnetError):
    """W is not symmetric positive definite, so Lemma 1's U = sqrt(W) does not exist."""


def as_square_matrix(W: Any, name: str = "W") -> np.ndarray:
    """W as a finite float64 square matrix, or :class:`OptnetError` saying what is wrong."""
    try:
        A = np.asarray(W, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise OptnetError(f"{name} must be a real square matrix of numbers") from exc
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise OptnetError(f"{name} must be a non-empty square matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise OptnetError(f"{name} has entries that are not finite numbers")
    return A


def check_spd(W: Any, name: str = "W") -> np.ndarray:
    """Return W as float64 if it is symmetric positive definite, else raise :class:`NotSPDError`.

    Symmetry is checked to 1e-12 relative to max|W| (the matrix is then symmetrised); positive
    definiteness by the smallest eigenvalue being > 0.
    """
    A = as_square_matrix(W, name)
    scale = float(np.max(np.abs(A))) or 1.0
    asym = float(np.max(np.abs(A - A.T)))
    why = "Lemma 1 needs U = sqrt(W), which requires W symmetric positive definite"
    if asym > 1e-12 * scale:
        raise NotSPDError(
            f"{name} is not symmetric (max |W - W^T| = {asym:.3g}); {why} "
            "(ask for the general-W variant explicitly to run without it)"
        )
    A = (A + A.T) / 2
    lam_min = float(np.linalg.eigvalsh(A)[0])
    if not lam_min > 0:
        raise NotSPDError(
            f"{name} is not positive definite (smallest eigenvalue {lam_min:.3g}); {why} "
            "(ask for the general-W variant explicitly to run without it)"
        )
    return A


def random_spd(n: int, cond: float, rng: np.random.Generator, top: float = 1.0) -> np.ndarray:
    """A random n x n SPD matrix with eigenvalues geometrically spaced in [top/cond, top].

    The eigenvectors are Haar-random (QR of a Gaussian matrix with sign fix), so the condition
    number is exactly ``cond`` up to rounding for n >= 2; for n = 1 the matrix is [[top]].
    """
    n = check_int(n, "matrix size", 1)
    if not (np.isfinite(cond) and cond >= 1):
        raise OptnetError(f"condition number must be a finite number >= 1, got {cond!r}")
    if not (np.isfinite(top) and top > 0):
        raise OptnetError(f"largest eigenvalue must be positive and finite, got {top!r}")
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))
    lam = np.array([top]) if n == 1 else top * np.geomspace(1.0 / cond, 1.0, n)
    W = (Q * lam) @ Q.T
    return (W + W.T) / 2


def to_mp(A: Any) -> np.ndarray:
    """An object array of ``mpmath.mpf`` with the same shape (exact binary conversion)."""
    return np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(A, dtype=np.float64))


def spd_sqrt(W: Any, dps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """U = sqrt(W) and U^{-1} for SPD W, via one symmetric eigendecomposition W = Q diag(l) Q^T.

    float64 by default; with ``dps`` the eigendecomposition is mpmath's ``eigsy`` at that many
    digits (W's float64 entries taken exactly) and object arrays of mpf are returned.
    """
    A = check_spd(W)
    if dps is None:
        lam, Q = np.linalg.eigh(A)
        r = np.sqrt(lam)
        return (Q * r) @ Q.T, (Q / r) @ Q.T
    with mpmath.workdps(dps):
        lam_mp, Q_mp = mpmath.eigsy(mpmath.matrix(to_mp(A).tolist()))
        Qa = np.array(Q_mp.tolist(), dtype=object)
        r = np.array([mpmath.sqrt(v) for v in lam_mp], dtype=object)
        return (Qa * r) @ Qa.T, (Qa / r) @ Qa.T


def general_sqrt(W: Any, dps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Principal square root U of a general real W (U @ U = W) and U^{-1}: the general-W variant.

    Exists with U real when W has no eigenvalue on the closed negative real axis; otherwise
    :class:`OptnetError`. U is not symmetric unless W is, so U Phi(U z) is then no gradient.
    """
    A = as_square_matrix(W)
    eig = np.linalg.eigvals(A)
    bad = eig[(np.abs(eig.imag) <= 1e-12 * max(1.0, float(np.max(np.abs(eig))))) & (eig.real <= 0)]
    if bad.size:
        raise OptnetError(
            "the general-W variant needs a real principal square root U (U U = W), which does "
            f"not exist: W has the eigenvalue {bad[0].real:.3g} on the closed negative real axis"
        )
    if dps is None:
        U = np.real(scipy.linalg.sqrtm(A))
        return U, np.linalg.inv(U)
    with mpmath.workdps(dps):
        U_mp = mpmath.sqrtm(mpmath.matrix(to_mp(A).tolist()))
        U_re = mpmath.matrix([[mpmath.re(U_mp[i, j]) for j in range(A.shape[0])]
                              for i in range(A.shape[0])])
        return np.array(U_re.tolist(), dtype=object), np.array((U_re**-1).tolist(), dtype=object)
