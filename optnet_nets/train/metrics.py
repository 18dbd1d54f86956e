"""Per-epoch metrics as JSON lines (``OUT/metrics.jsonl``), TensorBoard when installed.

One JSON object per epoch with at least :data:`REQUIRED_KEYS`. On resume, lines for epochs the
checkpoint has not completed are dropped (they are recomputed), so the file never holds the same
epoch twice however the run was interrupted.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from optnet_theory.atomic import write_text
from optnet_theory.errors import OptnetError

METRICS_NAME = "metrics.jsonl"
REQUIRED_KEYS = ("epoch", "train_loss", "test_loss", "test_acc", "lr", "images_per_s")


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The epoch records of a run directory, in order; a clear error when absent or corrupt."""
    path = Path(run_dir) / METRICS_NAME
    if not path.is_file():
        raise OptnetError(f"{run_dir}: no {METRICS_NAME}; expected an 'optnet train --out' folder")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise OptnetError(f"{path}: cannot read it ({reason})") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise OptnetError(f"{path}:{number}: not a JSON object ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise OptnetError(f"{path}:{number}: not a JSON object")
        missing = [key for key in REQUIRED_KEYS if key not in record]
        if missing:
            raise OptnetError(f"{path}:{number}: missing keys {', '.join(missing)}")
        wrong = [k for k in REQUIRED_KEYS
                 if isinstance(record[k], bool) or not isinstance(record[k], (int, float))]
        if wrong:
            raise OptnetError(f"{path}:{number}: {', '.join(wrong)} must be numbers")
        records.append(record)
    return records


class MetricsLog:
    """Appends epoch records to ``OUT/metrics.jsonl`` (rank 0 only) and mirrors to TensorBoard."""

    def __init__(self, out_dir: Path, *, enabled: bool, resume_epoch: int | None = None):
        self.path = out_dir / METRICS_NAME
        self.enabled = enabled
        self._tb: Any = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        if resume_epoch is None:
            self.path.write_text("")
        else:
            self._truncate(resume_epoch)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            return
        self._tb = SummaryWriter(log_dir=str(out_dir / "tensorboard"))

    def _truncate(self, resume_epoch: int) -> None:
        if not self.path.is_file():
            self.path.write_text("")
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                epoch = json.loads(line)["epoch"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by the kill that interrupted the run
            if epoch <= resume_epoch:
                kept.append(line)
        write_text(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        """Append one epoch (``epoch`` counts completed epochs, from 1)."""
        if not self.enabled:
            return
        missing = [key for key in REQUIRED_KEYS if key not in record]
        if missing:
            raise ValueError(f"metrics record lacks {missing}")
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in record.items()}
        with self.path.open("a") as handle:
            handle.write(json.dumps(clean) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if self._tb is not None:
            for key, value in record.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, record["epoch"])
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def epoch_line(config: Any, record: dict[str, Any], precision: str) -> str:
    """The one console line of an epoch's ``record`` (a :class:`TrainConfig` ``config``)."""
    return (
        f"{config.model} epoch {record['epoch']}/{config.epochs}: train loss "
        f"{record['train_loss']:.4f} acc {record['train_acc']:.4f} | test loss "
        f"{record['test_loss']:.4f} acc {record['test_acc']:.4f} | "
        f"{record['images_per_s']:.0f} img/s {precision}"
    )
