"""Rank statistics for "does ranking A predict ranking B?" over a handful of methods.

Spearman's rho (average ranks for ties), a paired bootstrap interval over seeds, a permutation
p-value over the methods, and the verdict rule that combines them (used by
:mod:`optnet_nets.hypothesis`). numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from optnet_nets.study.statistics import NOT_RESOLVED
from optnet_theory.errors import OptnetError

__all__ = ["bootstrap_spearman", "permutation_p", "spearman", "verdict"]

#: bootstrap resamples of the seeds.
BOOTSTRAP_RESAMPLES = 4000


def _ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), 0-based."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    for value in np.unique(v):
        tie = v == value
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (nan when a side is constant)."""
    if len(a) != len(b) or len(a) < 2:
        raise OptnetError(
            f"spearman needs two sequences of equal length >= 2, got {len(a)} and {len(b)}")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb / denom) if denom > 0 else float("nan")


def bootstrap_spearman(
    certified: Mapping[str, float],
    per_seed: Mapping[str, Sequence[float]],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """rho of the per-method seed means against ``certified``, and a 95 % percentile interval.

    Seeds are resampled with replacement, the same indices for every method (runs of one seed
    share data and initialisation across methods, so they are paired).
    """
    names = [m for m in certified if m in per_seed]
    counts = {len(per_seed[m]) for m in names}
    if len(names) < 3 or len(counts) != 1:
        raise OptnetError(f"need >= 3 methods with the same number of seeds, got {names}")
    n = counts.pop()
    table = np.array([per_seed[m] for m in names], dtype=float)  # (methods, seeds)
    cert = [certified[m] for m in names]
    rho = spearman(cert, table.mean(axis=1))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        r = spearman(cert, table[:, idx].mean(axis=1))
        if not math.isnan(r):
            draws.append(r)
    if not draws:
        return rho, float("nan"), float("nan")
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return rho, float(lo), float(hi)


def permutation_p(a: Sequence[float], b: Sequence[float], *, draws: int = 20000,
                  seed: int = 0) -> float:
    """Two-sided p-value of Spearman's rho under random pairing of the methods."""
    rho = spearman(a, b)
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if denom == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((draws, len(rb))), axis=1)  # one random pairing per row
    rhos = rb[perms] @ ra / denom
    hits = int(np.sum(np.abs(rhos) >= abs(rho) - 1e-12))
    return (hits + 1) / (draws + 1)


def verdict(rho: float, lo: float | None, hi: float | None, p: float) -> str:
    """What the numbers support (the hypothesis predicts rho > 0); see the module docstring."""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return f"{NOT_RESOLVED} (no interval)"
    if p >= 0.05:
        return f"{NOT_RESOLVED} (permutation p = {p:.2f})"
    if rho > 0 and lo > 0:
        return "supported"
    if rho < 0 and hi < 0:
        return "contradicted"
    return f"{NOT_RESOLVED} (the seed interval includes 0)"
