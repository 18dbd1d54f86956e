"""Benchmark: one checked certificate against its 10 s budget (2 cores), and against PEPit.

Run from the repository root (needs the test extra for PEPit):

    python benchmarks/bench_certify.py [--repeat 3] [--markdown]
    python benchmarks/bench_certify.py --agreement [--markdown]

For each case (method, N, mu/L) it times, in one process and alternating: ``certify`` (the
assembled SDP, the exact checks of both ends of the interval, retries included) and the same
PEP stated through PEPit and solved by Clarabel through cvxpy (``tests/theory/pepit_reference``,
the formulation optnet used before, which gives one unchecked number). It prints the best wall
time of each, their ratio, the ratio to the 10 s budget, and the interval's relative gap.

``--agreement``: for N = 1..10 and each method with a published bound, the largest
|worst case / published - 1|, the widest relative gap, whether every published value lies
inside its interval, and the slowest certificate.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from optnet_theory.certify import certify  # noqa: E402
from optnet_theory.errors import OptnetError  # noqa: E402
from optnet_theory.methods import get_method  # noqa: E402

BUDGET_S = 10.0
CASES: list[tuple[str, int, float]] = [
    ("gd", 10, 0.0), ("ogm", 10, 0.0), ("item", 10, 0.1), ("tmm", 10, 0.1),
    ("gd", 40, 0.0), ("ogm", 40, 0.0), ("ogmg", 20, 0.0), ("ogmg", 40, 0.0), ("item", 40, 0.1),
    ("item", 40, 0.01), ("tmm", 40, 0.1), ("tmm", 40, 0.01),
]


def _time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


#: (label, method, its keyword arguments) with a published bound, for ``--agreement``.
AGREEMENT: list[tuple[str, str, dict[str, float]]] = [
    ("gd, L = 3", "gd", {"L": 3.0}),
    ("ogm, L = 3", "ogm", {"L": 3.0}),
    ("ogmg, L = 3", "ogmg", {"L": 3.0}),
    ("item, mu/L = 0.01", "item", {"mu": 0.01}),
    ("item, mu/L = 0.1", "item", {"mu": 0.1}),
    ("tmm, mu/L = 0.1", "tmm", {"mu": 0.1}),
]


def agreement(markdown: bool) -> None:
    rows = []
    for label, name, kw in AGREEMENT:
        errs, gaps, inside, slow = [], [], True, 0.0
        for n in range(1, 11):
            cert = certify(get_method(name, **kw), n)
            assert cert.analytic is not None
            errs.append(abs(cert.worst_case / cert.analytic - 1))
            gaps.append(cert.relative_gap)
            inside &= cert.lower <= cert.analytic <= cert.upper
            slow = max(slow, cert.seconds)
        rows.append((label, max(errs), max(gaps), inside, slow))
        print(f"{label}: max rel. error {max(errs):.1e}, max gap {max(gaps):.1e}, "
              f"published inside every interval: {inside}, slowest {slow:.2f} s", flush=True)
    if markdown:
        print("\n| method, class | max \\|worst case / published - 1\\| | widest relative gap | "
              "published inside [lower, upper] | slowest (s) |")
        print("|---|---|---|---|---|")
        for label, err, gap, inside, slow in rows:
            print(f"| {label} | {err:.1e} | {gap:.1e} | {'all' if inside else 'NOT all'} | "
                  f"{slow:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--no-pepit", action="store_true", help="time certify only")
    parser.add_argument("--agreement", action="store_true",
                        help="published bounds against certificates, N = 1..10")
    args = parser.parse_args()
    if args.agreement:
        agreement(args.markdown)
        return
    reference = None
    if not args.no_pepit:
        from tests.theory.pepit_reference import reference_worst_case as reference
    rows = []
    for name, steps, q in CASES:
        method = get_method(name, mu=q)
        metric = method.spec.metric
        initial = "function-gap" if metric == "gradient-norm" else "distance"
        try:
            ours, cert = _time(lambda m=method, n=steps: certify(m, n), args.repeat)
        except OptnetError as exc:  # no checked certificate: timed as a failure, no number
            print(f"{name} N={steps} mu/L={q:g}: not certified ({exc})", flush=True)
            rows.append((name, steps, q, math.nan, math.nan, math.nan))
            continue
        theirs = float("nan")
        if reference is not None:
            theirs, _ = _time(lambda m=method, n=steps, mt=metric, i=initial:
                              reference(m, n, mt, i), args.repeat)
        rows.append((name, steps, q, ours, theirs, cert.relative_gap))
        print(f"{name} N={steps} mu/L={q:g}: certify {ours:.2f} s ({ours / BUDGET_S:.2f} of "
              f"the budget), PEPit {theirs:.2f} s, ratio {ours / theirs:.2f}, relative gap "
              f"{cert.relative_gap:.1e}", flush=True)
    if args.markdown:
        print("\n| method | N | mu/L | certify (s) | of 10 s budget | PEPit + cvxpy (s) | "
              "certify / PEPit | relative gap |")
        print("|---|---|---|---|---|---|---|---|")
        for name, steps, q, ours, theirs, gap in rows:
            if math.isnan(ours):
                print(f"| {name} | {steps} | {q:g} | not certified | – | – | – | – |")
                continue
            print(f"| {name} | {steps} | {q:g} | {ours:.2f} | {ours / BUDGET_S:.2f} | "
                  f"{theirs:.2f} | {ours / theirs:.2f} | {gap:.1e} |")


if __name__ == "__main__":
    main()
