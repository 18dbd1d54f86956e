"""Rank statistics for "does ranking A predict ranking B?" over a set of methods.

Spearman's rho and Kendall's tau (average ranks for ties), exact permutation p-values over the
methods (every permutation for n <= 9, else 10^5 random ones), a paired bootstrap interval over
seeds, the two tie rules, and the verdict rule that combines them:

* two certified rates whose intervals overlap are tied (:func:`interval_ranks`);
* two quality means closer than the standard error of their difference are tied
  (:func:`tied_ranks`; :func:`paired_tied_ranks` when seeds are paired);
* with n methods no permutation test can reach p below 2/n! (:func:`min_attainable_p`); when
  that is >= 0.05 (n <= 4) the verdict is "undecidable by design", whatever the data.

numpy only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from optnet_nets.study.statistics import NOT_RESOLVED
from optnet_theory.errors import OptnetError

__all__ = [
    "CONTRADICTED",
    "NOT_RESOLVED",
    "SUPPORTED",
    "UNDECIDABLE",
    "VERDICTS",
    "bootstrap_spearman",
    "interval_ranks",
    "kendall",
    "min_attainable_p",
    "paired_tied_ranks",
    "permutation_p",
    "spearman",
    "tied_ranks",
    "verdict",
]

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
UNDECIDABLE = "undecidable by design"
#: every verdict, in one place (the hypothesis plan and summary use the same strings).
VERDICTS: tuple[str, ...] = (SUPPORTED, CONTRADICTED, NOT_RESOLVED, UNDECIDABLE)
#: bootstrap resamples of the seeds.
BOOTSTRAP_RESAMPLES = 4000
#: enumerate every permutation up to this many methods; sample beyond.
EXACT_PERMUTATIONS = 9
#: random permutations beyond :data:`EXACT_PERMUTATIONS`.
RANDOM_PERMUTATIONS = 100_000
#: the level of the tests.
ALPHA = 0.05


def _average_ranks(keys: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Ranks by ``keys`` (0-based), averaged within each tie group label of ``groups``."""
    order = np.argsort(keys, kind="mergesort")
    ranks = np.empty(len(keys))
    ranks[order] = np.arange(len(keys), dtype=float)
    for g in np.unique(groups):
        tie = groups == g
        ranks[tie] = ranks[tie].mean()
    return ranks


def _ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Average ranks (equal values share the mean rank), 0-based."""
    v = np.asarray(values, dtype=float)
    _, groups = np.unique(v, return_inverse=True)
    return _average_ranks(v, groups)


def _chain_groups(order: np.ndarray, linked: Sequence[bool]) -> np.ndarray:
    """Group labels along ``order``: consecutive items with ``linked[k]`` share a group."""
    groups = np.empty(len(order), dtype=int)
    label = 0
    for k, i in enumerate(order):
        if k and not linked[k - 1]:
            label += 1
        groups[i] = label
    return groups


def tied_ranks(means: Sequence[float] | np.ndarray,
               errors: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks of ``means`` where neighbours closer than the standard error of their difference,
    sqrt(se_a^2 + se_b^2), are tied (chains of such neighbours form one tie group)."""
    m, e = np.asarray(means, dtype=float), np.asarray(errors, dtype=float)
    order = np.argsort(m, kind="mergesort")
    linked = [abs(m[b] - m[a]) < math.hypot(e[a], e[b]) for a, b in itertools.pairwise(order)]
    return _average_ranks(m, _chain_groups(order, linked))


def paired_tied_ranks(table: np.ndarray) -> np.ndarray:
    """Ranks of the methods' seed means (rows of ``table``: methods x seeds, the same seed in
    one column for every method), neighbours closer than the standard error of their paired
    difference, std_s(q_a - q_b)/sqrt(S), tied (chains of them form one group). With one seed
    nothing is tied."""
    t = np.asarray(table, dtype=float)
    means = t.mean(axis=1)
    order = np.argsort(means, kind="mergesort")
    S = t.shape[1]
    if S > 1 and len(order) > 1:
        diff = t[order[1:]] - t[order[:-1]]
        se = diff.std(axis=1, ddof=1) / math.sqrt(S)
        linked = np.abs(means[order[1:]] - means[order[:-1]]) < se
    else:
        linked = np.zeros(max(len(order) - 1, 0), dtype=bool)
    groups = np.empty(len(order), dtype=int)
    groups[order] = np.concatenate([[0], np.cumsum(~linked)])
    ranks = np.empty(len(order))
    ranks[order] = np.arange(len(order), dtype=float)
    sums = np.bincount(groups, weights=ranks)
    counts = np.bincount(groups)
    return (sums / counts)[groups]


def interval_ranks(intervals: Sequence[tuple[float, float]]) -> np.ndarray:
    """Ranks of certified intervals [low, high] by their midpoints; overlapping neighbours are
    tied ("tied within certification accuracy")."""
    iv = np.asarray(intervals, dtype=float)
    mid = iv.mean(axis=1)
    order = np.argsort(mid, kind="mergesort")
    linked = [iv[b, 0] <= iv[a, 1] for a, b in itertools.pairwise(order)]
    return _average_ranks(mid, _chain_groups(order, linked))


def _pearson(ra: np.ndarray, rb: np.ndarray) -> float:
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb / denom) if denom > 0 else float("nan")


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
             ranked: bool = False) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (nan when a side is constant).
    ``ranked``: ``a`` and ``b`` are ranks already (e.g. from :func:`tied_ranks`)."""
    if len(a) != len(b) or len(a) < 2:
        raise OptnetError(
            f"spearman needs two sequences of equal length >= 2, got {len(a)} and {len(b)}")
    if ranked:
        return _pearson(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return _pearson(_ranks(a), _ranks(b))


def kendall(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b (ties in either ranking counted as neither concordant nor discordant)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y) or len(x) < 2:
        raise OptnetError(f"kendall needs two sequences of equal length >= 2, got {len(x)}")
    i, j = np.triu_indices(len(x), 1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    denom = math.sqrt(float(np.sum(sx != 0)) * float(np.sum(sy != 0)))
    return float(np.sum(sx * sy) / denom) if denom > 0 else float("nan")


def min_attainable_p(n: int) -> float:
    """The smallest two-sided permutation p over n methods: 2/n! (1 for n < 2)."""
    return 1.0 if n < 2 else min(1.0, 2.0 / math.factorial(n))


def _statistics(ra: np.ndarray, rb_perm: np.ndarray, statistic: str) -> np.ndarray:
    """The statistic of ``ra`` against each row of ``rb_perm`` (permuted copies of b)."""
    if statistic == "spearman":
        ca = ra - ra.mean()
        cb = rb_perm - rb_perm.mean(axis=1, keepdims=True)
        denom = np.sqrt(float(ca @ ca) * np.sum(cb * cb, axis=1))
        return (cb @ ca) / denom
    i, j = np.triu_indices(len(ra), 1)
    sx = np.sign(ra[i] - ra[j])
    sy = np.sign(rb_perm[:, i] - rb_perm[:, j])
    denom = np.sqrt(float(np.sum(sx != 0)) * np.sum(sy != 0, axis=1))
    return (sy @ sx) / denom


def permutation_p(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                  statistic: str = "spearman",
                  ranked: bool = False, seed: int = 0) -> float:
    """Two-sided p of ``statistic`` ("spearman" or "kendall") under random pairing of the
    methods: the share of pairings at least as extreme as the observed one. Every permutation
    for n <= :data:`EXACT_PERMUTATIONS` (exact), else :data:`RANDOM_PERMUTATIONS` random ones
    plus the observed one."""
    if statistic not in ("spearman", "kendall"):
        raise OptnetError(f"statistic must be spearman or kendall, got {statistic!r}")
    ra = np.asarray(a, dtype=float) if ranked else _ranks(a)
    rb = np.asarray(b, dtype=float) if ranked else _ranks(b)
    n = len(rb)
    observed = float(_statistics(ra, rb[None, :], statistic)[0])
    if math.isnan(observed):
        return 1.0
    if n <= EXACT_PERMUTATIONS:
        perms = np.array(list(itertools.permutations(range(n))))
        values = _statistics(ra, rb[perms], statistic)
        return float(np.mean(np.abs(values) >= abs(observed) - 1e-12))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, RANDOM_PERMUTATIONS, 10_000):
        count = min(10_000, RANDOM_PERMUTATIONS - start)
        perms = np.argsort(rng.random((count, n)), axis=1)
        hits += int(np.sum(np.abs(_statistics(ra, rb[perms], statistic))
                           >= abs(observed) - 1e-12))
    return (hits + 1) / (RANDOM_PERMUTATIONS + 1)


def bootstrap_spearman(
    certified: Mapping[str, float],
    per_seed: Mapping[str, Sequence[float]],
    *,
    certified_ranks: Sequence[float] | np.ndarray | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """rho of the per-method seed means (ranked with the paired tie rule) against
    ``certified`` (or its precomputed ``certified_ranks``), and a 95 % percentile interval.

    Seeds are resampled with replacement, the same indices for every method (runs of one seed
    share data and initialisation across methods, so they are paired).
    """
    names = [m for m in certified if m in per_seed]
    counts = {len(per_seed[m]) for m in names}
    if len(names) < 3 or len(counts) != 1:
        raise OptnetError(f"need >= 3 methods with the same number of seeds, got {names}")
    n = counts.pop()
    table = np.array([per_seed[m] for m in names], dtype=float)  # (methods, seeds)
    cert = (np.asarray(certified_ranks, dtype=float) if certified_ranks is not None
            else _ranks([certified[m] for m in names]))

    def rho_of(block: np.ndarray) -> float:
        return _pearson(cert, paired_tied_ranks(block))

    rho = rho_of(table)
    rng = np.random.default_rng(seed)
    draws = [r for r in (rho_of(table[:, rng.integers(0, n, n)]) for _ in range(resamples))
             if not math.isnan(r)]
    if not draws:
        return rho, float("nan"), float("nan")
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return rho, float(lo), float(hi)


def verdict(rho: float, lo: float | None, hi: float | None, p: float, n: int) -> str:
    """What the numbers support over ``n`` methods (the hypothesis predicts rho > 0): one of
    :data:`VERDICTS`, with the reason where it is not a decision."""
    if min_attainable_p(n) >= ALPHA:
        return (f"{UNDECIDABLE} (with {n} methods the smallest attainable p is "
                f"2/{n}! = {min_attainable_p(n):.3g})")
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi) or math.isnan(rho):
        return f"{NOT_RESOLVED} (no interval)"
    if p >= ALPHA:
        return f"{NOT_RESOLVED} (permutation p = {p:.2f})"
    if rho > 0 and lo > 0:
        return SUPPORTED
    if rho < 0 and hi < 0:
        return CONTRADICTED
    return f"{NOT_RESOLVED} (the seed interval includes 0)"
