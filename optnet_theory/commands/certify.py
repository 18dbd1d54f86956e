"""``optnet certify``: the checked worst case or rate of a method, of a trained network, a table.

* ``optnet certify METHOD --steps N``: :func:`optnet_theory.certify.certify`, an interval
  [lower, upper] checked in exact arithmetic, next to the published bound where one exists.
* ``optnet certify METHOD --rate``: :func:`optnet_theory.certify.rate.certify_rate`, a linear
  rate certified by a quadratic Lyapunov function, or ``null`` with the reason.
* ``optnet certify --from-run RUN_DIR``: the method a trained HB-Net/ResNet's coefficients define
  (:mod:`optnet_theory.learned`), certified at the network's depth and twice it, and the nearest
  registered method. Reading the checkpoint needs torch (``optnet_nets.learned.method``); it is
  imported on this path only.
* ``optnet certify --table``: certified rates and N-step rates for kappa in {10, 100, 1000}
  (:data:`optnet_theory.rates.KAPPAS`; :mod:`optnet_theory.certify.table`), through the
  certificate cache.

With ``--json`` stdout carries one JSON object and nothing else; anything else goes to stderr.
A certificate that cannot be checked is an error (exit 2), never a number.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet certify``."""
    from optnet_theory.certify import INITIAL_CONDITIONS, MAX_GAP
    from optnet_theory.methods import METRICS, list_methods
    from optnet_theory.rates import KAPPAS

    parser.add_argument("method", nargs="?", help=f"one of {', '.join(list_methods())}")
    parser.add_argument("--steps", type=int, help="number of iterations N")
    parser.add_argument("--rate", action="store_true",
                        help="a certified linear rate (quadratic Lyapunov function; needs mu > 0)")
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
    parser.add_argument("--max-gap", type=float, default=MAX_GAP,
                        help=f"largest relative gap (upper - lower)/upper accepted "
                             f"(default {MAX_GAP:g})")
    parser.add_argument("--from-run", type=Path, metavar="RUN_DIR",
                        help="certify the method a trained HB-Net/ResNet's coefficients define")
    grid = ", ".join(f"{k:g}" for k in KAPPAS)
    parser.add_argument("--table", action="store_true",
                        help=f"certified rates for kappa in {{{grid}}} (cached)")
    parser.add_argument("--cache", type=Path,
                        help="certificate cache folder (default $XDG_CACHE_HOME/optnet/"
                             "certificates)")
    parser.add_argument("--rates", type=Path, metavar="RATES_JSON",
                        help="with --table: fill the measured column from an `optnet rates` "
                             "run's rates.json")
    add_json_option(parser)


def parse_params(items: list[str], accepted: dict[str, Any] | None = None) -> dict[str, Any]:
    """``["beta=0.5", "momentum=constant"]`` -> ``{"beta": 0.5, "momentum": "constant"}``.

    With ``accepted`` (a spec's parameters and defaults), a parameter whose default is not a
    string must be a finite number.
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier() or not value:
            raise OptnetError(f"--param expects NAME=VALUE such as beta=0.5, got {item!r}")
        textual = accepted is not None and isinstance(accepted.get(name), str)
        try:
            number = float(value)
        except ValueError:
            number = None
        if textual or (number is None and accepted is None):
            out[name] = value
        elif number is None or not math.isfinite(number):
            raise OptnetError(f"--param {name} expects a finite number, got {value!r}")
        else:
            out[name] = number
    return out


def _method(args: argparse.Namespace) -> Any:
    from optnet_theory.methods import FUNCTION_CLASSES, get_method, get_spec

    spec = get_spec(args.method)
    if spec.function_class == "smooth-strongly-convex" and not 0 < args.mu < args.L:
        raise OptnetError(
            f"{spec.name}'s certificate covers {FUNCTION_CLASSES[spec.function_class]} "
            f"functions only; pass --mu with 0 < mu < L (L = {args.L:g}, got mu = {args.mu:g})"
        )
    params = parse_params(args.param, dict(spec.params))
    horizon = args.steps if spec.needs_horizon else None
    return get_method(args.method, L=args.L, mu=args.mu, N=horizon, **params)


def _format(record: dict[str, Any]) -> str:
    from optnet_theory.methods import METRICS

    quantity = METRICS[record["metric"]][0]
    line = (
        f"{record['method']}, N = {record['steps']}, L = {record['L']:g}, mu = {record['mu']:g}: "
        f"worst case of {quantity} given {record['initial_condition']} is "
        f"{record['worst_case']:.10g}\n"
        f"  certified interval [{record['lower']:.10g}, {record['upper']:.10g}] "
        f"(relative gap {record['relative_gap']:.2g}), checked in exact arithmetic; "
        f"scaling {record['scaling']['law']}"
    )
    if record["analytic"] is not None:
        inside = record["lower"] <= record["analytic"] <= record["upper"]
        line += (
            f"\n  published bound {record['analytic']:.10g} "
            f"({'inside' if inside else 'OUTSIDE'} the interval; certified / published = "
            f"{record['worst_case'] / record['analytic']:.8f})"
        )
    else:
        line += "\n  no published bound for this metric"
    low, high = record["n_step_rate"]
    return line + (
        f"\n  N-step rate (value)^(1/2N) in [{low:.8g}, {high:.8g}]"
        f"\n  solver {record['solver']} ({record['solver_status']}), "
        f"attempt {record['attempts']}, {record['seconds']:.2f} s"
    )


def _format_rate(record: dict[str, Any]) -> str:
    head = f"{record['method']}, L = {record['L']:g}, mu = {record['mu']:g}: "
    lower = record["rate_lower"]
    floor = "" if lower is None else (
        f"; the worst one-dimensional quadratic converges at {lower:.10g} per iteration")
    if record["rate"] is None:
        return head + f"no certified rate: {record['reason']}{floor}"
    return (head + f"certified rate {record['rate']:.10g} (V_(k+1) <= rate^2 V_k, "
            f"quadratic Lyapunov function checked in exact arithmetic){floor}")


def _from_run(args: argparse.Namespace) -> int:
    from optnet_theory.learned import report_learned

    reader = importlib.import_module("optnet_nets.learned.method")  # torch: this path only
    run = reader.read_run(args.from_run)
    report = report_learned(run.schedule, L=args.L, mu=args.mu)
    record = {"run": str(args.from_run), "model": run.model, "model_options": run.options,
              **report.to_json()}
    _emit(args, record, lambda: f"run {args.from_run} ({run.model}, options {run.options})\n"
          + report.format())
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
    from optnet_theory.certify.table import certified_rates, format_table

    table = certified_rates(cache=args.cache, progress=not args.json)
    measured = None if args.rates is None else measured_layers(args.rates)
    record = {**table, "measured": None if measured is None else
              {f"{r}|kappa={k:g}": v for (r, k), v in measured.items()}}
    _emit(args, record, lambda: format_table(table, measured))
    return 0


def _emit(args: argparse.Namespace, record: dict[str, Any], text: Any) -> None:
    if args.json:
        json.dump(record, sys.stdout, allow_nan=False)
        print()
    else:
        print(text())


def run(args: argparse.Namespace) -> int:
    """Certify one method (worst case or rate), a trained run, or the rates table."""
    chosen = [bool(args.method), args.from_run is not None, args.table]
    if sum(chosen) != 1:
        raise OptnetError(
            "give exactly one of METHOD (with --steps N or --rate), --from-run RUN_DIR, --table"
        )
    if args.from_run is not None:
        return _from_run(args)
    if args.table:
        return _table(args)
    if not math.isfinite(args.max_gap) or not 0 < args.max_gap < 1:
        raise OptnetError(f"--max-gap must be in (0, 1), got {args.max_gap!r}")
    if args.rate:
        from optnet_theory.certify.rate import certify_rate

        rate = certify_rate(_method(args)).to_json()
        _emit(args, rate, lambda: _format_rate(rate))
        return 0
    if args.steps is None:
        raise OptnetError("--steps N is required (or --rate): the number of iterations")
    from optnet_theory.certify import certify

    cert = certify(_method(args), args.steps, metric=args.metric, initial=args.initial,
                   max_gap=args.max_gap)
    record = cert.to_json()
    _emit(args, record, lambda: _format(record))
    return 0
