"""``optnet methods``: the registered first-order methods, and the dense form (18) of one."""

from __future__ import annotations

import argparse
import json

from optnet_theory.commands import add_json_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet methods``."""
    add_json_option(parser, "one JSON object per method")
    parser.add_argument(
        "--dense",
        metavar="METHOD",
        help="print METHOD's dense form (18): each point in x_0 and the T(y_i) before it",
    )
    parser.add_argument("--steps", type=int, default=5, help="iterations for --dense (default 5)")
    parser.add_argument("--mu", type=float, default=0.1,
                        help="mu for --dense of a strongly convex method (default 0.1, L = 1)")


def run(args: argparse.Namespace) -> int:
    """List name, source, function class, state size, output and guarantee of each method."""
    from optnet_theory.methods import get_method, get_spec, list_methods
    from optnet_theory.validation import check_int

    if args.dense is not None:
        from optnet_theory.methods.dense import format_dense_form

        steps = check_int(args.steps, "--steps", 1, 200)
        spec = get_spec(args.dense)
        mu = args.mu if spec.function_class == "smooth-strongly-convex" else 0.0
        method = get_method(args.dense, mu=mu, N=steps if spec.needs_horizon else None)
        print(format_dense_form(method, steps))
        return 0
    rows = [get_spec(name).describe() for name in list_methods()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(f"{r['name']:<6} {r['function_class_text']}; state {r['state_size']}"
              f"{' x ' + str(r['substeps']) + ' sub-steps' if r['substeps'] > 1 else ''}; "
              f"output {r['output']}")
        print(f"       source: {r['source']}")
        print(f"       guarantee: {r['guarantee']}")
    return 0
