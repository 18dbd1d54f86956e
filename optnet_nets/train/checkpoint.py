"""Checkpoints that survive a crash at any moment, loaded with ``weights_only=True``.

Writing (:func:`optnet_theory.atomic.staged`): the state goes to a temporary file in the
checkpoint's own directory, is fsynced, then ``os.replace``-d over the old checkpoint (atomic on
POSIX), and the directory is fsynced so the rename itself is durable. A crash before the rename
leaves the previous checkpoint untouched; a crash after it leaves the new one complete.

Contents hold plain types and tensors only (RNG states included), so loading never unpickles
arbitrary objects.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optnet_theory.atomic import staged
from optnet_theory.errors import OptnetError

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def save_atomic(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically, staged by :func:`optnet_theory.atomic.staged`
    (temporary file beside it, fsync, rename, fsync of the folder); its folder is created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged(target) as stage:
        with open(stage.path, "wb") as handle:
            torch.save(state, handle)
        return stage.commit()


def _load_failure(source: Path, exc: Exception) -> str:
    """One line on why ``torch.load`` refused ``source``, in our words: never torch's advice to
    retry with ``weights_only=False``."""
    text = str(exc)
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return (
            f"checkpoint {source} holds a Python object ({found.group(1)}) besides tensors and "
            "plain values; refused: optnet loads checkpoints with weights_only=True and accepts "
            "only files written by 'optnet train'"
        )
    if "WeightsUnpickler error:" in text:  # the reason comes after torch's advice
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0].split(". ")[0][:200] if lines else type(exc).__name__
    return f"checkpoint {source} cannot be loaded (damaged or not a torch file: {reason})"


def load_tensors(path: str | os.PathLike[str], map_location: str = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; any failure is one :class:`OptnetError` line."""
    source = Path(path)
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, OSError, ...
        raise OptnetError(_load_failure(source, exc)) from None


def _is_weights(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _is_config(value: Any) -> bool:
    return (isinstance(value, dict) and all(isinstance(value.get(k), str)
                                            for k in ("model", "dataset"))
            and all(isinstance(value.get(k, {}), dict)
                    for k in ("model_options", "dataset_options")))  # fmt: skip


#: what a checkpoint entry must be, and how that is said in an error.
ENTRIES: dict[str, tuple[Any, str]] = {
    "model": (_is_weights, "a dict of named tensors (the model's state_dict)"),
    "config": (_is_config, "a dict of run settings naming its model and dataset"),
    "optimizer": (lambda v: isinstance(v, dict), "a dict (the optimizer's state_dict)"),
    "scheduler": (lambda v: isinstance(v, dict), "a dict (the scheduler's state_dict)"),
    "scaler": (lambda v: isinstance(v, dict), "a dict (the loss scaler's state_dict)"),
    "rng": (lambda v: isinstance(v, dict), "a dict of RNG states"),
    "history": (lambda v: isinstance(v, list), "a list of epoch records"),
    "train_sums": (lambda v: isinstance(v, torch.Tensor), "a tensor"),
    **{k: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
       for k in ("epoch", "step_in_epoch", "global_step")},
    "elapsed_s": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                  "a number"),
}


def load_state(
    path: str | os.PathLike[str], need: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_atomic` with ``torch.load(weights_only=True)``;
    the entries ``need`` (keys of :data:`ENTRIES`) must be there with their types, else one
    :class:`OptnetError` line names the first that is missing or wrong."""
    source = Path(path)
    if not source.is_file():
        raise OptnetError(f"no checkpoint at {source}; expected a file written by 'optnet train'")
    state = load_tensors(source)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise OptnetError(
            f"checkpoint {source} is not an optnet checkpoint (format {FORMAT_VERSION} expected)"
        )
    for key in need:
        valid, meaning = ENTRIES[key]
        if key not in state:
            raise OptnetError(f"checkpoint {source} has no {key!r} entry ({meaning}); it was not "
                              "written by 'optnet train' or is damaged")  # fmt: skip
        if not valid(state[key]):
            raise OptnetError(f"checkpoint {source}: its {key!r} entry is a "
                              f"{type(state[key]).__name__}, expected {meaning}")  # fmt: skip
    return state


def non_finite(tree: Any, prefix: str = "") -> list[str]:
    """Dotted names of the floating-point tensors in ``tree`` (nested dicts/lists) holding a NaN
    or an infinity; empty when every one is finite."""
    if isinstance(tree, torch.Tensor):
        bad = tree.is_floating_point() and not bool(torch.isfinite(tree).all())
        return [prefix or "tensor"] if bad else []
    if isinstance(tree, dict):
        items: list[tuple[Any, Any]] = list(tree.items())
    elif isinstance(tree, (list, tuple)):
        items = list(enumerate(tree))
    else:
        return []
    names: list[str] = []
    for key, value in items:
        names += non_finite(value, f"{prefix}.{key}" if prefix else str(key))
    return names


def rng_state() -> dict[str, Any]:
    """Every RNG the trainer touches, as tensors and plain types (weights_only-safe)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, py_state, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
        "cuda": [],
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: Config fields that must agree between a checkpoint and the run resuming it.
RESUME_FIXED = ("model", "dataset", "batch_size", "seed", "model_options", "dataset_options")


def load_for_resume(path: Path, config: dict[str, Any], missing_ok: bool) -> dict[str, Any] | None:
    """The state at ``path`` for the run of ``config`` (a config dict) to resume from; None when
    there is none and ``missing_ok``. Refused, in one line each: a missing checkpoint (unless
    ``missing_ok``), non-finite values, and a run that differs in a :data:`RESUME_FIXED` field."""
    if not path.is_file():
        if missing_ok:
            return None
        raise OptnetError(
            f"cannot resume: no {CHECKPOINT_NAME} in {path.parent}; to start a new run "
            "there, leave out --resume (or pass --resume-or-start)"
        )
    state = load_state(path, need=tuple(ENTRIES))
    bad = non_finite({"model": state["model"], "optimizer": state["optimizer"]})
    if bad:
        raise OptnetError(
            f"cannot resume {path}: it holds non-finite values ("
            f"{', '.join(bad[:3])}); start the run again with --overwrite and a lower --lr"
        )
    saved = state["config"]
    for key in RESUME_FIXED:
        if saved.get(key) != config[key]:
            raise OptnetError(
                f"cannot resume {path}: it was written with {key}="
                f"{saved.get(key)!r}, this run has {key}={config[key]!r}"
            )
    return state


def diverged_advice(lr: float, out: Path, path: Path, saved_step: int | None) -> str:
    """Where a diverged run's last finite checkpoint is (or that there is none) and how to go
    on: resume it, or start again, with a lower learning rate."""
    lower = f"{lr / 10:g}"
    if saved_step is None:
        return (
            "No checkpoint of this run was written (it diverged before its first save); "
            f"start again with a lower learning rate, e.g. --lr {lower} --overwrite"
        )
    return (
        f"The last finite checkpoint is {path} (step {saved_step}); "
        f"resume it with a lower learning rate: optnet train --resume --out {out} "
        f"--lr {lower} (or try --warmup-epochs, or --amp none)"
    )
