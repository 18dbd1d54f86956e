"""The files of a Table 2 run folder, read and written so that nothing is lost when a run dies.

``config.json`` holds the :class:`~optnet_nets.simulate.config.SimulateConfig`; each finished
(depth, seed) is ``partial/depth{D}_seed{S}.json``, written at once (temporary file, rename); a
unit in progress is ``checkpoint_depth{D}_seed{S}.pt`` (its depths and seeds), saved atomically.
A damaged file is one :class:`OptnetError` line naming it and the way out.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from optnet_nets.simulate.config import SimulateConfig
from optnet_nets.train.checkpoint import load_tensors, save_atomic
from optnet_theory.atomic import write_text
from optnet_theory.errors import OptnetError

__all__ = [
    "CHECKPOINT_KEYS",
    "RECORD_KEYS",
    "check_saved_config",
    "checkpoint_path",
    "depth_tag",
    "in_progress_units",
    "read_checkpoint",
    "read_config",
    "read_json",
    "read_record",
    "record_path",
    "write_checkpoint",
    "write_config",
    "write_record",
]

#: what the summary and the outputs read from each ``partial/*.json`` record.
RECORD_KEYS = ("depth", "seed", "mse", "final_epoch_loss", "train_seconds", "achieved_flops",
               "epochs_in_this_process", "ensemble_seeds")
#: what a checkpoint of a unit in progress holds.
CHECKPOINT_KEYS = ("seeds", "model", "optimizer", "shufflers", "curve", "epoch", "seconds")
_RECOVER_CONFIG = "restore it, or choose another --out"


def record_path(out: Path, depth: int, seed: int) -> Path:
    """Where the finished (``depth``, ``seed``) of the run in ``out`` is written."""
    return out / "partial" / f"depth{depth}_seed{seed}.json"


def depth_tag(depths: list[int]) -> str:
    """The name of a unit training ``depths``, e.g. "10" or "10-20-30-40"."""
    return "-".join(str(k) for k in sorted(depths))


def checkpoint_path(out: Path, depths: list[int], seeds: list[int]) -> Path:
    """Where the unit training ``depths`` x ``seeds`` is checkpointed while in progress."""
    return out / f"checkpoint_depth{depth_tag(depths)}_seed{depth_tag(seeds)}.pt"


def in_progress_units(out: Path) -> list[tuple[list[int], list[int]]]:
    """The (depths, seeds) of every unit with a checkpoint in ``out``, read from the names
    :func:`checkpoint_path` gives them (a resume keeps a unit's shape, whatever ``--workers``)."""
    units = []
    for path in sorted(out.glob("checkpoint_depth*_seed*.pt")):
        depths, _, seeds = path.stem.removeprefix("checkpoint_depth").partition("_seed")
        try:
            units.append(([int(k) for k in depths.split("-")], [int(s) for s in seeds.split("-")]))
        except ValueError:
            continue  # not a name checkpoint_path writes
    return units


def read_json(path: Path, recover: str) -> Any:
    """The JSON in ``path``; a damaged file is one OptnetError naming it and how to recover."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise OptnetError(f"{path} is damaged or unreadable ({reason}); {recover}") from None


def read_record(path: Path) -> dict[str, Any]:
    """One finished (depth, seed) from ``partial/``, checked to hold what the summary reads."""
    recover = "delete it to train that depth and seed again (rerun with the same --out)"
    record = read_json(path, recover)
    if not isinstance(record, dict):
        raise OptnetError(f"{path} is not a result record (not a JSON object); {recover}")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing or not isinstance(record["mse"], dict):
        what = f"missing {', '.join(missing)}" if missing else "mse is not an object"
        raise OptnetError(f"{path} is not a result record ({what}); {recover}")
    return record


def write_record(out: Path, record: dict[str, Any]) -> None:
    """Write one finished (depth, seed) record whole (:func:`optnet_theory.atomic.write_text`)."""
    path = record_path(out, record["depth"], record["seed"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(record))


def read_checkpoint(path: Path, device: str) -> dict[str, Any]:
    """A unit-in-progress checkpoint (weights_only load); a damaged one is a one-line error."""
    recover = ("delete it to train that depth from its first epoch (finished depths in "
               "partial/ are kept)")
    try:
        state = load_tensors(path, map_location=device)
    except OptnetError as exc:
        raise OptnetError(f"{exc}; {recover}") from None
    if not isinstance(state, dict) or any(k not in state for k in CHECKPOINT_KEYS):
        raise OptnetError(f"checkpoint {path} is not a simulate checkpoint; {recover}")
    return state


def write_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Save a unit in progress; a kill during the save leaves the previous checkpoint whole."""
    save_atomic(state, path)


def _read_config_json(cfg_path: Path) -> dict[str, Any]:
    raw = read_json(cfg_path, _RECOVER_CONFIG)
    if not isinstance(raw, dict):
        raise OptnetError(f"{cfg_path} is not a simulate config (not a JSON object); "
                          f"{_RECOVER_CONFIG}")
    return raw


def check_saved_config(out: Path, cfg: SimulateConfig) -> None:
    """Refuse to resume ``out`` with settings that change results (depths, seeds may differ)."""
    cfg_path = out / "config.json"
    if not cfg_path.exists():
        return
    saved = _read_config_json(cfg_path)
    mine = json.loads(json.dumps(cfg.to_json()))
    differ = sorted(k for k in mine if k not in ("depths", "seeds") and saved.get(k) != mine[k])
    if differ:
        raise OptnetError(
            f"{out} holds a run with different settings ({', '.join(differ)}); "
            "rerun with the same flags to resume, or choose another --out"
        )


def write_config(out: Path, cfg: SimulateConfig) -> None:
    """Record the run's settings in ``out/config.json`` (what a rerun is checked against)."""
    (out / "config.json").write_text(json.dumps(cfg.to_json(), indent=2))


def read_config(out: Path) -> SimulateConfig | None:
    """The settings of the run in ``out`` (None when it has no config.json)."""
    cfg_path = out / "config.json"
    if not cfg_path.exists():
        return None
    raw = _read_config_json(cfg_path)
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    # runs written before (13) became a generated method recorded how its sum was evaluated;
    # the recursive form is what the generated network computes, the literal sum is gone
    if fields.pop("agd2_form", "recursive") != "recursive":
        raise OptnetError(f"{cfg_path}: this run used AGD2's dense form, which optnet no longer "
                          "has; rerun it with another --out")
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(SimulateConfig)})
    if unknown:
        raise OptnetError(f"{cfg_path}: unknown setting(s) {', '.join(unknown)}; was it written "
                          "by another version of optnet? Rerun with another --out")
    return SimulateConfig(**fields)
