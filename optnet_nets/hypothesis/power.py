"""The power analysis of the plan: by simulation, from the pilot's variance, before the run.

The methods are the sample size and seeds only reduce noise: with n methods no permutation
test reaches p below 2/n!, and with 8 methods the smallest Spearman rho that reaches two-sided
p <= 0.05 is 0.714, so a true rho of 0.6 cannot be detected at any number of seeds.

Model. Method m has the certified log-rate x_m; its true quality is
mu_m = sigma_between (rho z_m + sqrt(1 - rho^2) e_m), z the standardised ranks of x, e standard
normal (so the rank correlation of speed and quality is about ``rho``); seed s adds a seed
effect (shared by every method, as the seeds share data) and independent noise of standard
deviation sigma_seed. sigma_between and sigma_seed come from the pilot (two seeds of every
candidate): the spread of the method means and the residual of a two-way (method x seed)
decomposition. For each design (number of levels, seeds) the power is the share of simulated
experiments whose verdict, by the plan's rule, is "supported".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from optnet_nets.hypothesis.rank_statistics import (
    ALPHA,
    SUPPORTED,
    min_attainable_p,
    paired_tied_ranks,
    verdict,
)

__all__ = ["TARGET_POWER", "TARGET_RHO", "Design", "pilot_variance", "power_of",
           "simulate_power"]

#: the rank correlation the experiment is sized to detect.
TARGET_RHO = 0.6
#: the power it is sized for.
TARGET_POWER = 0.8


@dataclass(frozen=True)
class Design:
    levels: int
    seeds: int
    methods: int
    power: float
    min_attainable_p: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pilot_variance(table: np.ndarray) -> tuple[float, float]:
    """(sigma_between, sigma_seed) of a pilot's quality table (methods x seeds)."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] < 3 or t.shape[1] < 2:
        raise ValueError("a pilot needs >= 3 methods and >= 2 seeds")
    means = t.mean(axis=1)
    residual = t - means[:, None] - t.mean(axis=0)[None, :] + t.mean()
    dof = (t.shape[0] - 1) * (t.shape[1] - 1)
    return float(means.std(ddof=1)), float(math.sqrt(float(np.sum(residual**2)) / dof))


def _quick_p(x_ranks: np.ndarray, quality_ranks: np.ndarray, rng: np.random.Generator,
             draws: int) -> float:
    """A permutation p from ``draws`` random pairings (the simulation's stand-in for the
    exact test; the run itself uses :func:`permutation_p`)."""
    a = x_ranks - x_ranks.mean()
    b = quality_ranks - quality_ranks.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    if denom == 0:
        return 1.0
    obs = float(a @ b) / denom
    perms = np.argsort(rng.random((draws, len(b))), axis=1)
    hits = int(np.sum(np.abs(b[perms] @ a / denom) >= abs(obs) - 1e-12))
    return (hits + 1) / (draws + 1)


def power_of(log_rates: Sequence[float], seeds: int, sigma_between: float, sigma_seed: float,
             *, rho: float = TARGET_RHO, simulations: int = 300, seed: int = 0,
             bootstrap: int = 200, draws: int = 2000) -> float:
    """The share of simulated experiments (module docstring) whose verdict is supported."""
    rng = np.random.default_rng(seed)
    x = np.asarray(log_rates, dtype=float)
    n = len(x)
    if min_attainable_p(n) >= ALPHA:
        return 0.0
    ranks = np.argsort(np.argsort(x)).astype(float)
    z = (ranks - ranks.mean()) / ranks.std()
    hits = 0
    for _ in range(simulations):
        mu = sigma_between * (rho * z + math.sqrt(1 - rho * rho) * rng.standard_normal(n))
        table = (mu[:, None] + rng.standard_normal(seeds)[None, :] * sigma_seed
                 + rng.standard_normal((n, seeds)) * sigma_seed)
        quality = paired_tied_ranks(table)
        p = _quick_p(ranks, quality, rng, draws)
        obs = float(np.corrcoef(ranks, quality)[0, 1]) if quality.std() > 0 else math.nan
        boots = []
        for _b in range(bootstrap):
            cols = rng.integers(0, seeds, seeds)
            q = paired_tied_ranks(table[:, cols])
            if q.std() > 0:
                boots.append(float(np.corrcoef(ranks, q)[0, 1]))
        if not boots:
            continue
        lo, hi = np.percentile(boots, [2.5, 97.5])
        if verdict(obs, float(lo), float(hi), p, n) == SUPPORTED:
            hits += 1
    return hits / simulations


def simulate_power(level_rates: Sequence[float], fixed_rates: Sequence[float],
                   sigma_between: float, sigma_seed: float, *,
                   level_counts: Sequence[int], seed_counts: Sequence[int],
                   simulations: int = 300) -> list[Design]:
    """Power of every design: the first ``levels`` entries of an even spread of
    ``level_rates`` (log-rates, slowest to fastest) plus the ``fixed_rates`` (the registered
    methods), at each number of seeds."""
    out = []
    pool = sorted(level_rates)
    for levels in level_counts:
        idx = np.unique(np.round(np.linspace(0, len(pool) - 1, levels)).astype(int))
        rates = [pool[i] for i in idx] + list(fixed_rates)
        for seeds in seed_counts:
            power = power_of(rates, seeds, sigma_between, sigma_seed, simulations=simulations)
            out.append(Design(len(idx), seeds, len(rates), power, min_attainable_p(len(rates))))
    return out
