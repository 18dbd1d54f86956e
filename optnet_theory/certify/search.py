"""The one-dimensional maximiser both the worst quadratic and the quadratics' rate use."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["maximise_on_interval"]


def maximise_on_interval(f: Callable[[float], float], lo: float, hi: float, points: int
                         ) -> tuple[float, float]:
    """(argmax estimate, best grid value) of ``f`` on [lo, hi]: the best of ``points`` evenly
    spaced values, refined by 60 golden-section steps between its grid neighbours."""
    grid = np.linspace(lo, hi, points)
    vals = [f(float(m)) for m in grid]
    k = int(np.argmax(vals))
    a, b = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, len(grid) - 1)])
    g = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        c1, c2 = b - g * (b - a), a + g * (b - a)
        if f(c1) >= f(c2):
            b = c2
        else:
            a = c1
    return 0.5 * (a + b), max(vals)
