"""What a run of a method is given, checked where it enters: x_0, the gradient, phi.

Each failure is one :class:`~optnet_theory.errors.OptnetError` naming what was wrong and what is
accepted, instead of a NumPy broadcasting error or a TypeError from deep inside the iteration.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods.spec import Step

__all__ = ["callable_or_error", "checked_step", "start_vector", "update_vector"]


def callable_or_error(fn: Any, what: str) -> None:
    """``fn`` must be callable; else an error naming ``what``."""
    if not callable(fn):
        raise OptnetError(f"{what} must be a function, got {type(fn).__name__} {fn!r:.60}")


def _finite(values: np.ndarray) -> bool:
    """Every entry a finite number (an entry of an object array: a number mpmath takes, NaN
    and infinities refused; a symbolic SymPy entry of an exact run is accepted as it is)."""
    if values.dtype != object:
        return bool(np.all(np.isfinite(values)))
    for v in values.ravel():
        if isinstance(v, (str, bytes, bool)) or v is None:
            return False
        if getattr(v, "free_symbols", None):
            continue
        try:
            number = v if isinstance(v, (mpmath.mpf, mpmath.mpc)) else mpmath.mpf(float(v))
        except (TypeError, ValueError, OverflowError):
            return False
        if not mpmath.isfinite(number):
            return False
    return True


def start_vector(x0: Any, dtype: Any) -> np.ndarray:
    """x_0 as a non-empty 1-D array of finite reals in ``dtype`` (float64, or object for mpmath
    and SymPy numbers, kept as given)."""
    try:
        vector = np.asarray(x0, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise OptnetError(
            f"x0 must be a vector of real numbers, got {type(x0).__name__} {x0!r:.60} ({exc})"
        ) from None
    if vector.ndim != 1 or vector.size == 0:
        raise OptnetError(f"x0 must be a non-empty vector, got shape {vector.shape}")
    if not _finite(vector):
        raise OptnetError("x0 holds NaN or infinite entries; give a finite starting point")
    return vector


def update_vector(value: Any, shape: tuple[int, ...], dtype: Any, j: int, what: str) -> np.ndarray:
    """What ``what`` returned at sub-step j as an array of ``shape``; else an error naming it."""
    try:
        out = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise OptnetError(
            f"{what} returned {type(value).__name__} {value!r:.60} at sub-step {j}; it must "
            f"return a vector of {shape[0]} real numbers"
        ) from None
    if out.shape != shape:
        raise OptnetError(
            f"{what} returned shape {out.shape} at sub-step {j} for points of shape {shape}; "
            "it must return a vector of the same shape"
        )
    return out


def checked_step(step: Any, j: int, size: int, method: str) -> Step:
    """A schedule's output at sub-step j: a Step whose A is size x size and B, C, D of length
    ``size``; else an error naming the method."""
    if not isinstance(step, Step):
        raise OptnetError(
            f"method {method!r}: sub-step {j} of its schedule is a {type(step).__name__}, "
            "not a Step(A, B, C, D)"
        )
    try:
        sized = len(step.A) == size and all(len(r) == size for r in step.A) and (
            len(step.B) == len(step.C) == len(step.D) == size)
    except TypeError:
        sized = False
    if not sized:
        raise OptnetError(
            f"method {method!r}: sub-step {j} has coefficients of the wrong size "
            f"(state size {size})"
        )
    return step
