"""``optnet verify CLAIM``: check Lemma 1 and the unrollings (11)-(14) numerically."""

from __future__ import annotations

import argparse
import json

from optnet_theory.errors import OptnetError

CHOICES = ("lemma1", "hb", "agd", "agd2", "admm", "nesterov-forms", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet verify``."""
    parser.add_argument("claim", choices=CHOICES, help="which claim to check ('all': every one)")
    parser.add_argument(
        "--activation", default="sigmoid", help="registry name or formula in x (default sigmoid)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind an activation parameter, e.g. --param alpha=0.1 (repeatable)",
    )
    parser.add_argument("--dim", type=int, default=8, help="size n of W (default 8)")
    parser.add_argument("--depth", type=int, default=20, help="number of layers K (default 20)")
    parser.add_argument("--cond", type=float, default=10.0, help="condition number of W (10)")
    parser.add_argument("--trials", type=int, default=3, help="random (W, x0) draws (default 3)")
    parser.add_argument(
        "--precision",
        type=int,
        default=None,
        metavar="DIGITS",
        help="run in mpmath with this many digits (>= 10) instead of float64",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--beta", type=float, default=None, help="heavy-ball momentum of (11) (default 0.3)"
    )
    parser.add_argument(
        "--general-w",
        action="store_true",
        help="draw a non-symmetric W and use its principal square root (no objective f exists)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per claim per line")


def run(args: argparse.Namespace) -> int:
    """Print a table (or JSON lines); exit status 1 when any claim fails."""
    from optnet_theory.commands.derive import parse_params
    from optnet_theory.paper_values import SIMULATION_HB_BETA
    from optnet_theory.verify import CLAIMS, verify_all

    claims = tuple(CLAIMS) if args.claim == "all" else (args.claim,)
    if args.depth is not None and args.depth < 1:
        raise OptnetError(f"--depth must be a positive integer, got {args.depth}")
    results = verify_all(
        args.activation,
        claims=claims,
        depth=args.depth,
        beta=SIMULATION_HB_BETA if args.beta is None else args.beta,
        dim=args.dim,
        cond=args.cond,
        trials=args.trials,
        precision=args.precision,
        seed=args.seed,
        general_w=args.general_w,
        params=parse_params(args.param),
    )
    if args.json:
        for r in results:
            print(json.dumps(r.to_json()))
    else:
        r0 = results[0]
        prec = "float64" if r0.precision == "float64" else f"{r0.precision} digits"
        print(
            f"activation {r0.activation}, n = {r0.dim}, K = {r0.depth}, cond(W) = {r0.cond:.4g}, "
            f"{r0.trials} trial(s), {prec}" + (", general W" if r0.general_w else "")
        )
        print(f"{'claim':<16}{'max abs error':>15}{'max rel error':>15}{'tolerance':>12}  result")
        for r in results:
            print(
                f"{r.claim:<16}{r.max_abs_error:>15.3e}{r.max_rel_error:>15.3e}"
                f"{r.tolerance:>12.2e}  {'pass' if r.passed else 'FAIL'}"
            )
    return 0 if all(r.passed for r in results) else 1
