"""Seed statistics of a study: t intervals, paired differences and a bootstrap (numpy only).

Tables 4-5 of the paper print one error per model; a study gives each model several seeds, so a
difference can be told from seed noise. For a model: mean, sample standard deviation and the
Student-t 95 % interval of the mean. Against a baseline trained on the same seeds: the per-seed
differences d_s = err_model(s) - err_baseline(s), their paired t interval and a percentile
bootstrap interval of their mean (fixed generator seed, so the numbers are reproducible). A
difference whose paired t interval contains 0 is reported as not resolved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
NOT_RESOLVED = "not resolved at this budget"


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> list[float] | None:
    """Student-t interval of the mean, ``[low, high]``; None with fewer than two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1)) * x.std(ddof=1) / math.sqrt(x.size)
    return [float(x.mean() - half), float(x.mean() + half)]


def bootstrap_interval(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> list[float] | None:
    """Percentile bootstrap interval of the mean (``resamples`` draws with replacement)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    low, high = np.quantile(means, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return [float(low), float(high)]


def describe(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample std (ddof 1; None for one value) and the t interval of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    return {
        "n": int(x.size),
        "mean": float(x.mean()) if x.size else None,
        "std": float(x.std(ddof=1)) if x.size > 1 else None,
        "ci": t_interval(values),
    }


def paired(model: Mapping[int, float], baseline: Mapping[int, float]) -> dict[str, Any]:
    """Differences model - baseline over the seeds both have, with their two intervals.

    ``verdict`` is :data:`NOT_RESOLVED` when the paired t interval contains 0 (or there are
    fewer than two pairs), else which of the two has the lower error.
    """
    seeds = sorted(set(model) & set(baseline))
    diffs = [model[s] - baseline[s] for s in seeds]
    summary = describe(diffs)
    ci = summary["ci"]
    if ci is None or ci[0] <= 0.0 <= ci[1]:
        verdict = NOT_RESOLVED
    else:
        verdict = "lower error than the baseline" if ci[1] < 0 else "higher error than the baseline"
    return {
        "seeds": seeds,
        "differences": diffs,
        **summary,
        "bootstrap_ci": bootstrap_interval(diffs),
        "verdict": verdict,
    }
