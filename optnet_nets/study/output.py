"""A study's summary as tables (Markdown, and rows for ``optnet report``), JSON and a PNG.

Errors are in percent and differences in percentage points (pp), model minus baseline: a
negative difference means the model has the lower test error, as the paper's Tables 4-5 claim
for HB-Net and AGD-Net.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from optnet_nets.study.grid import STUDY_JSON, STUDY_MD, STUDY_PNG
from optnet_nets.study.summary import METRICS
from optnet_theory.atomic import write_text

Table = tuple[list[str], list[list[str]]]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _interval(ci: list[float] | None) -> str:
    return "–" if ci is None else f"[{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"


def _spread(entry: dict[str, Any]) -> str:
    if entry["mean"] is None:
        return "–"
    return _pct(entry["mean"]) + ("" if entry["std"] is None else f" ± {_pct(entry['std'])}")


def error_table(summary: dict[str, Any], dataset: str) -> Table:
    """Per model: n, final and best test error (mean ± std, 95 % t interval), images/s."""
    head = ["model", "n", "final error %", "final 95% CI", "best error %", "best 95% CI",
            "img/s"]  # fmt: skip
    rows = []
    for model, entry in summary["models"][dataset].items():
        rate = entry["images_per_s"]
        cells = [cell for metric in METRICS
                 for cell in (_spread(entry[metric]), _interval(entry[metric]["ci"]))]
        rows.append([model, str(entry["n"]), *cells, "–" if rate is None else f"{rate:.0f}"])
    return head, rows


def paired_table(summary: dict[str, Any], dataset: str) -> Table:
    """Per compared model and metric: mean difference to its baseline and both intervals."""
    head = ["model", "baseline", "error", "n pairs", "difference pp (mean ± std)",
            "paired t 95% CI", "bootstrap 95% CI", "verdict"]  # fmt: skip
    rows = []
    for model, entry in summary["models"][dataset].items():
        for metric in METRICS if "paired" in entry else ():
            p = entry["paired"][metric]
            rows.append([model, entry["baseline"], metric, str(p["n"]), _spread(p),
                         _interval(p["ci"]), _interval(p["bootstrap_ci"]), p["verdict"]])
    return head, rows


def protocol(summary: dict[str, Any]) -> str:
    """One paragraph: the grid, the shared train flags and how many runs have finished."""
    plan = summary["plan"]
    stats = summary["statistics"]
    flags = shlex.join(plan["train_flags"]) or "(none: the Sec. 7.1 preset)"
    return (
        f"Grid: models {', '.join(plan['models'])} × datasets {', '.join(plan['datasets'])} × "
        f"seeds {', '.join(map(str, plan['seeds']))}, {plan['epochs']} epochs each; shared "
        f"`optnet train` flags: {flags}. {summary['finished']} of {summary['total']} runs "
        f"finished. Numbers are computed from the run files in {summary['out']} (each finished "
        f"run's metrics.jsonl). Intervals: {stats['confidence']:.0%} Student t; bootstrap: "
        f"percentile, {stats['bootstrap_resamples']} resamples, generator seed "
        f"{stats['bootstrap_seed']}; difference = {stats['difference']}, in percentage points."
    )


def _markdown_table(table: Table) -> list[str]:
    head, rows = table
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(row) + " |" for row in rows)]  # fmt: skip


def markdown(summary: dict[str, Any]) -> str:
    """The whole study as Markdown: protocol, then per dataset the error and paired tables."""
    lines = ["# optnet study", "", protocol(summary), ""]
    for dataset in summary["plan"]["datasets"]:
        lines += [f"## {dataset}", "", *_markdown_table(error_table(summary, dataset)), ""]
        paired = paired_table(summary, dataset)
        if paired[1]:
            lines += [*_markdown_table(paired), ""]
    if summary["missing"]:
        lines += [f"Not finished ({len(summary['missing'])}): " + ", ".join(summary["missing"]),
                  ""]  # fmt: skip
    return "\n".join(lines)


def _bar(ax: Any, x: float, mean: float, ci: list[float] | None, color: str,
         label: str | None) -> None:
    """A dot at ``mean`` with the interval ``ci`` as error bar (no bar without one), in %."""
    low, high = ci or [mean, mean]
    ax.errorbar(x, 100 * mean, yerr=[[100 * (mean - low)], [100 * (high - mean)]], fmt="o",
                color=color, capsize=4, label=label)


def plot(summary: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Per dataset: error per model with 95 % t bars and the seeds as dots (left), and the
    paired differences to the baseline with t bars and bootstrap bars (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = summary["plan"]["datasets"]
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 4 * len(datasets)), squeeze=False)
    runs = [r for r in summary["runs"] if r["finished"]]
    for (ax_err, ax_diff), dataset in zip(axes, datasets, strict=True):
        table = summary["models"][dataset]
        names = list(table)
        for shift, metric, color in ((-0.15, "final", "tab:blue"), (0.15, "best", "tab:orange")):
            for i, model in enumerate(names):
                stats = table[model][metric]
                seeds = [100 * r[f"{metric}_test_error"] for r in runs
                         if r["model"] == model and r["dataset"] == dataset]  # fmt: skip
                ax_err.scatter([i + shift] * len(seeds), seeds, s=12, color=color, alpha=0.5)
                if stats["mean"] is None:
                    continue
                _bar(ax_err, i + shift, stats["mean"], stats["ci"], color,
                     f"{metric} error" if i == 0 else None)
        ax_err.set_xticks(range(len(names)), names)
        ax_err.set(ylabel="test error (%)", title=f"{dataset}: mean, 95% t interval, seeds")
        compared = [m for m in names if "paired" in table[m]]
        labels = []
        for j, (model, metric) in enumerate((m, k) for m in compared for k in METRICS):
            p = table[model]["paired"][metric]
            labels.append(f"{model}\n−{table[model]['baseline']}\n({metric})")
            if p["mean"] is None:
                continue
            for shift, ci, color, name in ((-0.1, p["ci"], "tab:green", "paired t"),
                                           (0.1, p["bootstrap_ci"], "tab:purple", "bootstrap")):
                _bar(ax_diff, j + shift, p["mean"], ci, color, name if j == 0 else None)
        ax_diff.axhline(0.0, color="black", linewidth=0.8)
        ax_diff.set_xticks(range(len(labels)), labels)
        ax_diff.set(ylabel="error difference (pp)", title=f"{dataset}: paired differences, 95%")
        for ax in (ax_err, ax_diff):
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, format="png", dpi=100)
    plt.close(fig)
    return target


def write_outputs(summary: dict[str, Any], out: str | os.PathLike[str]) -> dict[str, str]:
    """``OUT/study.{json,md,png}``; returns their paths."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / STUDY_JSON, "md": folder / STUDY_MD, "png": folder / STUDY_PNG}
    for key, text in (("json", json.dumps(summary, indent=2) + "\n"), ("md", markdown(summary))):
        write_text(paths[key], text)
    plot(summary, paths["png"])
    return {key: str(path) for key, path in paths.items()}
