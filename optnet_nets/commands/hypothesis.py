"""``optnet hypothesis plan|run|summarize``: the dose-response experiment, resumable.

* ``plan --setting S --out DIR``: certify the methods, run the pilot, size the experiment by
  simulation and write ``DIR/plan.json`` before any main run (:mod:`optnet_nets.hypothesis.plan`);
* ``run DIR``: the plan's runs into ``DIR/main`` through an executor (local, submitit-local or
  SLURM, as ``optnet study``); rerunning resumes;
* ``summarize DIR``: the verdict by the plan's rule, ``summary.json``, ``summary.md``,
  ``dose_response.png`` (:mod:`optnet_nets.hypothesis.summary`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError

ACTIONS = ("plan", "run", "summarize")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from optnet_nets.executors import add_executor_arguments
    from optnet_nets.hypothesis.settings import SETTINGS

    parser.add_argument("action", choices=ACTIONS, help="plan, run or summarize")
    parser.add_argument("folder", nargs="?", type=Path,
                        help="the experiment folder (run, summarize; plan takes --out)")
    parser.add_argument("--setting", choices=list(SETTINGS), help="with plan: the setting")
    parser.add_argument("--out", type=Path, help="with plan: the experiment folder")
    parser.add_argument("--mu", type=float, help="with plan: the class's mu (L = 1); default: "
                        "the setting's (the energy's curvature for Table 2)")
    parser.add_argument("--max-seeds", type=int, default=8,
                        help="with plan: the most seeds the power analysis may choose")
    parser.add_argument("--min-levels", type=int, default=0,
                        help="with plan: at least this many levels, whatever the power asks")
    parser.add_argument("--min-seeds", type=int, default=2,
                        help="with plan: at least this many seeds (default 2)")
    parser.add_argument("--simulations", type=int, default=200,
                        help="with plan: simulated experiments per design (default 200)")
    parser.add_argument("--threads", type=int, help="threads of each run")
    add_json_option(parser)
    add_executor_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from optnet_nets.executors import executor_options
    from optnet_nets.hypothesis.plan import make_plan, read_plan
    from optnet_theory.validation import check_int

    options = executor_options(args)
    threads = None if args.threads is None else check_int(args.threads, "--threads", 1, 256)
    if args.action == "plan":
        if args.setting is None or args.out is None:
            raise OptnetError("plan needs --setting S and --out DIR")
        check_int(args.max_seeds, "--max-seeds", 2, 64)
        check_int(args.simulations, "--simulations", 20, 100_000)
        plan = make_plan(args.setting, args.out, mu=args.mu, max_seeds=args.max_seeds,
                         min_levels=check_int(args.min_levels, "--min-levels", 0, 64),
                         min_seeds=check_int(args.min_seeds, "--min-seeds", 1, 64),
                         simulations=args.simulations, executor=options, threads=threads,
                         progress=not args.json)
        if args.json:
            json.dump(plan, sys.stdout)
            print()
        else:
            print(f"plan: {args.out / 'plan.json'}: {len(plan['methods'])} methods x "
                  f"{len(plan['seeds'])} seeds; {plan['power']['statement']}; smallest "
                  f"attainable p {plan['min_attainable_p']:.3g}")
        return 0
    if args.folder is None:
        raise OptnetError(f"{args.action} needs the experiment folder DIR")
    plan = read_plan(args.folder)
    if args.action == "run":
        from optnet_nets.hypothesis.levels import Level
        from optnet_nets.hypothesis.runner import run_grid, tasks_for
        from optnet_nets.hypothesis.settings import Setting

        setting = Setting(**plan["setting"])
        methods = [Level.from_json(m) for m in plan["methods"]]
        tasks = tasks_for(setting, methods, plan["seeds"], plan["class"]["mu"],
                          args.folder / "main", workers=options.workers or 1, threads=threads)
        run_grid(setting, tasks, args.folder / "main", options, threads)
        print(f"runs finished in {args.folder / 'main'}; next: optnet hypothesis summarize "
              f"{args.folder}", file=sys.stderr)
        return 0
    from optnet_nets.hypothesis.summary import (
        PLOT_NAME,
        format_summary,
        plot_dose_response,
        summarize,
    )
    from optnet_theory.atomic import write_json, write_text

    summary = summarize(plan, args.folder)
    write_json(args.folder / "summary.json", summary)
    text = format_summary(summary)
    write_text(args.folder / "summary.md", text + "\n")
    plot_dose_response(summary, args.folder / PLOT_NAME)
    if args.json:
        json.dump(summary, sys.stdout)
        print()
    else:
        print(text)
    return 0
