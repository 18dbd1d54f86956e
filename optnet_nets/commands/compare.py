"""``optnet compare RUN_DIR...``: final and best test error of finished runs, and their curves.

Reads each run's ``metrics.jsonl`` (written by ``optnet train``), prints one table row per run
(the paper reports test error, Tables 4 and 5) and, with ``--plot FILE``, saves a PNG of test
error and training loss against epochs (matplotlib, Agg backend: no display needed).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from optnet_nets.train.metrics import read_metrics
from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="'optnet train --out' folders")
    parser.add_argument("--plot", metavar="FILE", help="save the curves as a PNG")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")


def _label(run_dir: Path) -> str:
    config = run_dir / "config.json"
    if config.is_file():
        try:
            model = str(json.loads(config.read_text())["model"])
            return model if run_dir.name == model else f"{model} ({run_dir.name})"
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    return run_dir.name


def summarize(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Final and best test error (and where the best was) of one run directory."""
    path = Path(run_dir)
    records = read_metrics(path)
    if not records:
        raise OptnetError(f"{path}: metrics.jsonl has no finished epoch yet")
    errors = [1.0 - r["test_acc"] for r in records]
    best = min(range(len(errors)), key=errors.__getitem__)
    return {
        "run": str(path),
        "label": _label(path),
        "epochs": records[-1]["epoch"],
        "final_test_error": errors[-1],
        "best_test_error": errors[best],
        "best_epoch": records[best]["epoch"],
        "final_train_loss": records[-1]["train_loss"],
        "images_per_s": sum(r["images_per_s"] for r in records) / len(records),
        "curve": {
            "epoch": [r["epoch"] for r in records],
            "test_error": errors,
            "train_loss": [r["train_loss"] for r in records],
        },
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table, one row per run, errors in percent."""
    header = ("run", "epochs", "final err %", "best err %", "best epoch", "img/s")
    body = [
        (
            row["label"],
            str(row["epochs"]),
            f"{100 * row['final_test_error']:.2f}",
            f"{100 * row['best_test_error']:.2f}",
            str(row["best_epoch"]),
            f"{row['images_per_s']:.0f}",
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in (header, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot_curves(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Test error and training loss per epoch, one line per run, saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise OptnetError(f"--plot writes a PNG; give a file name ending in .png, got {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_err, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    for row in rows:
        curve = row["curve"]
        ax_err.plot(curve["epoch"], [100 * e for e in curve["test_error"]], marker="o",
                    label=row["label"])
        ax_loss.plot(curve["epoch"], curve["train_loss"], marker="o", label=row["label"])
    ax_err.set(xlabel="epoch", ylabel="test error (%)", title="Test error")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    for ax in (ax_err, ax_loss):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(target, format="png", dpi=100)
    plt.close(fig)
    return target


def run(args: argparse.Namespace) -> int:
    rows = [summarize(run_dir) for run_dir in args.runs]
    plot = plot_curves(rows, args.plot) if args.plot else None
    if args.json:
        print(json.dumps({"runs": rows, "plot": str(plot) if plot else None}))
    else:
        print(format_table(rows))
        if plot:
            print(f"curves saved to {plot}")
    return 0
