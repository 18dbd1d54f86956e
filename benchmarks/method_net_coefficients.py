"""The size of a method-net's coefficients against kappa: why tmmnet/itemnet blow up at kappa = 100.

Run from the repository root:

    python benchmarks/method_net_coefficients.py [--layers 9] [--markdown]

For each method and kappa (L = 1, mu = 1/kappa) it builds the rule's layers (Sec. 6;
``optnet_nets.models.method_rule.relaxed_schedule``) for a run of ``--layers`` layers (methodnet20
carries one run of 9 layers) and prints the largest |coefficient| of T's output (a_i), of the
skip connections (b_il), and of the read-out D, and the product over layers of the largest
row sum of |skip| + |a| (a bound on how much the layers can amplify a perturbation of T when T is
not a gradient with L = 1, as in a trained CNN).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from optnet_nets.models.method_rule import relaxed_schedule  # noqa: E402
from optnet_theory.methods import get_method, get_spec  # noqa: E402

METHODS = ("gd", "agd", "ogm", "tmm", "item")
KAPPAS = (4.0, 10.0, 100.0)


def row(name: str, kappa: float, layers: int) -> dict[str, float]:
    spec = get_spec(name)
    mu = 1.0 / kappa if spec.function_class == "smooth-strongly-convex" else 0.0
    method = get_method(name, L=1.0, mu=mu, N=layers if spec.needs_horizon else None)
    out, readout = relaxed_schedule(method, layers)
    gain = 1.0
    for layer in out:
        gain *= max(sum(abs(b) for b in skip) + abs(a)
                    for skip, a in zip(layer.skip, layer.transform, strict=True))
    return {"a": max(abs(a) for layer in out for a in layer.transform),
            "skip": max(abs(b) for layer in out for skip in layer.skip for b in skip),
            "readout": max(abs(d) for d in readout), "gain": gain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=9)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print(f"| method | kappa | max abs a_i (T's output) | max abs b_il (skips) | max abs D "
          f"(read-out) | product of row sums over {args.layers} layers |")
    print("|---|---|---|---|---|---|")
    for name in METHODS:
        for kappa in KAPPAS:
            if get_spec(name).function_class != "smooth-strongly-convex" and kappa != KAPPAS[0]:
                continue
            r = row(name, kappa, args.layers)
            shown = "–" if get_spec(name).function_class != "smooth-strongly-convex" else (
                f"{kappa:g}")
            print(f"| {name} | {shown} | {r['a']:.3g} | {r['skip']:.3g} | {r['readout']:.3g} | "
                  f"{r['gain']:.3g} |")


if __name__ == "__main__":
    main()
