"""Table 2's results summarised (Sec. 5.3): mean ± std per (structure, depth), rankings beside
the paper's, differences to GD (7) paired by seed, and the run's speed, as typed records.

:meth:`Table2Summary.to_json` is the ``summary`` of ``results.json``; the paper's printed values
come from one place, :func:`paper_mse`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from optnet_nets.simulate.config import SimulateConfig
from optnet_nets.unrolled import PAPER_LABELS
from optnet_theory.methods.catalogue.paper import GD
from optnet_theory.paper_values import (
    SIMULATION_DIM,
    SIMULATION_EPOCHS,
    SIMULATION_SAMPLES,
    TABLE2_DEPTHS,
    TABLE2_MSE,
)

__all__ = [
    "Cell",
    "PairedDifference",
    "Ranking",
    "SimulationResult",
    "Speed",
    "Table2Summary",
    "pairwise_agreement",
    "paper_mse",
    "summarize",
]


def paper_mse(structure: str, depth: int) -> float | None:
    """The MSE Table 2 prints for ``structure`` at ``depth``; None where it prints none."""
    if structure not in PAPER_LABELS or depth not in TABLE2_DEPTHS:
        return None
    return TABLE2_MSE[PAPER_LABELS[structure]][TABLE2_DEPTHS.index(depth)]


@dataclass
class SimulationResult:
    """Per (depth, seed) records of a run (``partial/*.json``) plus its GEMM peak."""

    config: SimulateConfig
    runs: list[dict[str, Any]] = field(default_factory=list)  # one per (depth, seed)
    gemm_peak_flops: float = 0.0
    gemm_peak_threads: int = 0  # threads of that measurement: those of one training process

    def mse(self, structure: str, depth: int) -> list[float]:
        return [r["mse"][structure] for r in self.runs if r["depth"] == depth]

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "runs": self.runs,
            "gemm_peak_flops": self.gemm_peak_flops,
            "gemm_peak_threads": self.gemm_peak_threads,
            "summary": summarize(self).to_json(),
        }


@dataclass(frozen=True)
class Cell:
    """MSE of one structure at one depth over the ``n`` seeds finished."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class PairedDifference:
    """MSE minus GD's, seed by seed (same data, same initial weights)."""

    mean: float
    std: float
    better_in: int  # seeds where the structure's MSE is below GD's
    n: int


@dataclass(frozen=True)
class Ranking:
    """Structures at one depth, lowest MSE first, beside the paper's ranking where it has one."""

    ours: list[str]
    paper: list[str] | None = None  # Table 2's structures at a printed depth
    agreement: tuple[int, int] | None = None  # pairwise orderings agreeing, of all pairs
    paired_vs_gd: dict[str, PairedDifference] | None = None  # when GD ran

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ours": self.ours}
        if self.paper is not None and self.agreement is not None:
            out["paper"] = self.paper
            out["pairwise_agreement"] = list(self.agreement)
        if self.paired_vs_gd is not None:
            out["paired_vs_gd"] = {s: dataclasses.asdict(v) for s, v in self.paired_vs_gd.items()}
        return out


@dataclass(frozen=True)
class Speed:
    """How fast the ensemble that trained one depth ran (its last process)."""

    train_seconds: float
    achieved_flops: float
    gemm_fraction: float | None  # of the run's measured GEMM peak
    engine: str
    threads: int | None
    epochs_in_last_process: int


@dataclass(frozen=True)
class Table2Summary:
    """Everything :func:`summarize` computes; keys are depths."""

    table: dict[int, dict[str, Cell]]
    rankings: dict[int, Ranking]  # depths with at least one finished seed
    methods: dict[str, dict[str, Any]] | None  # parameters as run (L, mu, ...)
    mu_source: str | None
    paper_setting: bool  # d, samples and epochs as in Sec. 5.3
    train_seconds_by_depth: dict[int, float | None]
    total_train_seconds: float
    speed_by_depth: dict[int, Speed]
    achieved_flops_median: float | None
    gemm_peak_flops: float
    gemm_fraction: float | None

    def to_json(self) -> dict[str, Any]:
        """The ``summary`` of ``results.json`` (depths as strings)."""
        return {
            "table": {
                str(d): {s: dataclasses.asdict(c) for s, c in row.items()}
                for d, row in self.table.items()
            },
            "rankings": {str(d): r.to_json() for d, r in self.rankings.items()},
            "methods": self.methods,
            "mu_source": self.mu_source,
            "paper_setting": self.paper_setting,
            "train_seconds_by_depth": {str(d): t for d, t in self.train_seconds_by_depth.items()},
            "total_train_seconds": self.total_train_seconds,
            "speed_by_depth": {str(d): dataclasses.asdict(v)
                               for d, v in self.speed_by_depth.items()},
            "achieved_flops_median": self.achieved_flops_median,
            "gemm_peak_flops": self.gemm_peak_flops,
            "gemm_fraction": self.gemm_fraction,
        }


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def pairwise_agreement(ours: dict[str, float], paper: dict[str, float]) -> tuple[int, int]:
    """Of the pairs of structures in both, how many ``ours`` orders as ``paper`` does."""
    names = [s for s in ours if s in paper]
    agree = total = 0
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            total += 1
            agree += (ours[a] < ours[b]) == (paper[a] < paper[b])
    return agree, total


def _cells(result: SimulationResult, depth: int) -> dict[str, Cell]:
    row = {}
    for s in result.config.structures:
        values = result.mse(s, depth)
        if values:
            row[s] = Cell(*_mean_std(values), n=len(values))
    return row


def _paired_vs_gd(result: SimulationResult, depth: int, row: dict[str, Cell]
                  ) -> dict[str, PairedDifference]:
    by_seed = {r["seed"]: r["mse"] for r in result.runs if r["depth"] == depth}
    paired = {}
    for s in row:
        if s != GD.name:
            diffs = [m[s] - m[GD.name] for m in by_seed.values()]
            paired[s] = PairedDifference(*_mean_std(diffs), better_in=sum(d < 0 for d in diffs),
                                         n=len(diffs))
    return paired


def _ranking(result: SimulationResult, depth: int, row: dict[str, Cell]) -> Ranking:
    means = {s: c.mean for s, c in row.items()}
    printed = {s: v for s in means if (v := paper_mse(s, depth)) is not None}
    return Ranking(
        ours=sorted(means, key=means.__getitem__),
        paper=sorted(printed, key=printed.__getitem__) if printed else None,
        agreement=pairwise_agreement(means, printed) if printed else None,
        paired_vs_gd=_paired_vs_gd(result, depth, row) if GD.name in row else None,
    )


def _speed(result: SimulationResult) -> dict[int, Speed]:
    """Per depth, of the ensemble that trained it (the last record of the depth)."""
    peak = result.gemm_peak_flops
    return {
        r["depth"]: Speed(
            train_seconds=r["train_seconds"],
            achieved_flops=r["achieved_flops"],
            gemm_fraction=r["achieved_flops"] / peak if peak else None,
            engine=r.get("engine", "autograd"),
            threads=r.get("threads"),
            epochs_in_last_process=r["epochs_in_this_process"],
        )
        for r in result.runs
    }


def _total_train_seconds(runs: list[dict[str, Any]]) -> float:
    """Training time of the run: one entry per ensemble trained (depths may share one)."""
    per_ensemble = {
        (tuple(r.get("ensemble_depths", [r["depth"]])), tuple(r["ensemble_seeds"])):
            r["train_seconds"]
        for r in runs
    }
    return sum(per_ensemble.values()) if runs else 0.0


def summarize(result: SimulationResult) -> Table2Summary:
    """Mean ± std per (structure, depth), rankings beside the paper's, and speed figures."""
    cfg, runs = result.config, result.runs
    table = {depth: _cells(result, depth) for depth in cfg.depths}
    flops = sorted(r["achieved_flops"] for r in runs if r["achieved_flops"] > 0)
    median = flops[len(flops) // 2] if flops else None
    described = [r for r in runs if "methods" in r]
    return Table2Summary(
        table=table,
        rankings={depth: _ranking(result, depth, row) for depth, row in table.items() if row},
        methods=described[-1]["methods"] if described else None,
        mu_source=described[-1].get("mu_source") if described else None,
        paper_setting=(cfg.dim == SIMULATION_DIM and cfg.samples == SIMULATION_SAMPLES
                       and cfg.epochs == SIMULATION_EPOCHS),
        train_seconds_by_depth={  # the ensemble's time when depths trained together
            d: max((r["train_seconds"] for r in runs if r["depth"] == d), default=None)
            for d in cfg.depths
        },
        total_train_seconds=_total_train_seconds(runs),
        speed_by_depth=_speed(result),
        achieved_flops_median=median,
        gemm_peak_flops=result.gemm_peak_flops,
        gemm_fraction=median / result.gemm_peak_flops
        if median is not None and result.gemm_peak_flops
        else None,
    )
