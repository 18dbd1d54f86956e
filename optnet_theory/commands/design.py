"""``optnet design``: the best N-step method for a class and a metric, as a method file.

    optnet design --steps N --class smooth-convex|smooth-strongly-convex [--mu MU]
                  --metric function-gap|distance|gradient-norm [--initial distance|function-gap]
                  [--starts K] [--seed S] [--name NAME] [--out FILE.json] [--json]

Optimises the N(N+1)/2 numbers h of the dense form (18) against the certified worst case
(:mod:`optnet_theory.design`), prints h, its certificate, how far it is from the proven (or
best known) optimum and the nearest registered method, and writes a method file that every
command accepts in place of a method name (``optnet certify FILE.json --steps N``,
``create_model("methodnet20", method=FILE.json)`` for N = 9, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from optnet_theory.methods import FUNCTION_CLASSES, METRICS

    parser.add_argument("--steps", type=int, required=True, help="the horizon N")
    parser.add_argument("--class", dest="function_class", choices=list(FUNCTION_CLASSES),
                        required=True, help="the function class")
    parser.add_argument("--mu", type=float, default=0.0,
                        help="mu/L for the strongly convex class (L = 1)")
    parser.add_argument("--metric", choices=list(METRICS), required=True,
                        help="the quantity whose worst case is minimised")
    parser.add_argument("--initial", choices=["distance", "function-gap"],
                        help="the initial condition (default: the metric's)")
    parser.add_argument("--starts", type=int, default=4,
                        help="local searches (gd, accelerated, the known optimum, random)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    parser.add_argument("--no-known-start", action="store_true",
                        help="leave the known optimal method out of the starts")
    parser.add_argument("--name", default=None, help="the method's name (default designed-N)")
    parser.add_argument("--out", type=Path, help="write the method file here (.json)")
    add_json_option(parser)


def _format(d: dict, name: str) -> str:
    cert = d["certificate"]
    lines = [f"{name}: N = {d['steps']}, {d['function_class']}, metric {d['metric']} from "
             f"{d['initial']} (mu/L = {d['mu']:g})",
             "h (x_(k+1) = x_k - sum_j h[k][j] g_j / L):"]
    lines += ["  " + " ".join(f"{v:+.6f}" for v in row) for row in d["h"]]
    lines.append(f"certified worst case {cert['worst_case']:.10g} in [{cert['lower']:.10g}, "
                 f"{cert['upper']:.10g}] (relative gap {cert['relative_gap']:.2g})")
    lines.append(f"optimality: {d['optimality']}")
    lines.append(f"method: {d['method']}")
    near = ", ".join(f"{n['method']} ({n['distance']:.4g})" for n in d["nearest"])
    lines.append(f"nearest registered methods (distance in h): {near}")
    lines.append(f"{d['seconds']:.1f} s")
    return "\n".join(lines)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("optnet")
    except PackageNotFoundError:  # pragma: no cover - a source tree without an install
        return "unknown"


def run(args: argparse.Namespace) -> int:
    from optnet_theory.atomic import write_json
    from optnet_theory.design import design
    from optnet_theory.methods.dense.files import NAME_PATTERN, is_method_file, method_file_record

    name = args.name or f"designed-{args.steps}"
    if not NAME_PATTERN.match(name):
        raise OptnetError(f"--name must be a letter then up to 63 letters, digits, '_', '.' or "
                          f"'-', got {name!r}")
    if args.out is not None and not is_method_file(str(args.out)):
        raise OptnetError(f"--out must name a .json method file, got {args.out}")
    result = design(args.steps, args.function_class, args.metric, initial=args.initial,
                    mu=args.mu, starts=args.starts, seed=args.seed,
                    known_start=not args.no_known_start, progress=not args.json)
    d = result.to_json()
    record = method_file_record(
        name=name, h=result.h, function_class=result.function_class, metric=result.metric,
        initial=result.initial, L=1.0, mu=result.mu,
        certificate={k: d["certificate"][k] for k in ("worst_case", "lower", "upper",
                                                      "relative_gap", "scaling")},
        seed=args.seed,
        provenance={"command": "optnet design", "optnet": _version(), "method": result.method,
                    "optimality": result.optimality, "reference": result.reference,
                    "starts": result.starts, "seconds": result.seconds},
    )
    if args.out is not None:
        write_json(args.out, record)
    if args.json:
        json.dump({**record, "nearest": result.nearest,
                   "worst_case": d["certificate"]["worst_case"],
                   "out": None if args.out is None else str(args.out)}, sys.stdout)
        print()
    else:
        print(_format(d, name))
        if args.out is not None:
            print(f"method file: {args.out}")
    return 0
