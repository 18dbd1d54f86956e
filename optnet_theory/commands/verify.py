"""``optnet verify CLAIM``: check Lemma 1 and the unrollings (11)-(14) numerically."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from typing import Any

from optnet_theory.commands import add_json_option
from optnet_theory.energy import limits
from optnet_theory.errors import OptnetError


def _summed_claims() -> frozenset[str]:
    """Claims that run the summed form (4), whose cost grows with K^2: agd2's and the forms'."""
    from optnet_theory.methods.catalogue.paper import AGD2
    from optnet_theory.verify import FORMS_CLAIM, paper_claims

    agd2 = [claim for claim, method in paper_claims().items() if method == AGD2.name]
    return frozenset({*agd2, FORMS_CLAIM})


def _choices() -> tuple[str, ...]:
    """Every claim, every registered method name (``gd`` is ``lemma1``), and ``all``."""
    from optnet_theory.methods import list_methods
    from optnet_theory.verify import list_claims

    claims = list_claims()
    return (*claims, *(m for m in list_methods() if m not in claims), "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet verify``."""
    parser.add_argument("claim", help=f"which claim to check: {', '.join(_choices())}, a method "
                        "file (PATH.json) or a family string blend:A:B:T ('all': every one)")
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
    parser.add_argument(
        "--matrix",
        metavar="FILE",
        help="use this W (.npy, .txt or .csv) instead of drawing one; must be SPD unless "
        "--general-w (--dim and --cond are then taken from it)",
    )
    parser.add_argument(
        "--x0", metavar="FILE", help="starting point x_0 (.npy, .txt or .csv; default: drawn)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even when the estimated memory or time exceeds what this machine can give",
    )
    add_json_option(parser, "one JSON object per claim per line")


def _user_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keywords W=/x0= for make_settings from --matrix/--x0, and where W and x_0 came from."""
    from optnet_theory.arrayfile import load_array

    given: dict[str, Any] = {}
    sources: dict[str, Any] = {
        "matrix_source": {"source": "drawn", "seed": args.seed, "cond": args.cond},
        "x0_source": {"source": "drawn", "seed": args.seed},
    }
    if args.matrix is not None:
        given["W"], sources["matrix_source"] = load_array(args.matrix, "--matrix", ndim=2)
    if args.x0 is not None:
        given["x0"], sources["x0_source"] = load_array(args.x0, "--x0", ndim=1)
    return given, sources


#: Why a claim with a non-finite compared state fails (see optnet_theory.verify.claims._errors).
NON_FINITE = (
    "a compared state is not finite (NaN or overflow), so no error can be measured; "
    "try a smaller --beta, --depth or --cond"
)


def _json_number(value: float) -> float | str:
    """``value``, or "inf"/"nan" as text (JSON has no non-finite numbers)."""
    return value if math.isfinite(value) else str(value)


def _check_numbers(args: argparse.Namespace) -> None:
    """One-line errors for --seed, --beta, --trials, --dim before anything is drawn."""
    if args.seed < 0:
        raise OptnetError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.beta is not None and not math.isfinite(args.beta):
        raise OptnetError(f"--beta must be a finite number, got {args.beta}")
    if args.trials < 1:
        raise OptnetError(f"--trials must be a positive integer, got {args.trials}")
    if args.dim < 1:
        raise OptnetError(f"--dim must be a positive integer, got {args.dim}")


def estimate(
    claims: tuple[str, ...], dim: int, depth: int, trials: int, precision: int | None
) -> limits.Estimate:
    """Memory and time of ``verify`` from its sizes (lower bounds, see optnet_theory.energy.limits).

    Per trial: W, U, U^{-1} and the eigendecomposition (n^3); per claim and layer a few
    n x n products; the summed form (4) of agd2 and nesterov-forms keeps the (K+1)^2 table h
    of (5) and sums over all earlier gradients (K^2 / 2 vector updates).
    """
    mp = precision is not None
    flop = (limits.MP_FLOP_SECONDS * max(1.0, (precision or 0) / 50) if mp
            else limits.FLOAT_FLOP_SECONDS)
    size = limits.MP_BYTES if mp else limits.FLOAT_BYTES
    n, k = float(dim), float(depth) + 1
    summed = sum(c in _summed_claims() for c in claims)
    memory = size * (trials * 6 * n * n + 8 * k * n * trials + summed * k * k / 2)
    per_trial = 10 * n**3 * flop + len(claims) * k * (4 * n * n * flop + limits.LAYER_SECONDS)
    per_trial += summed * k * k / 2 * (n * flop + limits.LAYER_SECONDS / 10)
    return limits.Estimate(memory, trials * per_trial)


def _verify_all(args: argparse.Namespace, claims: tuple[str, ...], given: dict[str, Any]) -> Any:
    """verify_all with the command's options."""
    from optnet_theory.commands.derive import parse_params
    from optnet_theory.paper_values import SIMULATION_HB_BETA
    from optnet_theory.verify import verify_all

    return verify_all(
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
        **given,
    )


def run(args: argparse.Namespace) -> int:
    """Print a table (or JSON lines); exit status 1 when any claim fails."""
    from optnet_theory.verify import list_claims

    claims = tuple(list_claims()) if args.claim == "all" else (args.claim,)
    if args.depth is not None and args.depth < 1:
        raise OptnetError(f"--depth must be a positive integer, got {args.depth}")
    _check_numbers(args)
    given, sources = _user_inputs(args)
    dim = given["W"].shape[0] if "W" in given else args.dim
    limits.check_resources(f"verify with n = {dim}, K = {args.depth}, {args.trials} trial(s)",
                    estimate(claims, dim, args.depth, args.trials, args.precision), args.force)
    from optnet_theory.methods.cost import forced

    try:
        with forced() if args.force else contextlib.nullcontext():
            results = _verify_all(args, claims, given)
    except MemoryError:
        raise OptnetError("ran out of memory (the size check was skipped with --force)") from None
    if args.json:
        for r in results:
            problem = {} if math.isfinite(r.max_rel_error) else {"problem": NON_FINITE}
            record = {**r.to_json(), **sources, **problem}
            record.update(max_abs_error=_json_number(r.max_abs_error),
                          max_rel_error=_json_number(r.max_rel_error))
            print(json.dumps(record))
    else:
        r0 = results[0]
        prec = "float64" if r0.precision == "float64" else f"{r0.precision} digits"
        print(
            f"activation {r0.activation}, n = {r0.dim}, K = {r0.depth}, cond(W) = {r0.cond:.4g}, "
            f"{r0.trials} trial(s), {prec}" + (", general W" if r0.general_w else "")
        )
        for flag, key in (("W", "matrix_source"), ("x0", "x0_source")):
            if sources[key]["source"] == "file":
                print(f"{flag} from {sources[key]['path']} (sha256 {sources[key]['sha256'][:12]})")
        print(f"{'claim':<16}{'max abs error':>15}{'max rel error':>15}{'tolerance':>12}  result")
        for r in results:
            print(
                f"{r.claim:<16}{r.max_abs_error:>15.3e}{r.max_rel_error:>15.3e}"
                f"{r.tolerance:>12.2e}  {'pass' if r.passed else 'FAIL'}"
            )
        for r in results:
            if not math.isfinite(r.max_rel_error):
                print(f"{r.claim}: FAIL, {NON_FINITE}")
    return 0 if all(r.passed for r in results) else 1
