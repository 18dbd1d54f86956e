"""``optnet study``: models x datasets x seeds of ``optnet train`` runs, with seed statistics.

Example (the reduced Tables 4-5 protocol is ``benchmarks/study_tables45.sh``)::

    optnet study --models resnet20,hbnet20 --baseline resnet20 --dataset fashion-mnist \\
        --seeds 5 --epochs 10 --out runs/study-fmnist --workers 2

Every other option is one of ``optnet train`` (the same flags, added from its module) and is
passed to every run. Each run lives in ``OUT/<model>/<dataset>/seed<k>/``. The study is
resumable: run the same command again after an interruption. ``--executor`` says where the runs
execute: child processes here (``local``, ``--workers`` at a time), jobs of submitit's local
executor (``submitit-local``) or SLURM jobs (``slurm``, with ``--slurm-partition``,
``--slurm-time``, ``--slurm-gpus-per-task``; :mod:`optnet_nets.executors`).
``--print-commands`` prints the runs' command lines for any other scheduler instead;
``--summarize-only`` then summarises runs finished elsewhere. Output: ``OUT/study.md``,
``OUT/study.json``, ``OUT/study.png``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from optnet_nets.commands import train as train_command
from optnet_nets.executors import add_executor_arguments, executor_options
from optnet_nets.study.grid import (
    CONFIG_NAME,
    Cell,
    StudyPlan,
    pair_baselines,
    run_dir,
    train_argv,
)
from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError

#: ``optnet train`` flags the study sets per run (:func:`optnet_nets.study.grid.train_argv`) or
#: that make no sense for a grid, so it does not take them itself.
PER_RUN_FLAGS = ("--model", "--dataset", "--out", "--seed", "--resume", "--resume-or-start",
                 "--overwrite", "--json", "--no-progress")  # fmt: skip
#: Seeds accepted without --force (the default is 5); each seed is one training run per model
#: and dataset (--seeds 10^9 would build 10^9 run configurations before any training).
MAX_SEEDS = 100
#: TrainConfig fields that may differ between a run and the study resuming or summarising it
#: (where and how fast it runs, not what it computes), and those a run records when it starts.
FREE_FIELDS = ("out", "data_dir", "device", "threads", "progress", "eval_batch_size",
               "checkpoint_every_steps", "compile", "channels_last", "amp_used",
               "channels_last_used")  # fmt: skip


class _TrainFlags(argparse.ArgumentParser):
    """Receives ``optnet train``'s flags: per-run ones stay here, the others go to ``group``."""

    def __init__(self, group: argparse._ArgumentGroup):
        super().__init__(add_help=False)
        self.group = group
        self.forwarded: list[argparse.Action] = []

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        if names[0] in PER_RUN_FLAGS:
            return super().add_argument(*names, **kwargs)
        action = self.group.add_argument(*names, **kwargs)
        self.forwarded.append(action)
        return action


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", required=True, help="comma-separated model names")
    parser.add_argument("--baseline", required=True,
                        help="model(s) the others are compared with, paired by seed; with "
                             "several (e.g. resnet20,densenet40) each model gets its zoo baseline")
    parser.add_argument("--dataset", required=True, help="comma-separated dataset names")
    parser.add_argument("--seeds", type=int, default=5,
                        help=f"seeds 0..N-1 per model (default 5, at most {MAX_SEEDS} without "
                        "--force)")
    parser.add_argument("--force", action="store_true",
                        help=f"accept more than {MAX_SEEDS} seeds")
    parser.add_argument("--out", required=True, type=Path, help="study folder")
    add_executor_arguments(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print-commands", action="store_true",
                      help="print one 'optnet train' command per run (e.g. for a SLURM array) "
                           "and train nothing")
    mode.add_argument("--summarize-only", action="store_true",
                      help="train nothing; summarise the runs found in OUT")
    add_json_option(parser, "print the summary as JSON")
    donor = _TrainFlags(parser.add_argument_group("options of 'optnet train', for every run"))
    train_command.add_arguments(donor)
    parser.set_defaults(train_actions=tuple(donor.forwarded))


def shared_train_flags(args: argparse.Namespace) -> list[str]:
    """The ``optnet train`` flags given to the study, as a command line for every run."""
    flags: list[str] = []
    for action in args.train_actions:
        value = getattr(args, action.dest)
        option = action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            flags += [option] if value else []
        elif isinstance(action, argparse.BooleanOptionalAction):
            flags += [] if value is None else [option if value else action.option_strings[1]]
        elif isinstance(action, argparse._AppendAction):
            for item in value or ():
                flags += [option, str(item)]
        elif value is not None:
            flags += [option, str(value)]
    return flags


def _names(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names or len(set(names)) != len(names):
        raise OptnetError(f"{flag} takes distinct comma-separated names, got {text!r}")
    return names


def _expected_config(
    parser: argparse.ArgumentParser, out: Path, cell: Cell, flags: list[str]
) -> Any:
    """The TrainConfig that a run's command line starts, parsed by ``optnet train``'s
    ``parser`` and built by its ``build_config``."""
    try:
        run_args = parser.parse_args(train_argv(out, cell, flags))
    except SystemExit:  # argparse printed why; cannot happen for flags the study parsed
        raise OptnetError(f"the run command of {cell} does not parse") from None
    run_args.resume_or_start = False  # what a fresh start would use, checkpoint or not
    config, _ = train_command.build_config(run_args)
    return config


def _check_existing(config: Any, path: Path) -> None:
    """A run already in the study folder must have been started with the study's settings."""
    saved_file = path / CONFIG_NAME
    if not saved_file.is_file():
        return
    try:
        saved = json.loads(saved_file.read_text())
    except json.JSONDecodeError as exc:
        raise OptnetError(f"{saved_file} is not JSON ({exc.msg})") from exc
    if "amp" in saved and saved["amp"] is None:
        saved["amp"] = "none"  # fp32, as configs from before --amp auto store it
    for key, value in config.to_dict().items():
        if key not in FREE_FIELDS and saved.get(key) != value:
            raise OptnetError(
                f"{path} was trained with {key}={saved.get(key)!r}, this study asks for "
                f"{key}={value!r}; use another --out or the run's settings"
            )


def build_plan(args: argparse.Namespace) -> StudyPlan:
    """The study's plan from the flags; every run's config is built and checked first."""
    from optnet_nets.models import registry

    if args.out.exists() and not args.out.is_dir():
        raise OptnetError(f"--out {args.out} is a file; give the study's folder")
    models = _names(args.models, "--models")
    datasets = _names(args.dataset, "--dataset")
    if args.seeds < 1:
        raise OptnetError(f"--seeds must be a positive integer, got {args.seeds}")
    if args.seeds > MAX_SEEDS and not args.force:
        raise OptnetError(f"--seeds {args.seeds} is over {MAX_SEEDS}, a run each per model and "
                          "dataset; pass --force if you mean it")  # fmt: skip
    if args.data_dir is not None and len(datasets) > 1:
        raise OptnetError("--data-dir applies to one dataset; give one --dataset, or none")
    baselines = pair_baselines(
        models, _names(args.baseline, "--baseline"),
        {name: entry.baseline for name, entry in registry().items()},
    )  # fmt: skip
    for model in models:
        for dataset in datasets:
            train_command._check_names(model, dataset)
    flags = shared_train_flags(args)
    parser = argparse.ArgumentParser(prog="optnet train", add_help=False)
    train_command.add_arguments(parser)
    epochs = set()
    for cell in (Cell(m, d, s) for m in models for d in datasets for s in range(args.seeds)):
        config = _expected_config(parser, args.out, cell, flags)
        _check_existing(config, run_dir(args.out, cell))
        epochs.add(config.epochs)
    if len(epochs) > 1:
        raise OptnetError(f"the datasets' presets train for {sorted(epochs)} epochs; give --epochs")
    return StudyPlan(models, datasets, tuple(range(args.seeds)), baselines, epochs.pop(),
                     tuple(flags))


def run(args: argparse.Namespace) -> int:
    from optnet_nets.executors.local import program
    from optnet_nets.study import output, runner
    from optnet_nets.study.summary import summarize_study

    options = executor_options(args)
    plan = build_plan(args)
    if args.print_commands:
        prefix = program(list(options.launcher)) if options.launcher else ["optnet"]
        commands = [[*prefix, "train", *train_argv(args.out, c, plan.train_flags)]
                    for c in plan.cells()]
        if args.json:
            print(json.dumps({"commands": commands}))
        else:
            print("\n".join(shlex.join(c) for c in commands))
        return 0
    done: dict[str, Any] = {}
    with runner.study_lock(args.out):  # the study's files too are written by one study at a time
        if not args.summarize_only:
            threads = None
            workers = options.in_flight(len(plan.cells()))
            if options.name != "slurm" and workers > 1 and args.threads is None:
                threads = max(1, runner.cpu_cores() // workers)
            done = runner.run_study(plan, args.out, executor=options, threads=threads)
        summary = summarize_study(plan, args.out)
        files = output.write_outputs(summary, args.out)
    if args.json:
        print(json.dumps({**summary, "files": files, **done}))
    else:
        print(output.markdown(summary))
        print(f"written: {files['md']}, {files['json']}, {files['png']}", file=sys.stderr)
    return 0
