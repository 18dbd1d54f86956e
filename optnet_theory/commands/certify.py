"""``optnet certify``: the exact worst case of a method (PEP), of a trained network, or a table.

* ``optnet certify METHOD --steps N``: :func:`optnet_theory.certify.certify`, next to the
  published bound where one exists.
* ``optnet certify --from-run RUN_DIR``: the method a trained HB-Net/ResNet's coefficients define
  (:mod:`optnet_theory.learned`), certified at the network's depth and twice it, and the nearest
  registered method. Reading the checkpoint needs torch (``optnet_nets.learned_method``); it is
  imported on this path only.
* ``optnet certify --table``: certified rates for kappa in {10, 100, 1000}
  (:mod:`optnet_theory.certify_table`), cached in a JSON file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet certify``."""
    from optnet_theory.certify import INITIAL_CONDITIONS
    from optnet_theory.certify_table import DEFAULT_TABLE
    from optnet_theory.methods import METRICS, list_methods

    parser.add_argument("method", nargs="?", help=f"one of {', '.join(list_methods())}")
    parser.add_argument("--steps", type=int, help="number of iterations N")
    parser.add_argument("--L", type=float, default=1.0, help="smoothness constant (default 1)")
    parser.add_argument(
        "--mu", type=float, default=0.0,
        help="strong convexity constant (default 0: L-smooth convex; tmm and item need 0 < mu < L)",
    )
    parser.add_argument("--metric", choices=list(METRICS),
                        help="quantity to bound (default: the one the method's guarantee bounds)")
    parser.add_argument("--initial", choices=list(INITIAL_CONDITIONS),
                        help="initial condition: ||x_0 - x*||^2 <= 1 (distance) or "
                             "f(x_0) - f* <= 1 (function-gap); default: the metric's")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a method parameter, e.g. --param beta=0.5 (repeatable)")
    parser.add_argument("--from-run", type=Path, metavar="RUN_DIR",
                        help="certify the method a trained HB-Net/ResNet's coefficients define")
    parser.add_argument("--table", action="store_true",
                        help="certified rates for kappa in {10, 100, 1000} (cached)")
    parser.add_argument("--out", type=Path, default=DEFAULT_TABLE,
                        help=f"cache file of --table (default {DEFAULT_TABLE})")
    parser.add_argument("--rates", type=Path, metavar="RATES_JSON",
                        help="with --table: fill the measured column from an `optnet rates` "
                             "run's rates.json")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["beta=0.5", "momentum=constant"]`` -> ``{"beta": 0.5, "momentum": "constant"}``."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier() or not value.strip():
            raise OptnetError(f"--param expects NAME=VALUE such as beta=0.5, got {item!r}")
        try:
            out[name] = float(value)
        except ValueError:
            out[name] = value.strip()
    return out


def _method(args: argparse.Namespace) -> Any:
    from optnet_theory.methods import FUNCTION_CLASSES, get_method, get_spec

    spec = get_spec(args.method)
    if spec.function_class == "smooth-strongly-convex" and not 0 < args.mu < args.L:
        raise OptnetError(
            f"{spec.name}'s certificate covers {FUNCTION_CLASSES[spec.function_class]} "
            f"functions only; pass --mu with 0 < mu < L (L = {args.L:g}, got mu = {args.mu:g})"
        )
    return get_method(args.method, L=args.L, mu=args.mu, **parse_params(args.param))


def _format(record: dict[str, Any]) -> str:
    from optnet_theory.methods import METRICS

    quantity = METRICS[record["metric"]][0]
    line = (
        f"{record['method']}, N = {record['steps']}, L = {record['L']:g}, mu = {record['mu']:g}: "
        f"worst case of {quantity} given {record['initial_condition']} is "
        f"{record['worst_case']:.10g}"
    )
    if record["analytic"] is not None:
        ratio = record["worst_case"] / record["analytic"]
        line += (
            f"\n  published bound {record['analytic']:.10g} "
            f"(certified / published = {ratio:.8f})"
        )
    else:
        line += "\n  no published bound for this metric"
    return line + (
        f"\n  solver {record['solver']} ({record['solver_status']}), {record['seconds']:.2f} s"
    )


def _from_run(args: argparse.Namespace) -> int:
    from optnet_theory.learned import report_learned

    reader = importlib.import_module("optnet_nets.learned_method")  # torch: this path only
    run = reader.read_run(args.from_run)
    report = report_learned(run.schedule, L=args.L, mu=args.mu)
    record = {"run": str(args.from_run), "model": run.model, "model_options": run.options,
              **report.to_json()}
    if args.json:
        json.dump(record, sys.stdout)
        print()
    else:
        print(f"run {args.from_run} ({run.model}, options {run.options})")
        print(report.format())
    return 0


def measured_layers(path: Path) -> dict[tuple[str, float], int | None]:
    """(variant, kappa) -> layers to epsilon, from ``optnet rates``' rates.json."""
    try:
        data = json.loads(path.read_text())
        kappas = [float(k) for k in data["kappas"]]
        return {(v, k): n for v, counts in data["layers"].items()
                for k, n in zip(kappas, counts, strict=True)}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OptnetError(f"--rates {path}: not an `optnet rates` rates.json ({exc})") from None


def _table(args: argparse.Namespace) -> int:
    from optnet_theory.certify_table import certified_rates, format_table

    table = certified_rates(cache=args.out, progress=not args.json)
    measured = None if args.rates is None else measured_layers(args.rates)
    if args.json:
        json.dump({**table, "measured": None if measured is None else
                   {f"{r}|kappa={k:g}": v for (r, k), v in measured.items()}}, sys.stdout)
        print()
    else:
        print(format_table(table, measured))
        print(f"cached in {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Certify one method, a trained run, or the rates table."""
    chosen = [bool(args.method), args.from_run is not None, args.table]
    if sum(chosen) != 1:
        raise OptnetError(
            "give exactly one of METHOD (with --steps N), --from-run RUN_DIR, --table"
        )
    if args.from_run is not None:
        return _from_run(args)
    if args.table:
        return _table(args)
    if args.steps is None:
        raise OptnetError("--steps N is required: the number of iterations to certify")
    from optnet_theory.certify import certify

    cert = certify(_method(args), args.steps, metric=args.metric, initial=args.initial)
    record = cert.to_json()
    if args.json:
        json.dump(record, sys.stdout)
        print()
    else:
        print(_format(record))
    return 0
