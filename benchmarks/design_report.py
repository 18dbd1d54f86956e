"""The numbers and figures of ``docs/design.md``: designed methods against the known optima.

Run from the repository root:

    python benchmarks/design_report.py --out docs/report/design [--max-n 10] [--starts 3]

For N = 1..max-n, ``optnet design`` for the function gap on smooth convex functions with the
known optimum (OGM) left out of the starts, so the search must find it; the certified worst case
against OGM's L/(2 theta_N^2), the distance of h to OGM's dense form, and the seconds. Also the
gradient norm from a function-gap start against OGM-G (N = 2..5) and the distance on strongly
convex functions (mu/L = 0.1) against ITEM (N = 2..5). Writes ``design.json`` (every number),
``heatmap.png`` (the designed h beside OGM's at the largest N) and ``table2-design.json`` (a
method file designed at the Table-2 setting: N = 10, distance, mu from the energy's curvature).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from optnet_theory.design import design  # noqa: E402
from optnet_theory.methods import get_method  # noqa: E402
from optnet_theory.methods.dense.files import method_file_record  # noqa: E402
from optnet_theory.methods.dense.history import dense_h  # noqa: E402


def _row(d, extra=None) -> dict:
    return {"N": d.steps, "worst_case": d.certificate["worst_case"],
            "lower": d.certificate["lower"], "upper": d.certificate["upper"],
            "reference": d.reference, "optimality": d.optimality, "nearest": d.nearest,
            "seconds": d.seconds, "starts": d.starts, **(extra or {})}


def heatmap(h: list[list[float]], ogm: list[list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    N = len(h)
    grids = []
    for rows in (h, ogm):
        grid = np.full((N, N), np.nan)
        for k, row in enumerate(rows):
            grid[k, : len(row)] = row
        grids.append(grid)
    vmax = float(np.nanmax(np.abs(grids)))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, grid, title in zip(axes, grids, (f"designed, N = {N}", f"OGM, N = {N}"),
                               strict=True):
        im = ax.imshow(grid, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(title)
        ax.set_xlabel("j (gradient g_j)")
        ax.set_ylabel("k (step k -> k + 1)")
    fig.colorbar(im, ax=axes, label="h[k][j] (units of 1/L)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/report/design"))
    parser.add_argument("--max-n", type=int, default=10)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    record: dict = {"function_gap": [], "gradient_norm": [], "strongly_convex": []}
    last = None
    for n in range(1, args.max_n + 1):
        d = design(n, "smooth-convex", "function-gap", starts=args.starts, known_start=False)
        ogm = dense_h(get_method("ogm", N=n), n)
        dist = float(np.linalg.norm(np.array([v for r in d.h for v in r])
                                    - np.array([v for r in ogm for v in r])))
        record["function_gap"].append(_row(d, {"distance_to_ogm": dist}))
        print(f"N={n}: {d.optimality}; distance to OGM's h {dist:.3g}; {d.seconds:.0f} s",
              flush=True)
        last = (d.h, ogm)
    for n in range(2, 6):
        d = design(n, "smooth-convex", "gradient-norm", starts=args.starts)
        record["gradient_norm"].append(_row(d))
        print(f"gradient norm N={n}: {d.optimality}; {d.seconds:.0f} s", flush=True)
        d = design(n, "smooth-strongly-convex", "distance", mu=0.1, starts=args.starts)
        record["strongly_convex"].append(_row(d))
        print(f"strongly convex N={n}: {d.optimality}; {d.seconds:.0f} s", flush=True)
    assert last is not None
    heatmap(last[0], last[1], args.out / "heatmap.png")
    from optnet_nets.simulate import SimulateConfig
    from optnet_nets.simulate.config import curvature_mu

    cfg = SimulateConfig()
    mu = curvature_mu(cfg.init, 32, cfg.activation)  # the reduced Table-2 setting (d = 32)
    t0 = time.perf_counter()
    d = design(10, "smooth-strongly-convex", "distance", mu=mu, starts=args.starts)
    record["table2"] = _row(d, {"mu": mu, "wall_seconds": time.perf_counter() - t0})
    file = method_file_record(name="designed-table2", h=d.h, function_class=d.function_class,
                              metric=d.metric, initial=d.initial, L=1.0, mu=mu,
                              certificate={k: d.certificate[k] for k in
                                           ("worst_case", "lower", "upper", "relative_gap")},
                              seed=0, provenance={"command": "benchmarks/design_report.py",
                                                  "optimality": d.optimality})
    (args.out / "table2-design.json").write_text(json.dumps(file, indent=1) + "\n")
    (args.out / "design.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"Table-2 design (N = 10, mu = {mu:.4g}): {d.optimality}; {d.seconds:.0f} s")


if __name__ == "__main__":
    main()
