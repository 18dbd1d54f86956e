"""``optnet hypothesis summarize``: the verdict by the plan's rule, from the run files.

Spearman's rho and Kendall's tau between the certified ranking (ties: overlapping intervals)
and the quality ranking (ties: differences within the standard error of the paired seed
difference), permutation p-values (exact up to 9 methods, else 10^5 random permutations), a
95 % seed-bootstrap interval of rho, the slope of quality on the certified log-rate with its
seed-bootstrap interval, and the verdict of the plan's rule. Writes ``summary.json`` (with
``methods``, ``p_value``, ``verdict``), ``summary.md`` and ``dose_response.png`` (quality
against certified rate, one point per method with its intervals). Every number comes from the
run files; the plan must predate them.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np

from optnet_nets.hypothesis.levels import Level
from optnet_nets.hypothesis.rank_statistics import (
    EXACT_PERMUTATIONS,
    RANDOM_PERMUTATIONS,
    bootstrap_spearman,
    interval_ranks,
    kendall,
    min_attainable_p,
    paired_tied_ranks,
    permutation_p,
    spearman,
    verdict,
)
from optnet_nets.hypothesis.runner import quality_table
from optnet_nets.hypothesis.settings import Setting
from optnet_theory.errors import OptnetError

__all__ = ["format_summary", "summarize"]

#: seed-bootstrap resamples of the slope.
SLOPE_RESAMPLES = 4000


#: the dose-response plot beside summary.md.
PLOT_NAME = "dose_response.png"


def _slope(x: np.ndarray, table: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Least-squares slope of the seed-mean quality on x, and its 95 % seed-bootstrap interval."""
    def fit(block: np.ndarray) -> float:
        return float(np.polyfit(x, block.mean(axis=1), 1)[0])

    rng = np.random.default_rng(seed)
    S = table.shape[1]
    draws = [fit(table[:, rng.integers(0, S, S)]) for _ in range(SLOPE_RESAMPLES)]
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return fit(table), float(lo), float(hi)


def summarize(plan: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The summary of the main run in ``folder`` under ``plan`` (module docstring)."""
    setting = Setting(**plan["setting"])
    methods = [Level.from_json(m) for m in plan["methods"]]
    seeds = [int(s) for s in plan["seeds"]]
    table, stamps = quality_table(setting, methods, seeds, folder / "main")
    created = dt.datetime.fromisoformat(plan["created"]).timestamp()
    if stamps and min(stamps) < created:
        raise OptnetError("a run file is older than the plan: the verdict must follow a plan "
                          "fixed before the runs")
    n = len(methods)
    cert = interval_ranks([m.rate for m in methods])
    quality = paired_tied_ranks(table)
    rho = spearman(cert, quality, ranked=True)
    tau = kendall(cert, quality)
    p = permutation_p(cert, quality, ranked=True)
    p_tau = permutation_p(cert, quality, ranked=True, statistic="kendall")
    names = [m.name for m in methods]
    per_seed = {name: list(row) for name, row in zip(names, table, strict=True)}
    if table.shape[1] >= 2:
        _, lo, hi = bootstrap_spearman({m: 0.0 for m in names}, per_seed, certified_ranks=cert)
        slope = _slope(np.log([m.mid for m in methods]), table)
    else:
        lo, hi, slope = math.nan, math.nan, (math.nan, math.nan, math.nan)
    decided = verdict(rho, lo, hi, p, n)
    means = table.mean(axis=1)
    se = table.std(axis=1, ddof=1) / math.sqrt(table.shape[1]) if table.shape[1] > 1 \
        else np.zeros(n)
    return {
        "setting": setting.name,
        "endpoint": plan["endpoint"],
        "plan_created": plan["created"],
        "methods": [
            {**m.to_json(), "quality_mean": float(means[i]), "quality_se": float(se[i]),
             "quality": [float(v) for v in table[i]], "certified_rank": float(cert[i]),
             "quality_rank": float(quality[i])}
            for i, m in enumerate(methods)
        ],
        "seeds": seeds,
        "spearman": rho, "kendall": tau, "p_value": p, "p_value_kendall": p_tau,
        "bootstrap_interval": [lo, hi],
        "slope_quality_on_log_rate": {"slope": slope[0], "interval": [slope[1], slope[2]]},
        "min_attainable_p": min_attainable_p(n),
        "verdict": decided,
        "verdict_rule": plan["verdict_rule"],
        "diverged_rule": plan.get("diverged_rule"),
        "power": plan["power"]["statement"],
    }


def _p_kind(n: int) -> str:
    """How the permutation p over ``n`` methods was computed (:func:`permutation_p`)."""
    if n <= EXACT_PERMUTATIONS:
        return "exact"
    return (f"{RANDOM_PERMUTATIONS:,} random permutations, smallest possible "
            f"{1 / (RANDOM_PERMUTATIONS + 1):.1g},")


def format_summary(s: dict[str, Any]) -> str:
    """The summary as Markdown."""
    lines = [
        f"# The hypothesis, {s['setting']}",
        "",
        f"Endpoint: {s['endpoint']}. Seeds: {s['seeds']}. Plan fixed {s['plan_created']}.",
        f"Design: {s['power']}.",
        "",
        "| method | certified N-step rate | Lyapunov rate | quality (mean ± SE) | "
        "certified rank | quality rank |",
        "|---|---|---|---|---|---|",
    ]
    for m in sorted(s["methods"], key=lambda m: m["certified_rank"]):
        lo, hi = m["rate"]
        rate = f"{lo:.6f}" if hi - lo < 5e-7 else f"[{lo:.6f}, {hi:.6f}]"
        lyap = "–" if m["lyapunov"] is None else f"{m['lyapunov']:.4f}"
        lines.append(f"| {m['name']} | {rate} | {lyap} | {m['quality_mean']:.5f} ± "
                     f"{m['quality_se']:.5f} | {m['certified_rank']:g} | {m['quality_rank']:g} |")
    lo, hi = s["bootstrap_interval"]
    slope = s["slope_quality_on_log_rate"]
    lines += [
        "",
        f"- Spearman rho = {s['spearman']:+.3f} ({_p_kind(len(s['methods']))} permutation p = "
        f"{s['p_value']:.3g}; "
        f"95 % seed-bootstrap interval [{lo:+.3f}, {hi:+.3f}]); Kendall tau = "
        f"{s['kendall']:+.3f} (p = {s['p_value_kendall']:.3g}).",
        f"- Slope of quality on the certified log-rate: {slope['slope']:+.4g} (95 % seed "
        f"bootstrap [{slope['interval'][0]:+.4g}, {slope['interval'][1]:+.4g}]).",
        f"- Smallest attainable p with {len(s['methods'])} methods: "
        f"{s['min_attainable_p']:.3g}.",
        f"- **Verdict: {s['verdict']}.**",
        "",
        f"Rule (fixed in the plan): {s['verdict_rule']}",
    ]
    if s.get("diverged_rule"):
        lines += ["", f"Diverged runs (fixed in the plan): {s['diverged_rule']}"]
    lines += ["", f"![quality against certified rate]({PLOT_NAME})"]
    return "\n".join(lines)


def plot_dose_response(s: dict[str, Any], path: Path) -> None:
    """Quality against certified rate, one point per method, with both intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for origin, marker in (("level", "o"), ("registered", "s")):
        ms = [m for m in s["methods"] if m["origin"] == origin]
        if not ms:
            continue
        x = [0.5 * (m["rate"][0] + m["rate"][1]) for m in ms]
        xerr = [[xi - m["rate"][0] for xi, m in zip(x, ms, strict=True)],
                [m["rate"][1] - xi for xi, m in zip(x, ms, strict=True)]]
        ax.errorbar(x, [m["quality_mean"] for m in ms], yerr=[m["quality_se"] for m in ms],
                    xerr=xerr, fmt=marker, capsize=2, label=f"{origin} methods")
        if origin == "registered":
            for xi, m in zip(x, ms, strict=True):
                ax.annotate(m["name"], (xi, m["quality_mean"]), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
    ax.set_xscale("log")
    ax.set_xlabel("certified N-step rate (smaller is faster)")
    ax.set_ylabel("quality (" + s["endpoint"].split(" (")[0] + "), mean ± SE")
    ax.set_title(f"{s['setting']}: rho = {s['spearman']:+.2f}, p = {s['p_value']:.2g} "
                 f"({s['verdict'].split(' (')[0]})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
