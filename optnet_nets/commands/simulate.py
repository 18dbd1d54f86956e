"""``optnet simulate``: reproduce Table 2 (Sec. 5.3), resumable, with speed figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from optnet_nets.simulate import ENGINES, OPTIMIZERS, SimulateConfig
    from optnet_nets.unrolled import INITS, STRUCTURES, structure_names

    d = SimulateConfig()
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced run (d=24, 1,000 samples, 8 epochs, depths 3 6, 2 seeds) "
        "in well under a minute; flags given explicitly still apply",
    )
    parser.add_argument("--depths", type=int, nargs="+", help=f"default {list(d.depths)}")
    parser.add_argument("--epochs", type=int, help=f"default {d.epochs}")
    parser.add_argument(
        "--seeds", type=int, help=f"number of seeds 0..N-1 (default {len(d.seeds)})"
    )
    parser.add_argument(
        "--first-seed", type=int, default=0,
        help="with --seeds N: the seeds first..first+N-1 (default 0), e.g. a pilot's",
    )
    parser.add_argument(
        "--structures",
        nargs="+",
        help=f"methods: {', '.join(structure_names())}, a method file (PATH.json) or a family "
        f"string blend:A:B:T; default: Table 2's {' '.join(STRUCTURES)}, in its column order",
    )
    parser.add_argument("--samples", type=int, help=f"training pairs (default {d.samples})")
    parser.add_argument("--dim", type=int, help=f"width d (default {d.dim})")
    parser.add_argument("--lr", type=float, help=f"learning rate (default {d.lr})")
    parser.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    parser.add_argument("--init", choices=INITS, help=f"W initialisation (default {d.init})")
    parser.add_argument(
        "--activation",
        help=f"Phi of every layer: a registry name or a formula in x (default {d.activation}, "
        "Sec. 5.3); other than sigmoid/tanh it trains by autograd",
    )
    parser.add_argument(
        "--mu",
        type=float,
        help="strong-convexity constant for tmm and item, in [0, 1) (L = 1); default: from the "
        "curvature of the energy (8) for seed 0's initial W, 1 - max Phi' * sigma_max(W); "
        "printed with the results",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads in all (default: torch's), split among the workers",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="train this many depths at once in separate processes (default 1; on an N-core "
        "CPU, --workers N --threads N keeps every core busy with d=100's small products)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training step (fuses element-wise work; "
        "minutes of compile time per depth, worth it for full runs)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="gradients by the generated adjoint programs (default, faster) or by "
        "autograd (the reference; also used for --batch-depths)",
    )
    parser.add_argument(
        "--keep-denormals",
        action="store_true",
        help="do not flush subnormal floats to zero while training (slower where gradients "
        "vanish, e.g. GD at depth 40; the trained weights are the same)",
    )
    parser.add_argument(
        "--batch-depths",
        action="store_true",
        help="train all depths as ONE ensemble (shared products, same results; the whole "
        "table is then one resumable unit)",
    )
    parser.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=120.0,
        help="save a depth in progress this often (default 120)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="results directory (default runs/simulate, runs/simulate-quick with --quick)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even when the estimated memory or time exceeds what this machine has",
    )
    add_json_option(parser, "print the results as JSON only")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import math

    import torch

    from optnet_nets.folders.writable import writable_dir
    from optnet_nets.simulate import (
        SimulateConfig,
        format_table,
        measure_gemm_peak,
        quick_config,
        run_simulation,
    )
    from optnet_nets.simulate.budget import check_budget, estimate, machine_memory
    from optnet_theory.validation import check_int

    overrides = {
        "depths": tuple(args.depths) if args.depths else None,
        "epochs": args.epochs,
        "seeds": None,  # built after the budget check: a huge --seeds must not allocate
        "structures": tuple(args.structures) if args.structures else None,
        "samples": args.samples,
        "dim": args.dim,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "init": args.init,
        "mu": args.mu,
        "activation": args.activation,
    }
    if args.seeds is not None:
        check_int(args.seeds, "--seeds", 1)
    first = check_int(args.first_seed, "--first-seed", 0, 10**9)
    if not (math.isfinite(args.checkpoint_seconds) and args.checkpoint_seconds >= 0):
        raise OptnetError(
            f"--checkpoint-seconds must be a finite number >= 0, got {args.checkpoint_seconds}"
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    cfg = quick_config(**given) if args.quick else SimulateConfig(**given)
    cfg.validate()
    n_seeds = len(cfg.seeds) if args.seeds is None else args.seeds
    budget = estimate(
        cfg.structures, cfg.depths, n_seeds, samples=cfg.samples, dim=cfg.dim,
        batch_size=cfg.batch_size, epochs=cfg.epochs, batch_depths=args.batch_depths,
        workers=args.workers,
    )  # fmt: skip
    memory = machine_memory(args.device)
    if not args.force:
        check_budget(budget, memory=memory, peak_flops=measure_gemm_peak(device=args.device))
    if args.seeds is not None:
        cfg = dataclasses.replace(cfg, seeds=tuple(range(first, first + args.seeds)))
    elif first:
        cfg = dataclasses.replace(cfg, seeds=tuple(s + first for s in cfg.seeds))
    if args.threads is None and args.quick:
        args.threads = 1  # tiny matrices: one thread is faster and robust on a shared machine
    if args.threads is not None:
        torch.set_num_threads(check_int(args.threads, "--threads", 1))
    out = writable_dir(
        args.out or Path("runs/simulate-quick" if args.quick else "runs/simulate"), "--out"
    )
    result = run_simulation(
        cfg,
        out,
        device=args.device,
        progress=not args.json,
        checkpoint_seconds=args.checkpoint_seconds,
        compile_model=args.compile,
        batch_depths=args.batch_depths,
        engine=args.engine,
        workers=args.workers,
        flush_denormal=not args.keep_denormals,
    )
    if args.json:
        json.dump({"out": str(out), **result.to_json()}, sys.stdout)
        print()
    else:
        print(format_table(result))
        print(f"results: {out / 'results.json'}, {out / 'table2.csv'}, {out / 'table2.png'}")
    return 0
