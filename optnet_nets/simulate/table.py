"""The one text rendering of Table 2 (Sec. 5.3), printed by ``optnet simulate`` and placed in
``optnet report``: our MSE beside the paper's, rankings, differences to GD (7) paired by seed,
the methods' parameters and the run's speed, as a list of :class:`Part` (a sentence, then
perhaps a table) that each caller lays out in its own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optnet_nets.simulate.summary import SimulationResult, Table2Summary, paper_mse, summarize
from optnet_nets.unrolled import label

__all__ = ["Part", "format_table", "markdown", "table2_parts"]


@dataclass(frozen=True)
class Part:
    """A sentence, then a table when ``head`` is not empty."""

    text: str
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _short(structures: list[str]) -> str:
    return " < ".join(label(s).split()[0] for s in structures)


def _mse_part(result: SimulationResult, summ: Table2Summary) -> Part:
    cfg = result.config
    rows = []
    for depth in cfg.depths:
        row = summ.table[depth]
        if not row:
            continue
        rows.append([f"{depth} (ours)"] + [
            f"{row[s].mean:.5f} ± {row[s].std:.5f}"
            + (f" (n={row[s].n})" if row[s].n < len(cfg.seeds) else "") if s in row else "–"
            for s in cfg.structures
        ])  # fmt: skip
        printed = [paper_mse(s, depth) for s in cfg.structures]
        if any(v is not None for v in printed):
            rows.append([f"{depth} (paper)"]
                        + [f"{v:.5f}" if v is not None else "–" for v in printed])
    text = (f"Table 2 reproduced (Sec. 5.3): MSE after {cfg.epochs} epochs, mean ± std over "
            f"seeds {list(cfg.seeds)} ((n=…) where fewer finished); d={cfg.dim}, {cfg.samples} "
            f"samples, {cfg.optimizer} lr={cfg.lr}, batch {cfg.batch_size}, init {cfg.init}. "
            "Paper rows: the printed values (optnet_theory.paper_values).")
    return Part(text, ["depth"] + [label(s) for s in cfg.structures], rows)


def _speed_part(result: SimulationResult, summ: Table2Summary) -> Part | None:
    if summ.gemm_fraction is None or summ.achieved_flops_median is None:
        return None
    text = (f"Speed: median {summ.achieved_flops_median / 1e9:.1f} GFLOP/s of W x products = "
            f"{summ.gemm_fraction:.0%} of the fp32 GEMM rate measured in the same run "
            f"({summ.gemm_peak_flops / 1e9:.1f} GFLOP/s on {result.gemm_peak_threads or '?'} "
            f"thread(s), as each training process); training time "
            f"{summ.total_train_seconds:.0f} s.")
    rows = [[str(depth), f"{v.train_seconds:.0f}", f"{v.achieved_flops / 1e9:.1f}",
             f"{v.gemm_fraction:.0%}" if v.gemm_fraction is not None else "–", v.engine,
             str(v.threads or "–"), str(v.epochs_in_last_process)]
            for depth, v in summ.speed_by_depth.items()]
    return Part(text, ["depth", "training seconds", "GFLOP/s", "of GEMM peak", "gradients",
                       "threads", "epochs in the last process"], rows)


def table2_parts(result: SimulationResult, summary: Table2Summary | None = None) -> list[Part]:
    """Table 2 of ``result`` (``summary``: its :func:`summarize`, computed when not given)."""
    summ = summary if summary is not None else summarize(result)
    parts = [_mse_part(result, summ)]
    if not summ.paper_setting:
        parts.append(Part("REDUCED setting (not the paper's d=100, 10,000 samples, 1,000 "
                          "epochs): values are not comparable with the paper's; orderings "
                          "may be."))
    parts.append(Part(
        "Rankings, best (lowest MSE) first, and how many pairwise orderings of Table 2's "
        "structures agree with the paper's.",
        ["depth", "our ranking", "paper's ranking", "pairwise orderings agreeing"],
        [[str(depth), _short(r.ours), _short(r.paper) if r.paper is not None else "–",
          f"{r.agreement[0]}/{r.agreement[1]}" if r.agreement is not None else "–"]
         for depth, r in summ.rankings.items()],
    ))  # fmt: skip
    paired = [[str(depth), label(s), f"{v.mean:+.5f} ± {v.std:.5f}", f"{v.better_in}/{v.n}"]
              for depth, r in summ.rankings.items()
              for s, v in (r.paired_vs_gd or {}).items()]
    if paired:
        parts.append(Part("Paired by seed (same data, same initial weights): MSE of each "
                          "structure minus that of GD (7), mean ± std over seeds, and in how "
                          "many seeds it is lower.",
                          ["depth", "structure", "MSE − GD (7)", "seeds lower than GD"], paired))
    if summ.methods:
        params = "; ".join(
            f"{s}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in p.items())
            for s, p in summ.methods.items()
        )
        parts.append(Part(f"Methods as run: {params} (mu: {summ.mu_source})."))
    speed = _speed_part(result, summ)
    if speed is not None:
        parts.append(speed)
    return parts


def markdown(parts: list[Part]) -> str:
    """``parts`` as Markdown: each sentence a paragraph, each table a pipe table."""
    lines: list[str] = []
    for part in parts:
        lines.append(part.text)
        if part.head:
            lines.append("| " + " | ".join(part.head) + " |")
            lines.append("|" + "---|" * len(part.head))
            lines.extend("| " + " | ".join(row) + " |" for row in part.rows)
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def format_table(result: SimulationResult) -> str:
    """Our Table 2 beside the paper's, as ``optnet simulate`` prints it (Markdown)."""
    return markdown(table2_parts(result))
