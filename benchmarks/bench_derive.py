"""Benchmark: cold ``optnet derive`` on a new formula, and deriving the whole registry.

Targets (issue #2): a cold ``optnet derive`` of a formula nobody listed answers in under 2 s,
and deriving every registry activation takes under 15 s. Both are measured in fresh
subprocesses (no warm caches) and printed as ratios to the target and to the machine's own
floor, a cold ``python -c pass``. Run: ``python benchmarks/bench_derive.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

FORMULAS = (
    "x/(1+abs(x)) + x/4",  # piecewise rational: two branches, logs, continuity constants
    "x*tanh(x) + x/(2+abs(x))",  # needs by-parts, log-expand and the dilogarithm per branch
)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    floor = _cold([py, "-c", "pass"], args.repeat)
    derives = [
        (f, _cold([py, "-m", "optnet_nets.cli", "derive", f, "--json"], args.repeat))
        for f in FORMULAS
    ]
    registry = _cold([py, "-c", REGISTRY_SCRIPT], 1)
    torch_free = (
        subprocess.run(
            [
                py,
                "-c",
                "import sys, optnet_nets.cli as c; c.main(['derive', 'relu', '--json']);"
                "assert 'torch' not in sys.modules",
            ],
            capture_output=True,
        ).returncode
        == 0
    )
    for label, (wall, cpu), target in (
        ("python -c pass (cold floor)", floor, None),
        *((f"optnet derive '{f}' (cold)", d, 2.0) for f, d in derives),
        ("derive whole registry (cold, 1 run)", registry, 15.0),
    ):
        line = f"{label:<52} wall {wall:7.3f} s  cpu {cpu:7.3f} s"
        if target is not None:
            line += (
                f"  | target {target:g} s: wall ratio {wall / target:.2f}, cpu ratio "
                f"{cpu / target:.2f}; vs floor {wall / floor[0]:.1f}x wall"
            )
        print(line)
    print(f"optnet derive imports torch: {not torch_free}")


if __name__ == "__main__":
    main()
