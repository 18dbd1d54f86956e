"""Table 2 training speed: naive vs ensemble vs explicit gradients, as fractions of GEMM peak.

Measured in one run, interleaved (every kind and the GEMM peak in every round), medians quoted:

- naive: each (structure, seed) model of Sec. 5.3 trained alone, one Adam step at batch 100;
- ensemble: the same models as ONE :class:`~optnet_nets.unrolled.UnrolledEnsemble` step (autograd);
- explicit: the ensemble step with the generated adjoint programs of
  :mod:`optnet_nets.unrolled.adjoint` instead of autograd (what ``optnet simulate`` runs);
- compiled explicit (``--compile explicit``): the same programs as one function compiled by
  torch.compile (:mod:`optnet_nets.unrolled.compiled`, what ``optnet simulate --compile`` runs);
- peak: this machine's fp32 GEMM rate now (fastest of a few 1024 x 1024 torch.mm).

Subnormals are flushed, as ``optnet simulate`` trains. The rates are printed in wall time and
in process CPU time: on a shared machine the CPU-time figures are the ones to read.

``--versus-head`` instead times the explicit training step (forward, backward, Adam) of this
checkout against the hand-written code of ``--rev`` (default 9e4a9e7, the last commit with the
five hand-written layer maps and backwards; ``git show REV:...`` loaded as temporary modules),
in one process, interleaved, per structure (``--seeds`` members each) and for the five
together, with the same weights and data; it prints the median ratio of process CPU time (and
of wall time) per step.

``--breakdown`` instead prints where the process CPU time of one explicit step goes: the
products, Phi and Phi', the side paths' linear combinations (forward and backward), Adam, and
the per-call dispatch (the same program at d = 1), beside one product with operands in cache.

``--workers W`` also runs W processes of the explicit step at once (as ``optnet simulate
--workers W``) and compares their summed rate with the W-thread GEMM peak measured in the same run.

FLOPs counted are those of the W x products only (forward 2 d^2, backward 4 d^2 per sample and
product; ADMM has two products per layer), so "fraction of peak" is a lower bound on how busy
the matrix units are. Usage::

    python benchmarks/bench_simulate.py [--depth 10] [--seeds 1] [--rounds 5] [--threads 1]
                                        [--workers 2] [--compile [autograd|explicit]]
    python benchmarks/bench_simulate.py --versus-head [--depth 40] [--rev 9e4a9e7]
    python benchmarks/bench_simulate.py --breakdown [--depth 40] [--seeds 1]
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from optnet_nets.simulate import measure_gemm_peak
from optnet_nets.unrolled import STRUCTURES, UnrolledEnsemble
from optnet_nets.unrolled.adjoint import ExplicitGradient
from optnet_nets.unrolled.compiled import CompiledGradient


def _stepper(model: UnrolledEnsemble, batch: int, mode: str = "autograd") -> tuple[object, int]:
    """One Adam step of ``model`` (mode: autograd, compiled, explicit or compiled explicit)
    and its GEMM FLOPs."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(model.members, batch, model.dim, generator=gen)
    f = torch.randn(model.members, batch, model.dim, generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def losses(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return (model(x) - f).square().mean(dim=(1, 2))

    if mode in ("explicit", "compiled explicit"):
        explicit = (ExplicitGradient(model, batch) if mode == "explicit"
                    else CompiledGradient(model, batch))

        def step() -> None:
            explicit(x, f)
            opt.step()

        return step, model.gemm_flops_per_sample() * batch
    loss_fn = torch.compile(losses) if mode == "compiled" else losses

    def autograd_step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(x, f).sum().backward()
        opt.step()

    return autograd_step, model.gemm_flops_per_sample() * batch


def _time(steps: list[tuple[object, int]], repeats: int, cpu: list[float] | None = None
          ) -> float:
    """FLOP/s of running every step in ``steps`` ``repeats`` times (wall time; the rate in
    process CPU time is appended to ``cpu``: on a shared machine it is the one to read)."""
    flops = sum(f for _, f in steps) * repeats
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        for step, _ in steps:
            step()  # type: ignore[operator]
    if cpu is not None:
        cpu.append(flops / (time.process_time() - c0))
    return flops / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5, help="steps per timing")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--table", action="store_true",
                    help="instead: one seed of the whole table (depths 10-40), one ensemble per "
                         "depth vs all depths in one ensemble (--batch-depths)")
    ap.add_argument("--compile", nargs="?", const="both", choices=("autograd", "explicit", "both"),
                    help="also time the ensemble step under torch.compile: autograd's, the "
                         "explicit engine's (CompiledGradient), or both (compiles first: "
                         "minutes at depth 40)")
    ap.add_argument("--workers", type=int, default=0,
                    help="also time this many processes of the explicit step at once")
    ap.add_argument("--versus-head", action="store_true",
                    help="instead: the explicit step of this checkout vs that of --rev")
    ap.add_argument("--rev", default="9e4a9e7",
                    help="git revision of --versus-head's old code (default: the last commit "
                         "with the hand-written layer maps and backwards)")
    ap.add_argument("--breakdown", action="store_true",
                    help="instead: where one explicit step's CPU time goes (GEMMs, Phi, the "
                         "side paths' combinations, Adam, dispatch)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # a worker process
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.table:
        table(args)
        return
    if args.versus_head:
        versus_head(args)
        return
    if args.breakdown:
        breakdown(args)
        return
    members = [(s, sd) for s in STRUCTURES for sd in range(args.seeds)]
    naive = [_stepper(UnrolledEnsemble([s], args.depth, args.dim, seeds=[sd]), args.batch)
             for s, sd in members]
    def ensemble_model() -> UnrolledEnsemble:
        return UnrolledEnsemble([s for s, _ in members], args.depth, args.dim,
                                seeds=[sd for _, sd in members])

    kinds = {
        "naive": naive,
        "ensemble": [_stepper(ensemble_model(), args.batch)],
        "explicit": [_stepper(ensemble_model(), args.batch, "explicit")],
    }
    if args.compile in ("autograd", "both"):
        kinds["compiled"] = [_stepper(ensemble_model(), args.batch, "compiled")]
    if args.compile in ("explicit", "both"):
        kinds["compiled explicit"] = [_stepper(ensemble_model(), args.batch, "compiled explicit")]
    torch.set_flush_denormal(True)  # as optnet simulate trains (deep GD's vanishing gradients)
    for steps in kinds.values():  # warm-up (and compilation)
        _time(steps, 2)
    rates: dict[str, list[float]] = {k: [] for k in (*kinds, "peak")}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for kind, steps in kinds.items():
            rates[kind].append(_time(steps, args.repeats, cpu[kind]))
        rates["peak"].append(measure_gemm_peak())
        if args.workers:
            rates.setdefault("workers", []).append(workers_rate(args))
            rates.setdefault("peak_all", []).append(_peak_with_threads(args.workers))
    torch.set_flush_denormal(False)
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = [e / n for e, n in zip(rates["ensemble"], rates["naive"], strict=True)]
    print(f"Table 2 step, depth {args.depth}, d={args.dim}, batch {args.batch}, "
          f"{len(members)} models (5 structures x {args.seeds} seeds), "
          f"{torch.get_num_threads()} thread(s), {args.rounds} interleaved rounds (medians), "
          "subnormals flushed")
    print(f"  fp32 GEMM peak (torch.mm)   {med['peak'] / 1e9:8.1f} GFLOP/s")
    print(f"  naive, one model at a time  {med['naive'] / 1e9:8.1f} GFLOP/s = "
          f"{med['naive'] / med['peak']:.0%} of peak")
    print(f"  ensemble, one batched step  {med['ensemble'] / 1e9:8.1f} GFLOP/s = "
          f"{med['ensemble'] / med['peak']:.0%} of peak")
    print(f"  ensemble / naive speed-up   {statistics.median(ratios):8.2f}x "
          f"(per-round: {', '.join(f'{r:.2f}' for r in ratios)})")
    xr = [e / n for e, n in zip(rates["explicit"], rates["naive"], strict=True)]
    print(f"  explicit gradients, ensemble {med['explicit'] / 1e9:7.1f} GFLOP/s = "
          f"{med['explicit'] / med['peak']:.0%} of peak; {statistics.median(xr):.2f}x naive")
    if "workers" in rates:
        print(f"  {args.workers} processes x explicit     "
              f"{med['workers'] / 1e9:7.1f} GFLOP/s in all"
              f" = {med['workers'] / med['peak_all']:.0%} of the {args.workers}-thread GEMM peak "
              f"({med['peak_all'] / 1e9:.1f} GFLOP/s); {med['workers'] / med['explicit']:.2f}x "
              "one process")
    if "compiled" in rates:
        cr = [c / n for c, n in zip(rates["compiled"], rates["naive"], strict=True)]
        print(f"  compiled ensemble           {med['compiled'] / 1e9:8.1f} GFLOP/s = "
              f"{med['compiled'] / med['peak']:.0%} of peak; {statistics.median(cr):.2f}x naive")
    print("  in process CPU time (per-round ratios to explicit):")
    for kind, rate in cpu.items():
        vs = [r / e for r, e in zip(rate, cpu["explicit"], strict=True)]
        print(f"    {kind:18s} {statistics.median(rate) / 1e9:7.1f} GFLOP/s = "
              f"{statistics.median(rate) / med['peak']:.1%} of peak; "
              f"{statistics.median(vs):.3f}x explicit ({', '.join(f'{v:.2f}' for v in vs)})")


def _peak_with_threads(threads: int) -> float:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return measure_gemm_peak()
    finally:
        torch.set_num_threads(before)


def workers_rate(args: argparse.Namespace) -> float:
    """Summed FLOP/s of ``args.workers`` processes each timing explicit steps at the same time."""
    cmd = [sys.executable, __file__, "--child", "--depth", str(args.depth), "--dim",
           str(args.dim), "--batch", str(args.batch), "--seeds", str(args.seeds),
           "--repeats", str(args.repeats)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(args.workers)]
    for p in procs:  # every child has imported torch and warmed up ...
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:  # ... before any starts its clock
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = [json.loads(p.communicate()[0]) for p in procs]
    first = min(r["t0"] for r in reports)
    last = max(r["t1"] for r in reports)
    return sum(r["flops"] for r in reports) / (last - first)


def child(args: argparse.Namespace) -> None:
    """A ``--workers`` process: one thread; warm up, report ready, wait for go, time, report."""
    torch.set_num_threads(1)
    members = [(s, sd) for s in STRUCTURES for sd in range(args.seeds)]
    model = UnrolledEnsemble([s for s, _ in members], args.depth, args.dim,
                             seeds=[sd for _, sd in members])
    step, flops = _stepper(model, args.batch, "explicit")
    _time([(step, flops)], 2)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.time()
    for _ in range(args.repeats):
        step()  # type: ignore[operator]
    print(json.dumps({"flops": flops * args.repeats, "t0": t0, "t1": time.time()}))


def table(args: argparse.Namespace) -> None:
    """One seed of Table 2: per-depth ensembles (5 models each) vs one depth-batched ensemble."""
    depths = [40, 30, 20, 10]
    per_depth = [_stepper(UnrolledEnsemble(list(STRUCTURES), k, args.dim), args.batch)
                 for k in depths]
    structures = [s for s in STRUCTURES for _ in depths]
    batched = [_stepper(UnrolledEnsemble(structures, 40, args.dim, depths=depths * 5),
                        args.batch)]
    for steps in (per_depth, batched):
        _time(steps, 1)
    rates: dict[str, list[float]] = {"per_depth": [], "batched": [], "peak": []}
    for _ in range(args.rounds):
        rates["per_depth"].append(_time(per_depth, args.repeats))
        rates["batched"].append(_time(batched, args.repeats))
        rates["peak"].append(measure_gemm_peak())
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = [b / p for b, p in zip(rates["batched"], rates["per_depth"], strict=True)]
    flops = sum(f for _, f in per_depth) / args.batch * 10_000 * 1_000
    print(f"Table 2, one seed, depths 10-40, d={args.dim}, batch {args.batch}, "
          f"{torch.get_num_threads()} thread(s), {args.rounds} interleaved rounds (medians)")
    print(f"  fp32 GEMM peak (torch.mm)      {med['peak'] / 1e9:8.1f} GFLOP/s")
    print(f"  one ensemble per depth         {med['per_depth'] / 1e9:8.1f} GFLOP/s = "
          f"{med['per_depth'] / med['peak']:.0%} of peak")
    print(f"  all depths in one ensemble     {med['batched'] / 1e9:8.1f} GFLOP/s = "
          f"{med['batched'] / med['peak']:.0%} of peak; {statistics.median(ratios):.2f}x")
    print(f"  full table (1,000 epochs x 10,000 pairs = {flops:.2e} FLOPs) projected at these "
          f"rates: {flops / med['per_depth'] / 3600:.1f} h per depth-ensemble, "
          f"{flops / med['batched'] / 3600:.1f} h batched")


def _kind(call: Callable[[], object]) -> str:
    """What a bound call of :meth:`ExplicitGradient.calls` computes: gemm, phi, or combo."""
    name = getattr(getattr(call, "func", call), "__name__", "")
    if name in ("bmm", "baddbmm", "baddbmm_"):
        return "gemm"
    if name in ("sigmoid_", "tanh_", "<lambda>"):  # Phi, and Phi' (the _PHI_BACKWARD lambdas)
        return "phi"
    return "combo"  # the linear combinations (11)-(14)'s side paths: add, lerp, mul, copy


def _cpu(run: Callable[[], object], repeats: int) -> float:
    """Process CPU seconds per call of ``run`` (one torch thread: not the other processes)."""
    c0 = time.process_time()
    for _ in range(repeats):
        run()
    return (time.process_time() - c0) / repeats


def breakdown(args: argparse.Namespace) -> None:
    """Where the CPU time of one explicit training step goes, by kind of torch call.

    Each kind's bound calls are replayed alone (same tensors, same order), so their costs
    include the cache misses they meet in the step. "dispatch" is the same program at d = 1,
    batch 1 (Python and per-call overhead, no arithmetic); "GEMM, operands in cache" is one
    d x d x d product repeated on the same operands.
    """
    torch.set_num_threads(1)  # as each --workers process of optnet simulate
    torch.set_flush_denormal(True)  # as optnet simulate trains
    structures = [s for s in STRUCTURES for _ in range(args.seeds)]
    gen = torch.Generator().manual_seed(0)

    def build(dim: int, batch: int) -> tuple[ExplicitGradient, torch.optim.Optimizer,
                                             Callable[[], object]]:
        model = UnrolledEnsemble(structures, args.depth, dim, seeds=list(range(len(structures))))
        x = torch.randn(len(structures), batch, dim, generator=gen)
        f = torch.randn(len(structures), batch, dim, generator=gen)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        explicit = ExplicitGradient(model, batch)
        return explicit, opt, lambda: explicit(x, f)

    explicit, opt, grad = build(args.dim, args.batch)
    _, _, tiny = build(1, 1)
    forward, backward = explicit.calls()
    parts: dict[str, list[Callable[[], object]]] = {}
    for where, calls in (("forward", forward), ("backward", backward)):
        for call in calls:
            parts.setdefault(f"{where} {_kind(call)}", []).append(call)
    a = torch.randn(1, args.dim, args.dim, generator=gen)
    out = torch.empty_like(a)

    def step() -> None:
        grad()
        opt.step()

    def replay(calls: list[Callable[[], object]]) -> Callable[[], object]:
        return lambda: [c() for c in calls]

    runs: dict[str, Callable[[], object]] = {
        "step (forward + backward + Adam)": step, "forward + backward": grad, "Adam": opt.step,
        **{k: replay(calls) for k, calls in parts.items()},
        "dispatch (same program, d = 1)": tiny,
        "GEMM, operands in cache": lambda: torch.bmm(a, a, out=out),
    }
    for run in runs.values():
        run()
        run()
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    peaks = []
    for _ in range(args.rounds):
        for k, run in runs.items():
            cpu[k].append(_cpu(run, args.repeats * (50 if k.startswith("GEMM") else 1)))
        peaks.append(measure_gemm_peak())
    med = {k: statistics.median(v) for k, v in cpu.items()}
    peak = statistics.median(peaks)
    flops = explicit.model.gemm_flops_per_sample() * args.batch
    total = med["step (forward + backward + Adam)"]
    gemm = med["forward gemm"] + med["backward gemm"]
    print(f"Explicit Table 2 step, depth {args.depth}, d={args.dim}, batch {args.batch}, "
          f"{len(structures)} members, 1 thread, subnormals flushed; medians of {args.rounds} "
          f"rounds x {args.repeats} of process CPU time")
    print(f"  step: {total * 1e3:.2f} ms = {flops / total / 1e9:.1f} GFLOP/s = "
          f"{flops / total / peak:.1%} of the fp32 GEMM peak ({peak / 1e9:.1f} GFLOP/s)")
    print(f"  {'part':34s} {'ms':>7s} {'of step':>8s} {'calls':>6s} {'us/call':>8s}")
    for k, t in med.items():
        n = len(parts.get(k, [])) or (len(forward) + len(backward) if k.startswith("disp") else 1)
        print(f"  {k:34s} {t * 1e3:7.3f} {t / total:8.1%} {n:6d} {t / n * 1e6:8.2f}")
    hot = 2 * args.dim**3 / med["GEMM, operands in cache"]
    print(f"  GEMMs in the step: {flops / gemm / 1e9:.1f} GFLOP/s = {flops / gemm / peak:.0%} of "
          "peak (the share if everything else were free); one d^3 product with operands in "
          f"cache: {hot / 1e9:.1f} GFLOP/s = {hot / peak:.0%}")


def _old_modules(rev: str) -> tuple[Any, Any]:
    """unrolled.py and unrolled_backward.py of git revision ``rev``, as temporary modules."""
    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="optnet_old_"))
    for name in ("unrolled", "unrolled_backward"):
        text = subprocess.run(["git", "show", f"{rev}:optnet_nets/{name}.py"], cwd=root,
                              check=True, capture_output=True, text=True).stdout
        text = text.replace("from optnet_nets.unrolled import", "from old_unrolled import")
        (tmp / f"old_{name}.py").write_text(text)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("old_unrolled"), importlib.import_module("old_unrolled_backward")


def versus_head(args: argparse.Namespace) -> None:
    """Median time of one explicit training step, this checkout / ``args.rev``, per structure.

    Subnormals are flushed, as ``optnet simulate`` trains (deep GD's vanishing gradients).
    """
    old_unrolled, old_backward = _old_modules(args.rev)
    torch.set_flush_denormal(True)
    gen = torch.Generator().manual_seed(0)
    cases: dict[str, list[str]] = {s: [s] * args.seeds for s in STRUCTURES}
    cases["all five"] = [s for s in STRUCTURES for _ in range(args.seeds)]
    steps: dict[tuple[str, str], Callable[[], None]] = {}
    for case, structures in cases.items():
        x = torch.randn(len(structures), args.batch, args.dim, generator=gen)
        f = torch.randn(len(structures), args.batch, args.dim, generator=gen)
        seeds = list(range(len(structures)))
        kinds: tuple[tuple[str, Any, Any], ...] = (
            ("old", old_unrolled.UnrolledEnsemble, old_backward.ExplicitGradient),
            ("new", UnrolledEnsemble, ExplicitGradient),
        )
        for kind, ens, grad in kinds:
            model = ens(structures, args.depth, args.dim, seeds=seeds)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
            explicit = grad(model, args.batch)

            def step(explicit: Any = explicit, opt: Any = opt, x: torch.Tensor = x,
                     f: torch.Tensor = f) -> None:
                explicit(x, f)
                opt.step()

            steps[(case, kind)] = step
    for warm in steps.values():
        for _ in range(2):
            warm()
    # CPU time of this process (one torch thread) is the measure: on a shared machine the wall
    # time mostly measures the other processes; both are printed
    wall: dict[tuple[str, str], list[float]] = {k: [] for k in steps}
    cpu: dict[tuple[str, str], list[float]] = {k: [] for k in steps}
    for _ in range(args.rounds):
        for case in cases:
            for kind in ("old", "new"):
                run = steps[(case, kind)]
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.repeats):
                    run()
                wall[(case, kind)].append((time.perf_counter() - t0) / args.repeats)
                cpu[(case, kind)].append((time.process_time() - c0) / args.repeats)
    torch.set_flush_denormal(False)
    print(f"Explicit Table 2 training step (forward + backward + Adam), depth {args.depth}, "
          f"d={args.dim}, batch {args.batch}, {args.seeds} seed(s) per structure, "
          f"{torch.get_num_threads()} thread(s), {args.rounds} interleaved rounds x "
          f"{args.repeats} steps; generated (this checkout) vs hand-written ({args.rev}); "
          "medians of per-round ratios")
    print(f"  {'structure':10s} {'old CPU ms':>10s} {'new CPU ms':>10s} {'CPU new/old':>11s} "
          f"{'wall new/old':>12s}  per-round CPU ratios")
    for case in cases:
        old, new = cpu[(case, "old")], cpu[(case, "new")]
        ratios = [n / o for n, o in zip(new, old, strict=True)]
        walls = [n / o for n, o in zip(wall[(case, "new")], wall[(case, "old")], strict=True)]
        print(f"  {case:10s} {statistics.median(old) * 1e3:10.2f} "
              f"{statistics.median(new) * 1e3:10.2f} {statistics.median(ratios):11.3f} "
              f"{statistics.median(walls):12.3f}  {', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
