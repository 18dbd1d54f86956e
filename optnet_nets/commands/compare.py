"""``optnet compare RUN_DIR...``: final and best test error of finished runs, and their curves.

Reads each run's ``metrics.jsonl`` (written by ``optnet train``), prints one table row per run
(the paper reports test error, Tables 4 and 5) and saves a PNG of test error and training loss
against epochs (matplotlib, Agg backend: no display needed) -- by default ``compare.png`` in the
folder holding the first run, or ``--plot FILE``; ``--no-plot`` for none. Runs trained on other
data or with another recipe (:mod:`optnet_nets.folders.settings`) get a warning and a table column
per differing field, since their errors are not directly comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from optnet_nets.folders.settings import differences, run_setting
from optnet_nets.train.metrics import read_metrics
from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError

#: The PNG's name when --plot is not given (written in the folder that holds the first run).
DEFAULT_PLOT = "compare.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="'optnet train --out' folders")
    parser.add_argument(
        "--plot", metavar="FILE",
        help=f"save the curves as this PNG (default: {DEFAULT_PLOT} beside the first run)",
    )  # fmt: skip
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    add_json_option(parser, "print the table as JSON")


def _label(run_dir: Path) -> str:
    config = run_dir / "config.json"
    if config.is_file():
        try:
            model = str(json.loads(config.read_text(encoding="utf-8"))["model"])
            return model if run_dir.name == model else f"{model} ({run_dir.name})"
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            pass  # the label is cosmetic: fall back to the folder's name
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
        "setting": run_setting(path),
        "curve": {
            "epoch": [r["epoch"] for r in records],
            "test_error": errors,
            "train_loss": [r["train_loss"] for r in records],
        },
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table, one row per run, errors in percent; a column per differing setting."""
    unlike = differences([row.get("setting", {}) for row in rows])
    header = ("run", "epochs", "final err %", "best err %", "best epoch", "img/s", *unlike)
    body = [
        (
            row["label"],
            str(row["epochs"]),
            f"{100 * row['final_test_error']:.2f}",
            f"{100 * row['best_test_error']:.2f}",
            str(row["best_epoch"]),
            f"{row['images_per_s']:.0f}",
            *(values[i] for values in unlike.values()),
        )
        for i, row in enumerate(rows)
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
    from matplotlib.ticker import MaxNLocator

    from optnet_nets.folders.writable import writable_file

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise OptnetError(f"--plot writes a PNG; give a file name ending in .png, got {target}")
    writable_file(target, "--plot")
    fig, (ax_err, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    for row in rows:
        curve = row["curve"]
        ax_err.plot(curve["epoch"], [100 * e for e in curve["test_error"]], marker="o",
                    label=row["label"])
        ax_loss.plot(curve["epoch"], curve["train_loss"], marker="o", label=row["label"])
    ax_err.set(xlabel="epoch", ylabel="test error (%)", title="Test error")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    for ax in (ax_err, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(True, alpha=0.3)
        ax.legend()
    unlike = differences([row.get("setting", {}) for row in rows])
    if unlike:
        fig.suptitle(f"not like for like: the runs differ in {', '.join(unlike)}",
                     color="tab:red", fontsize=10)  # fmt: skip
    fig.tight_layout()
    try:
        fig.savefig(target, format="png", dpi=100)
    except OSError as exc:
        raise OptnetError(f"--plot {target}: cannot write it ({exc.strerror})") from None
    finally:
        plt.close(fig)
    return target


def run(args: argparse.Namespace) -> int:
    rows = [summarize(run_dir) for run_dir in args.runs]
    unlike = differences([row["setting"] for row in rows])
    if unlike:
        fields = ", ".join(f"{k} ({' vs '.join(dict.fromkeys(v))})" for k, v in unlike.items())
        print(f"warning: these runs differ in {fields}: their errors are not directly "
              "comparable", file=sys.stderr)  # fmt: skip
    target = args.plot or Path(args.runs[0]).resolve().parent / DEFAULT_PLOT
    plot = None if args.no_plot else plot_curves(rows, target)
    if args.json:
        print(json.dumps({"runs": rows, "plot": str(plot) if plot else None,
                          "differences": unlike}))  # fmt: skip
    else:
        print(format_table(rows))
        if plot:
            print(f"curves saved to {plot}")
    return 0
