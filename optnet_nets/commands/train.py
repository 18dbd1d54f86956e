"""``optnet train``: train one model with the paper's recipe (Sec. 7.1), resumable, on CPU/GPUs.

Defaults come from the Sec. 7.1 preset of the dataset (``cifar`` for the small datasets,
``imagenet`` for image folders); every flag given overrides it. With ``--resume`` the run in
``--out`` continues from its checkpoint (its saved settings are the base, flags still override);
the directory given is the truth, so a copied or moved run resumes, and writes, where it now is.
Launch under ``torchrun --nproc_per_node=N`` for data-parallel training.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError

#: flags that override the preset field of the same name when given
_SAME_NAME = (
    "model",
    "dataset",
    "data_dir",
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "lr_decay",
    "milestone_unit",
    "warmup_epochs",
    "warmup_factor",
    "seed",
    "device",
    "threads",
    "amp",
    "channels_last",
    "init",
    "eval_batch_size",
)
#: CLI flag destination -> TrainConfig field, for flags that override the preset when given
_OVERRIDES = {
    **{name: name for name in _SAME_NAME},
    "checkpoint_every": "checkpoint_every_steps",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``optnet train`` flags (defaults: the Sec. 7.1 preset of the dataset)."""
    parser.add_argument("--model", help="model name (see 'optnet models')")
    parser.add_argument("--dataset", help="cifar10, cifar100, mnist, fashion-mnist, ...")
    parser.add_argument("--data-dir", help="dataset directory (default: the dataset's own)")
    parser.add_argument("--out", help="run directory (default: runs/MODEL-DATASET)")
    parser.add_argument("--preset", choices=("cifar", "imagenet"),
                        help="Sec. 7.1 recipe (default: imagenet for imagefolder, else cifar)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, help="global batch size (all ranks)")
    parser.add_argument("--lr", type=float, help="initial learning rate")
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--no-nesterov", action="store_true", help="plain momentum")
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--lr-milestones", help="comma-separated lr drops, e.g. 0.5,0.75")
    parser.add_argument("--milestone-unit", choices=("fraction", "epoch"))
    parser.add_argument("--lr-decay", type=float, help="lr factor at each milestone (0.1)")
    parser.add_argument("--warmup-epochs", type=float, help="epochs at lr*warmup-factor")
    parser.add_argument("--warmup-factor", type=float)
    parser.add_argument("--init", choices=("paper", "model"),
                        help="paper: He for convs, Xavier for the classifier (default)")
    parser.add_argument("--no-augment", action="store_true", help="no pad-crop/flip")
    parser.add_argument("--limit-train", type=int, help="use N training images (evenly spread)")
    parser.add_argument("--limit-test", type=int, help="use N test images (evenly spread)")
    parser.add_argument("--activation", metavar="PHI",
                        help="the network's activation: a registry name or a formula in x, "
                        "e.g. 'x*erf(x)' (default relu, the paper's)")
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra create_model keyword (VALUE read as JSON, else a string)")
    parser.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra load_dataset keyword (VALUE read as JSON, else a string)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--deterministic", action="store_true",
                        help="torch.use_deterministic_algorithms(True)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int,
                        help="CPU threads for torch (default: torch's; 1 on a busy machine)")
    parser.add_argument("--amp", choices=("auto", "bf16", "fp16", "none"),
                        help="mixed precision (default auto: bf16 autocast where the CPU (AMX, "
                             "AVX512-BF16) or GPU has native bf16, fp32 elsewhere and for "
                             "reversible HB-Nets; none: fp32)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                        help="NHWC memory layout, CPU or CUDA (default: on for bf16 on the CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--eval-batch-size", type=int)
    parser.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                        help="also checkpoint every STEPS steps (default 500; 0: epoch ends only)")
    parser.add_argument("--resume", action="store_true",
                        help="continue OUT/checkpoint.pt (an error when there is none)")
    parser.add_argument("--resume-or-start", action="store_true",
                        help="continue OUT/checkpoint.pt if it exists, else start a new run")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh even if OUT holds a checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_json_option(parser, "print the summary as JSON")


def parse_options(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is read as JSON (numbers, true/false, lists) or kept a string."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise OptnetError(f"{flag} takes KEY=VALUE with KEY a Python identifier, got {item!r}")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def _milestones(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise OptnetError(f"--lr-milestones takes comma-separated numbers, got {text!r}") from exc


def _check_names(model: str, dataset: str) -> None:
    from optnet_nets.data import DATASET_NAMES
    from optnet_nets.models import list_models

    models = list(list_models())
    if model not in models:
        raise OptnetError(f"unknown model {model!r}; choose from {', '.join(models)}")
    if dataset not in DATASET_NAMES:
        raise OptnetError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASET_NAMES)}")


def build_config(args: argparse.Namespace) -> tuple[Any, bool]:
    """The run's TrainConfig from the flags, and whether an existing checkpoint is resumed."""
    from optnet_nets.train import TrainConfig, preset_for_dataset
    from optnet_nets.train.checkpoint import CHECKPOINT_NAME, load_state

    resuming = False
    base: dict[str, Any] = {}
    flag = "--resume" if args.resume else "--resume-or-start"
    if args.overwrite and (args.resume or args.resume_or_start):
        raise OptnetError(f"--overwrite restarts the run and {flag} continues it; choose one")
    if args.resume or args.resume_or_start:
        if not args.out:
            raise OptnetError(f"{flag} needs --out DIR (the run to continue)")
        path = Path(args.out) / CHECKPOINT_NAME
        if path.is_file():
            base = dict(load_state(path, need=("config",))["config"])
            resuming = True
        elif args.resume:
            out = Path(args.out)
            where = (f"no {CHECKPOINT_NAME} in {out}" if out.is_dir() else
                     f"{out} is a file, not a run directory" if out.exists() else
                     f"{out} does not exist")
            raise OptnetError(
                f"cannot resume: {where}; to start a new run there, leave out --resume "
                "(or pass --resume-or-start)"
            )
    if not resuming and (args.model is None or args.dataset is None):
        raise OptnetError("--model and --dataset are required (unless --resume finds a run)")
    overrides: dict[str, Any] = {}
    for flag, field in _OVERRIDES.items():
        value = getattr(args, flag)
        if value is not None:
            overrides[field] = value
    if args.lr_milestones is not None:
        overrides["lr_milestones"] = _milestones(args.lr_milestones)
    for flag, field, value in (
        ("no_nesterov", "nesterov", False),
        ("no_augment", "augment", False),
        ("deterministic", "deterministic", True),
        ("compile", "compile", True),
        ("no_progress", "progress", False),
    ):
        if getattr(args, flag):
            overrides[field] = value
    dataset_options = parse_options(args.dataset_option, "--dataset-option")
    for flag in ("limit_train", "limit_test"):
        if getattr(args, flag) is not None:
            dataset_options[flag] = getattr(args, flag)
    model_options = parse_options(args.model_option, "--model-option")
    if args.activation is not None:
        model_options["activation"] = args.activation
    if resuming:  # the run directory given, not the one the checkpoint recorded
        values = {**base, **overrides, "out": str(args.out)}
        if dataset_options:
            values["dataset_options"] = {**base.get("dataset_options", {}), **dataset_options}
        if model_options:
            values["model_options"] = {**base.get("model_options", {}), **model_options}
        config = TrainConfig.from_dict(values)
    else:
        overrides["dataset_options"] = dataset_options
        overrides["model_options"] = model_options
        overrides["out"] = args.out or f"runs/{args.model}-{args.dataset}"
        preset = args.preset or preset_for_dataset(overrides["dataset"])
        config = TrainConfig.from_preset(preset, **overrides)
    config.validate()
    data_dir = Path(config.data_dir).expanduser() if config.data_dir else None
    if data_dir is not None and data_dir.exists() and not data_dir.is_dir():
        raise OptnetError(
            f"--data-dir {config.data_dir} is a file, not a directory; give the folder that "
            "holds the dataset"
        )
    return config, resuming


def _human(summary: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}%"

    return (
        f"{summary['model']} on {summary['dataset']}: {summary['epochs']} epochs, "
        f"final test accuracy {pct(summary['final_test_acc'])} (error "
        f"{pct(summary['final_test_error'])}), best {pct(summary['best_test_acc'])} at epoch "
        f"{summary['best_epoch']}; {summary['train_time_s']:.1f} s training, "
        f"{summary['images_per_s'] or 0:.0f} img/s on {summary['device']} x"
        f"{summary['world_size']}, {summary['precision']}; run in {summary['out']}"
    )


def _lock(out: str | None) -> contextlib.AbstractContextManager[Any]:
    """The run folder's lock (:mod:`optnet_nets.folders.lock`), taken by the process that
    writes it: this one, or under torchrun rank 0 only."""
    from optnet_nets.folders.lock import folder_lock
    from optnet_nets.folders.writable import writable_dir

    if not out or int(os.environ.get("RANK", "0")) != 0:
        return contextlib.nullcontext()
    writable_dir(out, "--out")
    return folder_lock(out, "optnet train",
                       say=lambda line: print(f"optnet train: {line}", file=sys.stderr))


def run(args: argparse.Namespace) -> int:
    """Train; print the summary (JSON with ``--json``). The run folder is locked from before
    its checkpoint is read to the end, so a second writer is refused (issue 24)."""
    from optnet_nets.folders.writable import writable_dir

    existing = args.out if args.out and Path(args.out).is_dir() else None
    with _lock(existing):  # a run already there is read under its lock
        config, resuming = build_config(args)
        _check_names(config.model, config.dataset)
        writable_dir(config.out, "--out")
        with _lock(config.out):  # a new folder (or the default one) is created and locked
            summary = _train(args, config, resuming)
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports
        return 0
    if args.json:
        print(json.dumps(summary))
    else:
        print(_human(summary))
    return 0


def _train(args: argparse.Namespace, config: Any, resuming: bool) -> dict[str, Any]:
    checkpoint = Path(config.out) / "checkpoint.pt"
    if checkpoint.is_file() and not (resuming or args.overwrite):
        raise OptnetError(
            f"{checkpoint} exists; pass --resume to continue that run or --overwrite to restart"
        )
    from optnet_nets.train import train

    return train(config, resume=resuming)
