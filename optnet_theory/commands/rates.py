"""``optnet rates``: layers to epsilon against kappa = L/mu, tied-weight networks (Sec. 5.1)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optnet_theory.errors import OptnetError

FULL_KAPPAS = (10.0, 31.6227766, 100.0, 316.227766, 1000.0, 3162.27766, 10000.0)
QUICK_KAPPAS = (10.0, 100.0, 1000.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help=f"kappa in {list(QUICK_KAPPAS)}, d=16 (seconds)")
    parser.add_argument("--kappas", type=float, nargs="+",
                        help=f"condition numbers L/mu (default {list(FULL_KAPPAS)})")
    parser.add_argument("--eps", type=float, default=1e-6,
                        help="target ||x_K - x*|| with ||x_0 - x*|| = 1 (default 1e-6)")
    parser.add_argument("--dim", type=int, help="dimension d (default 30; 16 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="instance seed (default 0)")
    parser.add_argument("--variants", nargs="+", help="subset of the variants (default all)")
    parser.add_argument("--out", type=Path, help="directory for rates.json/.csv/.png "
                                                 "(default runs/rates, runs/rates-quick)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")


def run(args: argparse.Namespace) -> int:
    from optnet_theory.rates import VARIANTS, format_rates, measure_rates, write_outputs

    kappas = args.kappas or (QUICK_KAPPAS if args.quick else FULL_KAPPAS)
    dim = args.dim or (16 if args.quick else 30)
    variants = args.variants or list(VARIANTS)
    if args.seed < 0:
        raise OptnetError(f"--seed must be non-negative, got {args.seed}")
    result = measure_rates(kappas, eps=args.eps, dim=dim, seed=args.seed, variants=variants)
    out = args.out or Path("runs/rates-quick" if args.quick else "runs/rates")
    written = write_outputs(result, out)
    if args.json:
        json.dump({"out": str(out), **result.to_json()}, sys.stdout)
        print()
    else:
        print(format_rates(result))
        print("written: " + ", ".join(str(p) for p in written))
    return 0
