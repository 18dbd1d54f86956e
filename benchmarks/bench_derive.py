"""Benchmark: every cold ``optnet derive SPEC --json`` against the 2 s target (issue 14, item 6).

Each spec runs in a fresh subprocess (all imports, no caches; nothing is cached on disk):
every registry activation, the formulas below (one needing the dilogarithm on two branches,
one with no closed form), and one process deriving the whole registry (target 15 s). Each is
printed as a ratio to its target and to the floor, a cold
``python -c "import sympy, numpy, mpmath"``; a markdown table with ``--markdown``.
Run: ``python benchmarks/bench_derive.py [--repeat N] [--markdown]`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

from optnet_theory import list_activations

TARGET_SECONDS = 2.0
REGISTRY_TARGET_SECONDS = 15.0
FORMULAS = (
    ("x/(1+abs(x)) + x/4", "piecewise rational: two branches, logs, continuity constants"),
    ("x*tanh(x) + x/(2+abs(x))", "by-parts, log-expand and the dilogarithm on each branch"),
    ("x*tanh(log(1+exp(x)))", "Mish as a formula: no closed form, numeric Psi"),
)
FLOOR = "import sympy, numpy, mpmath"
REGISTRY_SCRIPT = (
    "from optnet_theory import derive_energy, list_activations\n"
    "assert all(derive_energy(n).verified for n in list_activations())\n"
)


def _cold(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys) of ``cmd`` in fresh subprocesses."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _derive(spec: str, repeat: int) -> tuple[float, float]:
    return _cold([sys.executable, "-m", "optnet_nets.cli", "derive", spec, "--json"], repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    floor = _cold([sys.executable, "-c", FLOOR], args.repeat)
    rows = [(f"`python -c \"{FLOOR}\"` (floor)", floor, None)]
    rows += [(f"`optnet derive {n}`", _derive(n, args.repeat), TARGET_SECONDS)
             for n in list_activations()]
    rows += [(f"`optnet derive '{f}'` ({what})", _derive(f, args.repeat), TARGET_SECONDS)
             for f, what in FORMULAS]
    rows.append(("derive + verify all registry activations, one cold process",
                 _cold([sys.executable, "-c", REGISTRY_SCRIPT], 1), REGISTRY_TARGET_SECONDS))
    torch_free = subprocess.run(
        [sys.executable, "-c", "import sys, optnet_nets.cli as c; c.main(['derive', 'relu', "
         "'--json']); assert 'torch' not in sys.modules"], capture_output=True,
    ).returncode == 0  # fmt: skip
    if args.markdown:
        print("| what | wall | CPU | wall / target | wall / floor |")
        print("|---|---|---|---|---|")
    for label, (wall, cpu), target in rows:
        ratio = "–" if target is None else f"{wall / target:.2f}"
        if target is not None and wall >= target:
            ratio += " (**missed**)"
        if args.markdown:
            print(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {ratio} | {wall / floor[0]:.1f} |")
        else:
            print(f"{label:<90} wall {wall:6.2f} s  cpu {cpu:6.2f} s  target ratio {ratio:>16}"
                  f"  floor ratio {wall / floor[0]:5.1f}")
    worst = max(wall for _, (wall, _), target in rows if target == TARGET_SECONDS)
    print(f"\nslowest cold derive: {worst:.2f} s = {worst / TARGET_SECONDS:.2f} of the "
          f"{TARGET_SECONDS:g} s target; optnet derive imports torch: {not torch_free}")


if __name__ == "__main__":
    main()
