"""Running Table 2 (Sec. 5.3) into a folder: units of work, worker processes, resumption, and the
machine's GEMM rate that the run's speed is measured against.

A unit is one ensemble per depth over the seeds that depth still lacks (per depth and seed with
several workers; with ``batch_depths``, every unfinished depth at once); a rerun with the same
``--out`` trains only what is missing (:mod:`optnet_nets.simulate.files`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch

from optnet_nets.simulate.config import ENGINES, SimulateConfig
from optnet_nets.simulate.files import (
    check_saved_config,
    in_progress_units,
    read_config,
    read_json,
    read_record,
    record_path,
    write_config,
)
from optnet_nets.simulate.output import write_outputs
from optnet_nets.simulate.summary import SimulationResult
from optnet_nets.simulate.training import TrainOptions, train_unit
from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

__all__ = ["load_results", "measure_gemm_peak", "run_simulation"]

Units = list[tuple[list[int], list[int]]]  # (depths, seeds) of each ensemble to train


def measure_gemm_peak(
    n: int = 1024, repeats: int = 3, device: str = "cpu", threads: int | None = None
) -> float:
    """This machine's fp32 GEMM rate now: FLOP/s of the fastest of ``repeats`` n x n torch.mm
    (on ``threads`` CPU threads, default torch's current number)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        torch.mm(a, b)
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            if device != "cpu":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return 2.0 * n**3 / best


def _units(cfg: SimulateConfig, out: Path, batch_depths: bool, workers: int) -> Units:
    """What is left to train in ``out``: first every unit with a checkpoint (it keeps its
    shape), then one unit per depth, one per (depth, seed) when ``workers`` > 1 (so that the
    deepest depth's seeds run side by side), or (batch_depths) one in all."""
    todo = {(k, sd) for k in cfg.depths for sd in cfg.seeds if not record_path(out, k, sd).exists()}
    units: Units = []
    for depths, seeds in in_progress_units(out):
        pairs = {(k, sd) for k in depths for sd in seeds}
        if pairs <= todo:
            units.append((depths, seeds))
            todo -= pairs
    if batch_depths:
        units.append(([k for k in cfg.depths if any((k, sd) in todo for sd in cfg.seeds)],
                      [sd for sd in cfg.seeds if any((k, sd) in todo for k in cfg.depths)]))
    elif workers > 1:
        units += [([k], [sd]) for k, sd in sorted(todo)]
    else:
        units += [([k], [sd for sd in cfg.seeds if (k, sd) in todo]) for k in cfg.depths]
    return [(k, sd) for k, sd in units if k and sd]


def run_simulation(
    cfg: SimulateConfig,
    out: Path,
    *,
    device: str = "cpu",
    progress: bool = True,
    checkpoint_seconds: float = 120.0,
    compile_model: bool = False,
    batch_depths: bool = False,
    engine: str = "explicit",
    workers: int = 1,
    flush_denormal: bool = True,
) -> SimulationResult:
    """Run (or resume) Table 2 into ``out``; write results.json, table2.csv and table2.png.

    ``batch_depths`` trains all depths in one ensemble (members of one structure share each
    layer's product while they run): same results, fewer and larger products; the unit of
    resumption is then the whole table (still checkpointed every ``checkpoint_seconds``).
    ``engine="explicit"`` computes gradients by the adjoint programs generated in
    :mod:`optnet_nets.unrolled.adjoint` (equal to autograd's up to rounding; ``compile_model``
    compiles them into one function); it falls back to autograd where those do not apply
    (``batch_depths``).
    ``workers`` > 1 trains that many units (depth, seed) at once in separate processes, each with
    ``torch.get_num_threads() // workers`` threads, longest first: at d = 100 the products are
    too small for several threads to share one, so two single-threaded processes keep two cores
    busy where one two-threaded process cannot. Results are the same as with one worker.
    ``flush_denormal`` sets the CPU's flush-to-zero mode while training: deep GD/AGD networks
    have vanishing gradients (below 1e-35 at depth 40 layer 5), whose subnormal arithmetic made
    a depth-40 step 1.8x slower. Adam moves a weight by at most lr * |g| / eps < 1.2e-33 for
    such a g, far below a float32 weight's resolution, so the trained weights do not change.
    """
    cfg.validate()
    if engine not in ENGINES:
        raise OptnetError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    check_int(workers, "workers", 1)
    if device != "cpu" and not (device.startswith("cuda") and torch.cuda.is_available()):
        raise OptnetError(f"device {device!r} is not available; use cpu or an available cuda:N")
    out.mkdir(parents=True, exist_ok=True)
    check_saved_config(out, cfg)
    write_config(out, cfg)

    # the peak of one training process: with workers, each has 1/workers of the threads
    threads = max(1, torch.get_num_threads() // workers)
    peak = measure_gemm_peak(device=device, threads=threads)
    units = _units(cfg, out, batch_depths, workers)
    opts = TrainOptions(
        out, device, progress, checkpoint_seconds, compile_model, engine, flush_denormal
    )
    if workers > 1 and len(units) > 1:
        _train_parallel(cfg, units, opts, workers)
    else:
        for depths, seeds in units:
            train_unit(cfg, depths, seeds, opts)
    runs = [read_record(record_path(out, k, sd)) for k in cfg.depths for sd in cfg.seeds]
    runs.sort(key=lambda r: (r["depth"], r["seed"]))
    peak = max(peak, measure_gemm_peak(device=device, threads=threads))
    result = SimulationResult(cfg, runs, gemm_peak_flops=peak, gemm_peak_threads=threads)
    write_outputs(result, out)
    return result


def _train_in_worker(
    cfg: SimulateConfig, depths: list[int], seeds: list[int], opts: TrainOptions
) -> list[dict[str, Any]]:
    """One unit of work in a worker process (``run_simulation(..., workers=N)``)."""
    if opts.threads:
        torch.set_num_threads(opts.threads)
    return train_unit(cfg, depths, seeds, opts)


def _train_parallel(cfg: SimulateConfig, units: Units, opts: TrainOptions, workers: int) -> None:
    """Units in ``workers`` spawned processes, costliest first (cost ~ layers x seeds)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    units = sorted(units, key=lambda u: sum(u[0]) * len(u[1]), reverse=True)
    workers = min(workers, len(units))
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [
            pool.submit(_train_in_worker, cfg, depths, seeds,
                        dataclasses.replace(opts, threads=threads, position=i % workers))
            for i, (depths, seeds) in enumerate(units)
        ]  # fmt: skip
        for future in futures:
            future.result()  # re-raises a worker's error; finished units are already saved


def load_results(out: Path) -> SimulationResult | None:
    """What a (possibly unfinished) run left in ``out``: config.json plus partial/*.json."""
    cfg = read_config(out)
    if cfg is None:
        return None
    runs = [read_record(p) for p in sorted((out / "partial").glob("depth*_seed*.json"))]
    runs = [r for r in runs if r["depth"] in cfg.depths and r["seed"] in cfg.seeds]
    if not runs:
        return None
    saved: dict[str, Any] = {}
    results = out / "results.json"
    if results.exists():
        recover = "delete it: rerunning 'optnet simulate' with the same --out writes it again"
        saved = read_json(results, recover)
        if not isinstance(saved, dict):
            raise OptnetError(f"{results} is not a simulate result (not a JSON object); {recover}")
    runs.sort(key=lambda r: (r["depth"], r["seed"]))
    return SimulationResult(
        cfg, runs, saved.get("gemm_peak_flops", 0.0), saved.get("gemm_peak_threads", 0)
    )
