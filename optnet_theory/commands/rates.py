"""``optnet rates``: layers to epsilon against kappa = L/mu, tied-weight networks (Sec. 5.1)."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from optnet_theory.commands import add_json_option
from optnet_theory.energy.limits import (
    FLOAT_BYTES,
    FLOAT_FLOP_SECONDS,
    LAYER_SECONDS,
    Estimate,
    check_resources,
)
from optnet_theory.errors import OptnetError
from optnet_theory.rates import FULL_KAPPAS, KAPPAS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help=f"kappa in {list(KAPPAS)}, d=16 (seconds)")
    parser.add_argument("--kappas", type=float, nargs="+",
                        help=f"condition numbers L/mu (default {list(FULL_KAPPAS)})")
    parser.add_argument("--eps", type=float, default=1e-6,
                        help="target ||x_K - x*|| with ||x_0 - x*|| = 1 (default 1e-6)")
    parser.add_argument("--dim", type=int, help="dimension d (default 30; 16 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="instance seed (default 0)")
    parser.add_argument("--variants", nargs="+",
                        help="subset of the variants (default all); a method file (PATH.json, "
                             "run for its own N steps) or a family string blend:A:B:T too")
    parser.add_argument("--out", type=Path, help="directory for rates.json/.csv/.png "
                                                 "(default runs/rates, runs/rates-quick)")
    parser.add_argument("--force", action="store_true",
                        help="run even when the estimated memory or time exceeds the limits")
    add_json_option(parser, "print the results as JSON only")


def estimate(kappas: Sequence[float], eps: float, dim: int, variants: int) -> Estimate:
    """Memory and time of ``rates`` from its sizes (lower bounds, see optnet_theory.energy.limits).

    Per kappa: the instance (QR and a Newton solve, about 60 d^3 flops) and, per variant, up to
    ``budget * kappa * ln(1/eps) + 100`` layers of one d x d product each (the cap of
    :func:`~optnet_theory.rates.measure_rates`).
    """
    from optnet_theory.rates import measure_rates

    budget = inspect.signature(measure_rates).parameters["budget"].default
    n = float(dim)
    layers = [budget * k * math.log(1 / eps) + 100 for k in kappas]
    seconds = sum(
        60 * n**3 * FLOAT_FLOP_SECONDS + variants * cap * (2 * n * n * FLOAT_FLOP_SECONDS
                                                          + LAYER_SECONDS)
        for cap in layers
    )
    return Estimate(FLOAT_BYTES * (10 * n * n + 2 * max(layers)), seconds)


def run(args: argparse.Namespace) -> int:
    from optnet_theory.rates import format_rates, list_variants, measure_rates, write_outputs

    kappas = args.kappas or (KAPPAS if args.quick else FULL_KAPPAS)
    dim = args.dim if args.dim is not None else (16 if args.quick else 30)
    variants = args.variants or list(list_variants())
    if args.seed < 0:
        raise OptnetError(f"--seed must be non-negative, got {args.seed}")
    if dim < 2:
        raise OptnetError(f"--dim must be an integer >= 2, got {dim}")
    bad = [k for k in kappas if not (math.isfinite(k) and k > 1)]
    if bad:
        raise OptnetError(f"--kappas must be finite numbers > 1, got {bad[0]}")
    if not 0 < args.eps < 1:
        raise OptnetError(f"--eps must be in (0, 1), got {args.eps}")
    check_resources(f"rates with d = {dim} and kappa up to {max(kappas):g}",
                    estimate(kappas, args.eps, dim, len(variants)), args.force)
    from optnet_theory.methods.cost import forced

    with forced() if args.force else contextlib.nullcontext():
        result = measure_rates(kappas, eps=args.eps, dim=dim, seed=args.seed, variants=variants)
    out = args.out or Path("runs/rates-quick" if args.quick else "runs/rates")
    try:
        written = write_outputs(result, out)
    except OSError as exc:
        raise OptnetError(f"cannot write the results to {out}: {exc.strerror or exc}") from None
    if args.json:
        json.dump({"out": str(out), **result.to_json()}, sys.stdout)
        print()
    else:
        print(format_rates(result))
        print("written: " + ", ".join(str(p) for p in written))
    return 0
