"""The files a finished Table 2 run writes: ``results.json`` (settings, records, summary),
``table2.csv`` (one row per depth, seed and structure) and ``table2.png`` (MSE by depth)."""

from __future__ import annotations

import json
from pathlib import Path

from optnet_nets.simulate.summary import SimulationResult, paper_mse, summarize
from optnet_nets.unrolled import STRUCTURES, label

__all__ = ["plot_table", "write_outputs"]


def write_outputs(result: SimulationResult, out: Path) -> None:
    """results.json, table2.csv (one row per depth, seed, structure) and table2.png."""
    (out / "results.json").write_text(json.dumps(result.to_json(), indent=1))
    lines = ["depth,seed,structure,equation,mse,final_epoch_loss,paper_mse,train_seconds"]
    for r in result.runs:
        for s in result.config.structures:
            paper = paper_mse(s, r["depth"])
            lines.append(
                f"{r['depth']},{r['seed']},{s},{STRUCTURES.get(s, '')},{r['mse'][s]!r},"
                f"{r['final_epoch_loss'][s]!r},{paper if paper is not None else ''},"
                f"{r['train_seconds']:.3f}"
            )
    (out / "table2.csv").write_text("\n".join(lines) + "\n")
    plot_table(result, out / "table2.png")


def plot_table(result: SimulationResult, path: Path) -> None:
    """Mean ± std MSE by depth per structure; the paper's values dashed (paper setting only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = result.config
    summ = summarize(result)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(cfg.structures):
        color = f"C{i}"
        depths = [d for d in cfg.depths if s in summ.table[d]]
        ax.errorbar(depths, [summ.table[d][s].mean for d in depths],
                    yerr=[summ.table[d][s].std for d in depths], marker="o", color=color,
                    capsize=3, label=f"{label(s)} ours")
        printed = [(d, v) for d in cfg.depths if (v := paper_mse(s, d)) is not None]
        if printed and summ.paper_setting:
            ax.plot([d for d, _ in printed], [v for _, v in printed], ls="--", marker="x",
                    color=color, label=f"{label(s)} paper")
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("training MSE after training")
    ax.set_title("Table 2 (Sec. 5.3): MSE by structure and depth")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
