"""Benchmark: ``optnet verify all`` with defaults against its 30 s budget (2 cores), and the
float64 coefficients h of (5) at K = 10^4 against a 1 s budget.

Run from the repository root:

    python benchmarks/bench_verify.py [--repeat 3]

Prints the best wall time and CPU time (user + sys; the fairer figure on a shared, loaded
machine) of the full command (a fresh ``optnet`` process each time, so imports
and the energy derivation are included), its ratio to the 30 s target, the same for
``--precision 50``, and the time to build ``nesterov_h(10_000)`` and read its last row.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

TARGET_S = 30.0
H_TARGET_S = 1.0


def _optnet() -> list[str]:
    exe = shutil.which("optnet", path=os.path.dirname(sys.executable)) or shutil.which("optnet")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from optnet_nets.cli import main; sys.exit(main())"]


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_command(extra: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user + sys) of ``optnet verify all EXTRA``."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        c0, t0 = _child_cpu(), time.perf_counter()
        done = subprocess.run([*_optnet(), "verify", "all", *extra], capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, _child_cpu() - c0
        if done.returncode != 0:
            cmd = " ".join(extra)
            raise SystemExit(f"optnet verify all {cmd} failed:\n{done.stdout}{done.stderr}")
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def time_h(repeat: int) -> float:
    from optnet_theory.coefficients import nesterov_h

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        h = nesterov_h(10_000)
        _ = h[10_000][0] + h[5_000][4_999]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"cpu cores visible: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for label, extra in [("defaults (float64)", []), ("--precision 50", ["--precision", "50"])]:
        wall, cpu = time_command(extra, args.repeat)
        print(f"optnet verify all {label:<20} wall {wall:6.2f} s (ratio {wall / TARGET_S:.3f} "
              f"of {TARGET_S:.0f} s), cpu {cpu:6.2f} s (ratio {cpu / TARGET_S:.3f})")
    th = time_h(args.repeat)
    print(f"nesterov_h(10_000) + two rows      best {th * 1e3:6.1f} ms  "
          f"ratio to {H_TARGET_S:.0f} s target: {th / H_TARGET_S:.4f}")


if __name__ == "__main__":
    main()
