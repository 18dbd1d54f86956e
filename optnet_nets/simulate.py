"""The simulation experiment of Sec. 5.3 (Table 2), trained as one ensemble per depth.

Sec. 5.3: five fully connected structures (7), (11) with beta = 0.3, (14), (12), (13); sigmoid;
per-layer weights trained by model (15); 10,000 pairs (x_0, f) drawn from N(0, I) in dimension
100; depths 10-40; MSE after 1,000 epochs. Any registered method (ogm, ogmg, tmm, item, ...) runs
beside them: its network is generated from its description (:mod:`optnet_nets.unrolled`).
Methods for mu-strongly convex f (tmm, item) need mu; Sec. 5's instances have L = 1, and unless
``mu`` is given it is taken from the curvature bounds of the energy (8) (:func:`curvature_mu`).
The paper does not state the optimizer, batch size, learning rate or initialisation;
:class:`SimulateConfig` holds our choices (documented in ``docs/paper-map.md``) and every one
is a flag of ``optnet simulate``.

For each depth all structures and all seeds train together in one
:class:`~optnet_nets.unrolled.UnrolledEnsemble` (one batched product per structure and
layer). Seed s fixes its own data, its initial weights (shared by the five structures: a paired
comparison) and its batch order, so a seed's result does not depend on which other seeds
trained beside it.

Gradients are computed by the generated adjoint programs of
:mod:`optnet_nets.unrolled_backward` (``engine="autograd"`` for the reference), subnormal floats
are flushed to zero while training (deep GD's vanishing gradients made steps 2x slower, the
weights do not change), and ``workers`` trains several depths at once in separate processes.

Nothing is lost when a run dies: each finished (depth, seed) is written at once to
``partial/depth{D}_seed{S}.json``, a depth in progress is checkpointed every
``checkpoint_seconds``, and a rerun with the same ``--out`` resumes from both.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from optnet_nets.train.checkpoint import load_tensors, save_atomic
from optnet_nets.unrolled import (
    INITS,
    PAPER_LABELS,
    STRUCTURES,
    UnrolledEnsemble,
    init_weight,
    label,
    structure_names,
)
from optnet_nets.unrolled_backward import ExplicitGradient, unsupported_reason
from optnet_theory.errors import OptnetError
from optnet_theory.paper_values import (
    SIMULATION_DIM,
    SIMULATION_EPOCHS,
    SIMULATION_HB_BETA,
    SIMULATION_SAMPLES,
    TABLE2_DEPTHS,
    TABLE2_MSE,
)

__all__ = [
    "ENGINES",
    "OPTIMIZERS",
    "SimulateConfig",
    "SimulationResult",
    "curvature_mu",
    "format_table",
    "load_results",
    "measure_gemm_peak",
    "quick_config",
    "run_simulation",
    "summarize",
]

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
#: how gradients are computed: by the generated adjoint (:mod:`optnet_nets.unrolled_backward`)
#: or by autograd.
ENGINES: tuple[str, ...] = ("explicit", "autograd")
_DATA_SEED, _SHUFFLE_SEED = 10_000, 20_000


@dataclass(frozen=True)
class SimulateConfig:
    """Everything that determines the results (the paper's values where it gives them)."""

    depths: tuple[int, ...] = TABLE2_DEPTHS
    structures: tuple[str, ...] = tuple(STRUCTURES)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = SIMULATION_EPOCHS
    samples: int = SIMULATION_SAMPLES
    dim: int = SIMULATION_DIM
    hb_beta: float = SIMULATION_HB_BETA
    # --- not given by the paper: our choices ---
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    batch_size: int = 100
    init: str = "uniform"
    mu: float | None = None  # for tmm/item; None: curvature_mu(init, dim)

    def validate(self) -> None:
        def positive_int(name: str, v: Any) -> None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise OptnetError(f"{name} must be a positive integer, got {v!r}")

        for name in ("epochs", "samples", "dim", "batch_size"):
            positive_int(name, getattr(self, name))
        if not self.depths or not self.structures or not self.seeds:
            raise OptnetError("depths, structures and seeds must each name at least one value")
        for depth in self.depths:
            positive_int("each depth", depth)
        if len(set(self.depths)) != len(self.depths) or len(set(self.seeds)) != len(self.seeds):
            raise OptnetError("depths and seeds must not repeat")
        known = structure_names()
        bad = [s for s in self.structures if s not in known]
        if bad or len(set(self.structures)) != len(self.structures):
            raise OptnetError(
                f"structures must be distinct names from {', '.join(known)}, got "
                f"{list(self.structures)}"
            )
        if self.mu is not None and not (math.isfinite(self.mu) and 0 <= self.mu < 1):
            raise OptnetError(
                f"mu must be a number in [0, 1) (Sec. 5's instances have L = 1), got {self.mu!r}"
            )
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise OptnetError(f"seeds must be non-negative integers, got {list(self.seeds)}")
        if self.optimizer not in OPTIMIZERS:
            raise OptnetError(f"unknown optimizer {self.optimizer!r}; choose from {OPTIMIZERS}")
        if self.init not in INITS:
            raise OptnetError(f"unknown init {self.init!r}; choose from {', '.join(INITS)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise OptnetError(f"lr must be a positive number, got {self.lr!r}")
        if self.batch_size > self.samples:
            raise OptnetError(f"batch size {self.batch_size} exceeds samples {self.samples}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def curvature_mu(init: str, dim: int) -> float:
    """mu of the energy (8) for seed 0's initial first-layer W (L = 1, sigmoid): our choice of
    mu for tmm and item when none is given.

    A trained W is neither symmetric nor fixed, so "the" mu of a network does not exist. We take
    the PSD matrix with W's singular values, (W W^T)^{1/2} = U U^T, and the sigmoid's slope
    bounds 0 <= Phi' <= M: :func:`optnet_theory.curvature.curvature` gives
    mu = 1 - M sigma_max(W) and L = 1 (footnote 3). Depends on (init, d) only, so a run and its
    resumption agree.
    """
    import numpy as np

    from optnet_theory.curvature import curvature
    from optnet_theory.energy import derive_energy

    W = init_weight(init, (dim, dim), dim, torch.Generator().manual_seed(0), torch.float64)
    V, sv, _ = np.linalg.svd(W.numpy().T)
    c = curvature(derive_energy("sigmoid"), (V * np.sqrt(sv)) @ V.T)
    if not 0 < c.mu < 1:
        raise OptnetError(
            f"the energy of the initial W (init {init}, d={dim}) is not strongly convex "
            f"(mu = {c.mu:.4g}); pass mu in (0, 1)"
        )
    return c.mu


def method_arguments(cfg: SimulateConfig) -> tuple[dict[str, dict[str, Any]], str]:
    """Per-structure method parameters for ``cfg``'s ensemble and where mu came from.

    hb gets ``cfg.hb_beta`` (Sec. 5.3's 0.3); methods for mu-strongly convex f (tmm, item) get
    ``cfg.mu``, else :func:`curvature_mu`; the others need no mu.
    """
    from optnet_theory.methods import get_spec

    methods: dict[str, dict[str, Any]] = {s: {} for s in cfg.structures}
    if "hb" in methods:
        methods["hb"]["beta"] = cfg.hb_beta
    needs_mu = [s for s in cfg.structures if get_spec(s).function_class == "smooth-strongly-convex"]
    if not needs_mu:
        return methods, "not needed"
    if cfg.mu is not None:
        mu, source = cfg.mu, "given"
    else:
        mu = curvature_mu(cfg.init, cfg.dim)
        source = (
            f"curvature of the energy (8) for seed 0's initial W ({cfg.init}, d={cfg.dim}): "
            "1 - max Phi' * sigma_max(W), with L = 1"
        )
    for s in needs_mu:
        methods[s]["mu"] = mu
    return methods, source


def quick_config(**overrides: Any) -> SimulateConfig:
    """A reduced Table 2 (small d, few samples and epochs) that runs in seconds."""
    base = dict(
        depths=(3, 6), seeds=(0, 1), epochs=8, samples=1000, dim=24, batch_size=100, lr=3e-3
    )
    base.update(overrides)
    return SimulateConfig(**base)  # type: ignore[arg-type]


@dataclass
class SimulationResult:
    """Per (depth, seed, structure) results plus the run's speed figures."""

    config: SimulateConfig
    runs: list[dict[str, Any]] = field(default_factory=list)  # one per (depth, seed)
    gemm_peak_flops: float = 0.0
    gemm_peak_threads: int = 0  # threads of that measurement: those of one training process

    def mse(self, structure: str, depth: int) -> list[float]:
        return [r["mse"][structure] for r in self.runs if r["depth"] == depth]

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "runs": self.runs,
            "gemm_peak_flops": self.gemm_peak_flops,
            "gemm_peak_threads": self.gemm_peak_threads,
            "summary": summarize(self),
        }


# --------------------------------------------------------------------------- speed
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


# --------------------------------------------------------------------------- training
def _data(seed: int, samples: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 5.3's training pairs: x_0 and f drawn independently from N(0, I)."""
    gen = torch.Generator().manual_seed(_DATA_SEED + seed)
    x0 = torch.randn(samples, dim, generator=gen)
    f = torch.randn(samples, dim, generator=gen)
    return x0, f


def _make_optimizer(cfg: SimulateConfig, params: Sequence[torch.nn.Parameter]) -> Any:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, fused=True)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, fused=True)


def _paths(out: Path, depth: int, seed: int) -> Path:
    return out / "partial" / f"depth{depth}_seed{seed}.json"


#: what :func:`summarize` and :func:`write_outputs` read from each ``partial/*.json`` record.
_RECORD_KEYS = ("depth", "seed", "mse", "final_epoch_loss", "train_seconds", "achieved_flops",
                "epochs_in_this_process", "ensemble_seeds")


def _read_json(path: Path, recover: str) -> Any:
    """The JSON in ``path``; a damaged file is one OptnetError naming it and how to recover."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise OptnetError(f"{path} is damaged or unreadable ({reason}); {recover}") from None


def _read_record(path: Path) -> dict[str, Any]:
    """One finished (depth, seed) from ``partial/``, checked to hold what the summary reads."""
    recover = "delete it to train that depth and seed again (rerun with the same --out)"
    record = _read_json(path, recover)
    if not isinstance(record, dict):
        raise OptnetError(f"{path} is not a result record (not a JSON object); {recover}")
    missing = [k for k in _RECORD_KEYS if k not in record]
    if missing or not isinstance(record["mse"], dict):
        what = f"missing {', '.join(missing)}" if missing else "mse is not an object"
        raise OptnetError(f"{path} is not a result record ({what}); {recover}")
    return record


def _read_checkpoint(path: Path, device: str) -> dict[str, Any]:
    """A depth-in-progress checkpoint (weights_only load); a damaged one is a one-line error."""
    recover = ("delete it to train that depth from its first epoch (finished depths in "
               "partial/ are kept)")
    try:
        state = load_tensors(path, map_location=device)
    except OptnetError as exc:
        raise OptnetError(f"{exc}; {recover}") from None
    keys = ("seeds", "model", "optimizer", "shufflers", "curve", "epoch", "seconds")
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise OptnetError(f"checkpoint {path} is not a simulate checkpoint; {recover}")
    return state


@dataclass(frozen=True)
class _Options:
    """How (not what) to train: none of these changes the results beyond rounding."""

    out: Path
    device: str
    progress: bool
    checkpoint_seconds: float
    compile_model: bool
    engine: str
    flush_denormal: bool = True  # see run_simulation
    threads: int = 0  # torch threads of a worker process (0: leave as is)
    position: int = 0  # progress bar row


def _train_in_worker(
    cfg: SimulateConfig, depths: list[int], seeds: list[int], opts: _Options
) -> list[dict[str, Any]]:
    """One unit of work in a worker process (``run_simulation(..., workers=N)``)."""
    if opts.threads:
        torch.set_num_threads(opts.threads)
    return _train(cfg, depths, seeds, opts)


def _train(
    cfg: SimulateConfig, depths: list[int], seeds: list[int], opts: _Options
) -> list[dict[str, Any]]:
    """Train structures x ``depths`` x ``seeds`` as one ensemble; one record per (depth, seed)."""
    flushing = opts.flush_denormal and opts.device == "cpu" and torch.set_flush_denormal(True)
    try:
        return _train_ensemble(cfg, depths, seeds, opts, flushing)
    finally:
        if flushing:
            torch.set_flush_denormal(False)


def _train_ensemble(
    cfg: SimulateConfig, depths: list[int], seeds: list[int], opts: _Options, flushing: bool
) -> list[dict[str, Any]]:
    from tqdm import tqdm

    out, device, engine = opts.out, opts.device, opts.engine

    N, d, B = cfg.samples, cfg.dim, cfg.batch_size
    depths = sorted(depths, reverse=True)  # deepest first within each structure
    keys = [(s, k, sd) for s in cfg.structures for k in depths for sd in seeds]
    methods, mu_source = method_arguments(cfg)
    model = UnrolledEnsemble(
        [s for s, _, _ in keys],
        depths[0],
        d,
        seeds=[sd for _, _, sd in keys],
        depths=[k for _, k, _ in keys],
        methods=methods,
        init=cfg.init,
        device=device,
    )
    method_params = {  # as run: L, mu where the method's class has one, its parameters
        s: {"L": m.L, **({"mu": m.mu} if "mu" in methods[s] else {}), **m.params}
        for s, m in model.methods.items()
    }
    opt = _make_optimizer(cfg, list(model.parameters()))
    explicit = (
        ExplicitGradient(model, cfg.batch_size)
        if engine == "explicit" and not opts.compile_model and unsupported_reason(model) is None
        else None
    )
    data = [_data(sd, N, d) for sd in seeds]
    X = torch.stack([x for x, _ in data]).to(device)  # (n_seed, N, d)
    F = torch.stack([f for _, f in data]).to(device)
    shufflers = [torch.Generator().manual_seed(_SHUFFLE_SEED + sd) for sd in seeds]
    member_seed = torch.tensor([seeds.index(sd) for _, _, sd in keys], device=device)
    curve: list[list[float]] = []
    start_epoch, trained_seconds = 0, 0.0

    tag = "-".join(str(k) for k in sorted(depths))
    ckpt = out / f"checkpoint_depth{tag}.pt"
    if ckpt.exists():
        state = _read_checkpoint(ckpt, device)
        if state["seeds"] == seeds:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            for g, st in zip(shufflers, state["shufflers"], strict=True):
                g.set_state(st)
            curve = state["curve"]
            start_epoch, trained_seconds = state["epoch"], state["seconds"]

    def member_losses(xb: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        return (model(xb) - fb).square().mean(dim=(1, 2))  # model (15), per member

    loss_fn = torch.compile(member_losses) if opts.compile_model else member_losses
    steps_per_epoch = N // B  # the last incomplete batch is dropped
    rows = torch.arange(len(seeds), device=device).unsqueeze(1)
    flops_per_step = model.gemm_flops_per_sample() * B
    last_save = time.monotonic()
    bar = tqdm(total=cfg.epochs, initial=start_epoch, desc=f"depth {tag}",
               disable=not opts.progress, unit="epoch", leave=False, position=opts.position)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        perm = torch.stack([torch.randperm(N, generator=g) for g in shufflers]).to(device)
        total = torch.zeros(len(keys), device=device)
        for step in range(steps_per_epoch):
            idx = perm[:, step * B : (step + 1) * B]
            xb = X[rows, idx].index_select(0, member_seed)  # each member sees its seed's batch
            fb = F[rows, idx].index_select(0, member_seed)
            if explicit is not None:  # gradient written into model.weight.grad
                per_member = explicit(xb, fb)
            else:
                opt.zero_grad(set_to_none=True)
                per_member = loss_fn(xb, fb)
                per_member.sum().backward()
            opt.step()
            total += per_member.detach()
        curve.append((total / steps_per_epoch).tolist())
        trained_seconds += time.perf_counter() - t0
        bar.update(1)
        if epoch + 1 < cfg.epochs and time.monotonic() - last_save > opts.checkpoint_seconds:
            save_atomic(  # a kill during the save leaves the previous checkpoint whole
                {
                    "seeds": seeds,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "shufflers": [g.get_state() for g in shufflers],
                    "curve": curve,
                    "epoch": epoch + 1,
                    "seconds": trained_seconds,
                },
                ckpt,
            )
            last_save = time.monotonic()
    bar.close()

    with torch.no_grad():  # model (15)'s objective on the whole training set, after training
        sq = torch.zeros(len(keys), device=device, dtype=torch.float64)
        for lo in range(0, N, 1000):
            xb = X[:, lo : lo + 1000].index_select(0, member_seed)
            fb = F[:, lo : lo + 1000].index_select(0, member_seed)
            sq += (model(xb) - fb).double().square().sum(dim=(1, 2))
        mse = (sq / (N * d)).tolist()

    flops = flops_per_step * steps_per_epoch * cfg.epochs
    index = {key: i for i, key in enumerate(keys)}
    records: list[dict[str, Any]] = []
    for k in sorted(depths):
        for sd in seeds:
            pick = {s: index[(s, k, sd)] for s in cfg.structures}
            records.append(
                {
                    "depth": k,
                    "seed": sd,
                    "mse": {s: mse[i] for s, i in pick.items()},
                    "final_epoch_loss": {s: curve[-1][i] for s, i in pick.items()},
                    "curve": {s: [c[i] for c in curve] for s, i in pick.items()},
                    "ensemble_seeds": seeds,
                    "ensemble_depths": sorted(depths),
                    "train_seconds": trained_seconds,
                    "epochs_in_this_process": cfg.epochs - start_epoch,
                    "ensemble_gemm_flops": flops,
                    "achieved_flops": flops / trained_seconds if trained_seconds > 0 else 0.0,
                    "engine": "explicit" if explicit is not None else "autograd",
                    "methods": method_params,
                    "mu_source": mu_source,
                    "threads": torch.get_num_threads(),
                    "flush_denormal": flushing,
                }
            )
    for rec in records:
        path = _paths(out, rec["depth"], rec["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        tmp.replace(path)
    ckpt.unlink(missing_ok=True)
    return records


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
    :mod:`optnet_nets.unrolled_backward` (equal to autograd's up to rounding); it falls back to
    autograd where those do not apply (``batch_depths``, ``compile_model``).
    ``workers`` > 1 trains that many units (depths) at once in separate processes, each with
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
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise OptnetError(f"workers must be a positive integer, got {workers!r}")
    if device != "cpu" and not (device.startswith("cuda") and torch.cuda.is_available()):
        raise OptnetError(f"device {device!r} is not available; use cpu or an available cuda:N")
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        saved = _read_json(cfg_path, "restore it, or choose another --out")
        mine = json.loads(json.dumps(cfg.to_json()))
        differ = sorted(k for k in mine if k not in ("depths", "seeds") and saved.get(k) != mine[k])
        if differ:
            raise OptnetError(
                f"{out} holds a run with different settings ({', '.join(differ)}); "
                "rerun with the same flags to resume, or choose another --out"
            )
    cfg_path.write_text(json.dumps(cfg.to_json(), indent=2))

    # the peak of one training process: with workers, each has 1/workers of the threads
    threads = max(1, torch.get_num_threads() // workers)
    result = SimulationResult(
        cfg, gemm_peak_flops=measure_gemm_peak(device=device, threads=threads),
        gemm_peak_threads=threads,
    )
    todo = {(k, sd) for k in cfg.depths for sd in cfg.seeds if not _paths(out, k, sd).exists()}
    # units of work: one ensemble per depth, or (batch_depths) all unfinished depths at once
    if batch_depths:
        units = [([k for k in cfg.depths if any((k, sd) in todo for sd in cfg.seeds)],
                  [sd for sd in cfg.seeds if any((k, sd) in todo for k in cfg.depths)])]
    else:
        units = [([k], [sd for sd in cfg.seeds if (k, sd) in todo]) for k in cfg.depths]
    units = [(k, sd) for k, sd in units if k and sd]
    opts = _Options(
        out, device, progress, checkpoint_seconds, compile_model, engine, flush_denormal
    )
    if workers > 1 and len(units) > 1:
        _train_parallel(cfg, units, opts, workers)
    else:
        for depths, seeds in units:
            _train(cfg, depths, seeds, opts)
    for k in cfg.depths:
        for sd in cfg.seeds:
            result.runs.append(_read_record(_paths(out, k, sd)))
    result.gemm_peak_flops = max(
        result.gemm_peak_flops, measure_gemm_peak(device=device, threads=threads)
    )
    result.runs.sort(key=lambda r: (r["depth"], r["seed"]))
    write_outputs(result, out)
    return result


def _train_parallel(
    cfg: SimulateConfig, units: list[tuple[list[int], list[int]]], opts: _Options, workers: int
) -> None:
    """Units in ``workers`` spawned processes, costliest first (cost ~ layers x seeds)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    units = sorted(units, key=lambda u: sum(u[0]) * len(u[1]), reverse=True)
    workers = min(workers, len(units))
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [
            pool.submit(
                _train_in_worker,
                cfg,
                depths,
                seeds,
                dataclasses.replace(opts, threads=threads, position=i % workers),
            )
            for i, (depths, seeds) in enumerate(units)
        ]
        for future in futures:
            future.result()  # re-raises a worker's error; finished units are already saved


# --------------------------------------------------------------------------- reporting
def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _pairwise_agreement(ours: dict[str, float], paper: dict[str, float]) -> tuple[int, int]:
    names = [s for s in ours if s in paper]
    agree = total = 0
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            total += 1
            agree += (ours[a] < ours[b]) == (paper[a] < paper[b])
    return agree, total


def summarize(result: SimulationResult) -> dict[str, Any]:
    """Mean +- std per (structure, depth), rankings beside the paper's, and speed figures."""
    cfg = result.config
    table: dict[str, dict[str, dict[str, float]]] = {}
    rankings: dict[str, Any] = {}
    paper_full = cfg.dim == SIMULATION_DIM and cfg.samples == SIMULATION_SAMPLES
    for depth in cfg.depths:
        row = {}
        for s in cfg.structures:
            vals = result.mse(s, depth)
            if vals:
                m, sd = _mean_std(vals)
                row[s] = {"mean": m, "std": sd, "n": len(vals)}
        table[str(depth)] = row
        if not row:
            continue
        means = {s: v["mean"] for s, v in row.items()}
        entry: dict[str, Any] = {"ours": sorted(means, key=means.__getitem__)}
        printed = [s for s in means if s in PAPER_LABELS]  # Table 2's structures only
        if depth in TABLE2_DEPTHS and printed:
            col = TABLE2_DEPTHS.index(depth)
            paper = {s: TABLE2_MSE[PAPER_LABELS[s]][col] for s in printed}
            entry["paper"] = sorted(paper, key=paper.__getitem__)
            agree, total = _pairwise_agreement(means, paper)
            entry["pairwise_agreement"] = [agree, total]
        if "gd" in row:  # paired by seed (same data, same initial weights): s - GD
            by_seed = {r["seed"]: r["mse"] for r in result.runs if r["depth"] == depth}
            paired = {}
            for s in row:
                if s != "gd":
                    diffs = [m[s] - m["gd"] for m in by_seed.values()]
                    mean, sd = _mean_std(diffs)
                    paired[s] = {"mean": mean, "std": sd, "better_in": sum(d < 0 for d in diffs),
                                 "n": len(diffs)}
            entry["paired_vs_gd"] = paired
        rankings[str(depth)] = entry
    seconds = [r["train_seconds"] for r in result.runs]
    flops = [r["achieved_flops"] for r in result.runs if r["achieved_flops"] > 0]
    described = [r for r in result.runs if "methods" in r]
    return {
        "table": table,
        "rankings": rankings,
        "methods": described[-1]["methods"] if described else None,
        "mu_source": described[-1].get("mu_source") if described else None,
        "paper_setting": paper_full and cfg.epochs == SIMULATION_EPOCHS,
        "train_seconds_by_depth": {  # the ensemble's time when depths trained together
            str(d): max((r["train_seconds"] for r in result.runs if r["depth"] == d), default=None)
            for d in cfg.depths
        },
        "total_train_seconds": sum(
            {  # one entry per ensemble that was trained
                (tuple(r.get("ensemble_depths", [r["depth"]])), tuple(r["ensemble_seeds"])): r[
                    "train_seconds"
                ]
                for r in result.runs
            }.values()
        )
        if seconds
        else 0.0,
        "speed_by_depth": {  # of the ensemble that trained the depth (the last process to)
            str(r["depth"]): {
                "train_seconds": r["train_seconds"],
                "achieved_flops": r["achieved_flops"],
                "gemm_fraction": r["achieved_flops"] / result.gemm_peak_flops
                if result.gemm_peak_flops
                else None,
                "engine": r.get("engine", "autograd"),
                "threads": r.get("threads"),
                "epochs_in_last_process": r["epochs_in_this_process"],
            }
            for r in result.runs
        },
        "achieved_flops_median": sorted(flops)[len(flops) // 2] if flops else None,
        "gemm_peak_flops": result.gemm_peak_flops,
        "gemm_fraction": (sorted(flops)[len(flops) // 2] / result.gemm_peak_flops)
        if flops and result.gemm_peak_flops
        else None,
    }


def format_table(result: SimulationResult) -> str:
    """Our Table 2 (mean +- std over seeds) beside the paper's, with rankings per depth."""
    cfg = result.config
    summ = summarize(result)
    head = ["depth"] + [label(s) for s in cfg.structures]
    lines = [
        f"Table 2 reproduced: MSE after {cfg.epochs} epochs, mean ± std over "
        f"{len(cfg.seeds)} seed(s); d={cfg.dim}, {cfg.samples} samples, {cfg.optimizer} "
        f"lr={cfg.lr}, batch {cfg.batch_size}, init {cfg.init}",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for depth in cfg.depths:
        row = summ["table"][str(depth)]
        cells = [
            f"{row[s]['mean']:.5f} ± {row[s]['std']:.5f}" if s in row else "–"
            for s in cfg.structures
        ]
        lines.append(f"| {depth} (ours) | " + " | ".join(cells) + " |")
        if depth in TABLE2_DEPTHS:
            col = TABLE2_DEPTHS.index(depth)
            printed = [
                f"{TABLE2_MSE[PAPER_LABELS[s]][col]:.5f}" if s in PAPER_LABELS else "–"
                for s in cfg.structures
            ]
            lines.append(f"| {depth} (paper) | " + " | ".join(printed) + " |")
    lines.append("")
    lines.append("Ranking, best (lowest MSE) first:")
    for depth, entry in summ["rankings"].items():
        ours = " < ".join(label(s).split()[0] for s in entry["ours"])
        line = f"- depth {depth}: ours {ours}"
        if "paper" in entry:
            paper = " < ".join(label(s).split()[0] for s in entry["paper"])
            a, t = entry["pairwise_agreement"]
            line += f"; paper {paper}; pairwise orderings agreeing {a}/{t}"
        lines.append(line)
        if entry.get("paired_vs_gd"):
            diffs = [f"{label(s).split()[0]} {v['mean']:+.5f} ± {v['std']:.5f} "
                     f"(lower in {v['better_in']}/{v['n']} seeds)"
                     for s, v in entry["paired_vs_gd"].items()]
            lines.append("  paired MSE − GD (7), same seed: " + "; ".join(diffs))
    if summ["methods"]:
        params = "; ".join(
            f"{s}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in p.items())
            for s, p in summ["methods"].items()
        )
        lines.append(f"Methods: {params} (mu: {summ['mu_source']})")
    if not summ["paper_setting"]:
        lines.append(
            "(reduced setting: not comparable in value with the paper's 1,000-epoch, "
            "d=100, 10,000-sample run)"
        )
    if summ["gemm_fraction"] is not None:
        lines.append(
            f"Speed: median {summ['achieved_flops_median'] / 1e9:.1f} GFLOP/s of W x products "
            f"= {summ['gemm_fraction']:.0%} of this run's measured fp32 GEMM peak "
            f"({summ['gemm_peak_flops'] / 1e9:.1f} GFLOP/s on {result.gemm_peak_threads} "
            f"thread(s), as each training process); training time "
            f"{summ['total_train_seconds']:.0f} s"
        )
    return "\n".join(lines)


def write_outputs(result: SimulationResult, out: Path) -> None:
    """results.json, table2.csv (one row per depth, seed, structure) and table2.png."""
    (out / "results.json").write_text(json.dumps(result.to_json(), indent=1))
    lines = ["depth,seed,structure,equation,mse,final_epoch_loss,paper_mse,train_seconds"]
    for r in result.runs:
        for s in result.config.structures:
            d = r["depth"]
            paper = (
                TABLE2_MSE[PAPER_LABELS[s]][TABLE2_DEPTHS.index(d)]
                if d in TABLE2_DEPTHS and s in PAPER_LABELS
                else ""
            )
            lines.append(
                f"{d},{r['seed']},{s},{STRUCTURES.get(s, '')},{r['mse'][s]!r},"
                f"{r['final_epoch_loss'][s]!r},{paper},{r['train_seconds']:.3f}"
            )
    (out / "table2.csv").write_text("\n".join(lines) + "\n")
    plot_table(result, out / "table2.png")


def plot_table(result: SimulationResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = result.config
    summ = summarize(result)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(cfg.structures):
        color = f"C{i}"
        depths = [d for d in cfg.depths if s in summ["table"][str(d)]]
        means = [summ["table"][str(d)][s]["mean"] for d in depths]
        stds = [summ["table"][str(d)][s]["std"] for d in depths]
        ax.errorbar(
            depths,
            means,
            yerr=stds,
            marker="o",
            color=color,
            capsize=3,
            label=f"{label(s)} ours",
        )
        paper_d = [d for d in cfg.depths if d in TABLE2_DEPTHS]
        if paper_d and summ["paper_setting"] and s in PAPER_LABELS:
            ax.plot(
                paper_d,
                [TABLE2_MSE[PAPER_LABELS[s]][TABLE2_DEPTHS.index(d)] for d in paper_d],
                ls="--",
                marker="x",
                color=color,
                label=f"{label(s)} paper",
            )
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("training MSE after training")
    ax.set_title("Table 2 (Sec. 5.3): MSE by structure and depth")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_results(out: Path) -> SimulationResult | None:
    """What a (possibly unfinished) run left in ``out``: config.json plus partial/*.json."""
    cfg_path = out / "config.json"
    if not cfg_path.exists():
        return None
    raw = _read_json(cfg_path, "restore it, or choose another --out")
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    cfg = SimulateConfig(**fields)
    runs = [_read_record(p) for p in sorted((out / "partial").glob("depth*_seed*.json"))]
    runs = [r for r in runs if r["depth"] in cfg.depths and r["seed"] in cfg.seeds]
    if not runs:
        return None
    saved: dict[str, Any] = {}
    if (out / "results.json").exists():
        saved = _read_json(out / "results.json", "delete it: rerunning 'optnet simulate' "
                           "with the same --out writes it again")
    runs.sort(key=lambda r: (r["depth"], r["seed"]))
    return SimulationResult(
        cfg, runs, saved.get("gemm_peak_flops", 0.0), saved.get("gemm_peak_threads", 0)
    )
