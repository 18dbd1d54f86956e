"""Hypothesis strategies for the claims of the paper, public for reuse in other test suites.

Needs the ``hypothesis`` package (the ``test`` extra); nothing else in optnet_theory imports
this module.

    from hypothesis import given
    from optnet_theory.strategies import registry_activations, spd_matrices

    @given(registry_activations(), spd_matrices(8, max_cond=1e3))
    def test_something(activation, W): ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optnet_theory.verify.matrices import random_spd

__all__ = [
    "conditions",
    "depths",
    "dims",
    "initial_points",
    "registry_activations",
    "spd_matrices",
]


def registry_activations(exclude: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """Names from the activation registry (:func:`optnet_theory.list_activations`)."""
    from optnet_theory.energy.activations import list_activations

    names = [a for a in list_activations() if a not in exclude]
    return st.sampled_from(names)


def dims(max_dim: int = 32) -> st.SearchStrategy[int]:
    """Dimensions 1..max_dim."""
    return st.integers(min_value=1, max_value=max_dim)


def depths(max_depth: int = 40) -> st.SearchStrategy[int]:
    """Network depths (numbers of layers) 1..max_depth."""
    return st.integers(min_value=1, max_value=max_depth)


def conditions(max_cond: float = 1e3) -> st.SearchStrategy[float]:
    """Condition numbers in [1, max_cond], log-uniform-ish (powers of ten with a mantissa)."""
    return st.floats(min_value=0.0, max_value=float(np.log10(max_cond))).map(lambda e: 10.0**e)


@st.composite
def spd_matrices(
    draw: st.DrawFn, n: int | st.SearchStrategy[int], max_cond: float = 1e3, top: float = 1.0
) -> np.ndarray:
    """Random SPD n x n matrices with condition number in [1, max_cond], largest eigenvalue top.

    ``n`` may itself be a strategy. The eigenvectors come from a seeded NumPy generator, so
    every example is reproducible from Hypothesis' choices (see :func:`random_spd`).
    """
    size = draw(n) if isinstance(n, st.SearchStrategy) else n
    cond = draw(conditions(max_cond))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return random_spd(size, cond, np.random.default_rng(seed), top=top)


def initial_points(n: int, bound: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """Initial points x_0 in [-bound, bound]^n (finite float64 vectors)."""
    return arrays(
        np.float64,
        (n,),
        elements=st.floats(min_value=-bound, max_value=bound, allow_nan=False, width=64),
    )
