"""``optnet derive SPEC``: derive Psi (Psi' = Phi) and the energy (8) of an activation."""

from __future__ import annotations

import argparse
import json
import math

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet derive``."""
    parser.add_argument("spec", help="registry name (optnet activations) or a formula in x")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind a parameter, e.g. --param alpha=0.1 (repeatable)",
    )
    parser.add_argument("--latex", action="store_true", help="print Phi and Psi as LaTeX")
    add_json_option(parser)
    parser.add_argument(
        "--exact-slopes",
        action="store_true",
        help="try SymPy for the slope bounds m <= Phi' <= M (slower); default numeric",
    )
    parser.add_argument(
        "--plot", metavar="FILE.png", help="draw Phi, Psi and |Psi' - Phi| into this PNG"
    )
    parser.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("LO", "HI"),
        help="x-range of --plot (default -5 5)",
    )


def parse_params(items: list[str]) -> dict[str, float]:
    """``["alpha=0.1"]`` -> ``{"alpha": 0.1}``, refusing anything else in one line."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise OptnetError(f"--param expects NAME=VALUE such as alpha=0.1, got {item!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise OptnetError(f"--param {name}: {value!r} is not a number") from None
    return out


def run(args: argparse.Namespace) -> int:
    """Derive, check, and print the energy with its slope bounds and (8)'s mu, L for U = I."""
    import numpy as np
    import sympy as sp

    from optnet_theory.energy import activation_phi, derive_energy
    from optnet_theory.energy.curvature import curvature, deciding_unbounded

    params = parse_params(args.param)
    with deciding_unbounded(activation_phi(args.spec, **params)):
        energy = derive_energy(args.spec, **params)
        curv = curvature(energy, np.eye(1), symbolic=args.exact_slopes)
    record = energy.to_json()
    if args.plot:
        from optnet_theory.energy.plot import DEFAULT_RANGE, plot_energy

        x_range = tuple(args.range) if args.range else DEFAULT_RANGE
        record["plot"] = str(plot_energy(energy, args.plot, x_range))
    elif args.range:
        raise OptnetError("--range sets the x-range of --plot; give --plot FILE.png too")
    record.update(
        {
            "slope_bounds": {"m": curv.m, "M": curv.M, "method": curv.slope_method},
            "identity_U": {"mu": curv.mu, "L": curv.L, "strongly_convex": curv.strongly_convex},
        }
    )
    if args.json:
        print(json.dumps(record, indent=2, default=str))
        return 0
    phi = sp.latex(energy.phi) if args.latex else str(energy.phi)
    print(f"Phi(x) = {phi}")
    if energy.psi is None:
        lo, hi = energy.domain
        where = "all real x" if (lo, hi) == (-math.inf, math.inf) else f"x in [{lo:g}, {hi:g}] only"
        print(
            f"Psi(x) = integral_0^x Phi  [numeric, accuracy {energy.accuracy:.1e}, "
            f"defined for {where}]"
        )
    else:
        print(f"Psi(x) = {sp.latex(energy.psi) if args.latex else energy.psi}")
    print(
        f"method: {energy.method}; verified: {energy.verified}; "
        f"max check error {energy.max_check_error:.1e}"
    )
    print(
        f"slope bounds: {curv.m:.6g} <= Phi' <= {curv.M:.6g} ({curv.slope_method}); "
        f"for U = I: mu = {curv.mu:.6g}, L = {curv.L:.6g}"
    )
    print("f(z) = ||z||^2/2 - sum_i Psi(U_i^T z)  (8);  grad f(z) = z - U Phi(U^T z)  (9)")
    print("steps:")
    for step in energy.steps:
        print(f"  - {step}")
    if args.plot:
        print(f"plot: {record['plot']}")
    return 0
