"""Training one unit of Table 2 (Sec. 5.3): every structure x some depths x some seeds as one
:class:`~optnet_nets.unrolled.UnrolledEnsemble`, in five steps: :func:`build`, :func:`resume`,
:func:`train_epochs`, :func:`evaluate`, :func:`make_records`.

Seed s fixes its own data, its initial weights (shared by the structures: a paired comparison)
and its batch order, so a seed's result does not depend on which other seeds trained beside it.
Each member minimises model (15), the mean squared distance of its output to f, on its seed's
batches; gradients come from the adjoint programs of :mod:`optnet_nets.unrolled.adjoint`
(``engine="explicit"``; with ``compile_model`` the same programs compiled into one function,
:mod:`optnet_nets.unrolled.compiled`) or from autograd (compiled with ``compile_model``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from optnet_nets.simulate.config import SimulateConfig, method_arguments
from optnet_nets.simulate.files import (
    checkpoint_path,
    depth_tag,
    read_checkpoint,
    write_checkpoint,
    write_record,
)
from optnet_nets.unrolled import UnrolledEnsemble
from optnet_nets.unrolled.adjoint import ExplicitGradient, unsupported_reason
from optnet_nets.unrolled.compiled import CompiledGradient

__all__ = [
    "Progress",
    "TrainOptions",
    "Unit",
    "build",
    "evaluate",
    "make_records",
    "resume",
    "train_epochs",
    "train_unit",
]

_DATA_SEED, _SHUFFLE_SEED = 10_000, 20_000
_EVAL_ROWS = 1000  # samples per product when the final MSE is evaluated


@dataclass(frozen=True)
class TrainOptions:
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


@dataclass
class Unit:
    """One ensemble being trained, with the data and random streams of its seeds."""

    depths: list[int]  # deepest first
    seeds: list[int]
    keys: list[tuple[str, int, int]]  # member -> (structure, depth, seed)
    model: UnrolledEnsemble
    optimizer: torch.optim.Optimizer
    explicit: ExplicitGradient | CompiledGradient | None  # None: autograd
    losses: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # per member, for autograd
    X: torch.Tensor  # (seeds, samples, d): x_0 of each seed
    F: torch.Tensor  # (seeds, samples, d): f of each seed
    shufflers: list[torch.Generator]  # batch order, one per seed
    member_seed: torch.Tensor  # member -> index of its seed in ``seeds``
    method_params: dict[str, dict[str, Any]]  # as run: L, mu where needed, the parameters
    mu_source: str
    checkpoint: Path


@dataclass
class Progress:
    """How far a unit has trained: epochs done, seconds spent, mean loss per epoch and member."""

    epoch: int = 0
    seconds: float = 0.0
    curve: list[list[float]] = field(default_factory=list)
    resumed_at: int = 0  # epochs done before this process


def _data(seed: int, samples: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 5.3's training pairs: x_0 and f drawn independently from N(0, I)."""
    gen = torch.Generator().manual_seed(_DATA_SEED + seed)
    x0 = torch.randn(samples, dim, generator=gen)
    f = torch.randn(samples, dim, generator=gen)
    return x0, f


def _optimizer(cfg: SimulateConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, fused=True)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, fused=True)


def _explicit(
    model: UnrolledEnsemble, batch: int, compile_model: bool
) -> ExplicitGradient | CompiledGradient:
    """The generated adjoint; compiled into one function with ``--compile`` (1.06-1.20x the
    step at depth 40, after about two minutes of compiling: ``benchmarks/RESULTS.md``)."""
    return CompiledGradient(model, batch) if compile_model else ExplicitGradient(model, batch)


def build(cfg: SimulateConfig, depths: list[int], seeds: list[int], opts: TrainOptions) -> Unit:
    """The ensemble of ``cfg.structures`` x ``depths`` x ``seeds``, untrained, with its data."""
    depths = sorted(depths, reverse=True)  # deepest first within each structure
    keys = [(s, k, sd) for s in cfg.structures for k in depths for sd in seeds]
    methods, mu_source = method_arguments(cfg)
    model = UnrolledEnsemble(
        [s for s, _, _ in keys], depths[0], cfg.dim, seeds=[sd for _, _, sd in keys],
        depths=[k for _, k, _ in keys], methods=methods, init=cfg.init, device=opts.device,
        activation=cfg.activation,
    )  # fmt: skip
    use_explicit = opts.engine == "explicit" and unsupported_reason(model) is None

    def member_losses(xb: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        return (model(xb) - fb).square().mean(dim=(1, 2))  # model (15), per member

    data = [_data(sd, cfg.samples, cfg.dim) for sd in seeds]
    return Unit(
        depths=depths,
        seeds=seeds,
        keys=keys,
        model=model,
        optimizer=_optimizer(cfg, list(model.parameters())),
        explicit=_explicit(model, cfg.batch_size, opts.compile_model) if use_explicit else None,
        losses=torch.compile(member_losses) if opts.compile_model else member_losses,
        X=torch.stack([x for x, _ in data]).to(opts.device),
        F=torch.stack([f for _, f in data]).to(opts.device),
        shufflers=[torch.Generator().manual_seed(_SHUFFLE_SEED + sd) for sd in seeds],
        member_seed=torch.tensor([seeds.index(sd) for _, _, sd in keys], device=opts.device),
        method_params={
            s: {"L": m.L, **({"mu": m.mu} if "mu" in methods[s] else {}), **m.params}
            for s, m in model.methods.items()
        },
        mu_source=mu_source,
        checkpoint=checkpoint_path(opts.out, depths, seeds),
    )


def resume(unit: Unit, device: str) -> Progress:
    """Load the unit's checkpoint into it when one exists for the same seeds."""
    if not unit.checkpoint.exists():
        return Progress()
    state = read_checkpoint(unit.checkpoint, device)
    if state["seeds"] != unit.seeds:
        return Progress()
    unit.model.load_state_dict(state["model"])
    unit.optimizer.load_state_dict(state["optimizer"])
    for g, st in zip(unit.shufflers, state["shufflers"], strict=True):
        g.set_state(st)
    return Progress(state["epoch"], state["seconds"], state["curve"], resumed_at=state["epoch"])


def _save(unit: Unit, progress: Progress) -> None:
    write_checkpoint(
        {
            "seeds": unit.seeds,
            "model": unit.model.state_dict(),
            "optimizer": unit.optimizer.state_dict(),
            "shufflers": [g.get_state() for g in unit.shufflers],
            "curve": progress.curve,
            "epoch": progress.epoch,
            "seconds": progress.seconds,
        },
        unit.checkpoint,
    )


def _epoch(cfg: SimulateConfig, unit: Unit) -> list[float]:
    """One pass over each seed's data in its own order; the mean loss per member."""
    B, device = cfg.batch_size, unit.X.device
    steps = cfg.samples // B  # the last incomplete batch is dropped
    perm = torch.stack([torch.randperm(cfg.samples, generator=g) for g in unit.shufflers])
    perm = perm.to(device)
    rows = torch.arange(len(unit.seeds), device=device).unsqueeze(1)
    total = torch.zeros(len(unit.keys), device=device)
    for step in range(steps):
        idx = perm[:, step * B : (step + 1) * B]
        xb = unit.X[rows, idx].index_select(0, unit.member_seed)  # each member: its seed's batch
        fb = unit.F[rows, idx].index_select(0, unit.member_seed)
        if unit.explicit is not None:  # gradient written into model.weight.grad
            per_member = unit.explicit(xb, fb)
        else:
            unit.optimizer.zero_grad(set_to_none=True)
            per_member = unit.losses(xb, fb)
            per_member.sum().backward()
        unit.optimizer.step()
        total += per_member.detach()
    return (total / steps).tolist()


def train_epochs(cfg: SimulateConfig, unit: Unit, progress: Progress, opts: TrainOptions) -> None:
    """Train from ``progress.epoch`` to ``cfg.epochs``, checkpointing every
    ``opts.checkpoint_seconds`` (not after the last epoch: the records follow at once)."""
    from tqdm import tqdm

    last_save = time.monotonic()
    bar = tqdm(total=cfg.epochs, initial=progress.epoch, desc=f"depth {depth_tag(unit.depths)}",
               disable=not opts.progress, unit="epoch", leave=False, position=opts.position)
    while progress.epoch < cfg.epochs:
        t0 = time.perf_counter()
        progress.curve.append(_epoch(cfg, unit))
        progress.seconds += time.perf_counter() - t0
        progress.epoch += 1
        bar.update(1)
        if progress.epoch < cfg.epochs and time.monotonic() - last_save > opts.checkpoint_seconds:
            _save(unit, progress)
            last_save = time.monotonic()
    bar.close()


def evaluate(cfg: SimulateConfig, unit: Unit) -> list[float]:
    """Model (15)'s objective per member on its seed's whole training set, in float64 sums."""
    N = cfg.samples
    with torch.no_grad():
        sq = torch.zeros(len(unit.keys), device=unit.X.device, dtype=torch.float64)
        for lo in range(0, N, _EVAL_ROWS):
            xb = unit.X[:, lo : lo + _EVAL_ROWS].index_select(0, unit.member_seed)
            fb = unit.F[:, lo : lo + _EVAL_ROWS].index_select(0, unit.member_seed)
            sq += (unit.model(xb) - fb).double().square().sum(dim=(1, 2))
    return (sq / (N * cfg.dim)).tolist()


def make_records(
    cfg: SimulateConfig, unit: Unit, progress: Progress, mse: list[float], flushing: bool
) -> list[dict[str, Any]]:
    """One record per (depth, seed) of the unit: what ``partial/*.json`` holds."""
    steps = cfg.samples // cfg.batch_size
    flops = unit.model.gemm_flops_per_sample() * cfg.batch_size * steps * cfg.epochs
    seconds = progress.seconds
    index = {key: i for i, key in enumerate(unit.keys)}
    records: list[dict[str, Any]] = []
    for k in sorted(unit.depths):
        for sd in unit.seeds:
            pick = {s: index[(s, k, sd)] for s in cfg.structures}
            records.append(
                {
                    "depth": k,
                    "seed": sd,
                    "mse": {s: mse[i] for s, i in pick.items()},
                    "final_epoch_loss": {s: progress.curve[-1][i] for s, i in pick.items()},
                    "curve": {s: [c[i] for c in progress.curve] for s, i in pick.items()},
                    "ensemble_seeds": unit.seeds,
                    "ensemble_depths": sorted(unit.depths),
                    "train_seconds": seconds,
                    "epochs_in_this_process": cfg.epochs - progress.resumed_at,
                    "ensemble_gemm_flops": flops,
                    "achieved_flops": flops / seconds if seconds > 0 else 0.0,
                    "engine": "explicit" if unit.explicit is not None else "autograd",
                    "methods": unit.method_params,
                    "mu_source": unit.mu_source,
                    "threads": torch.get_num_threads(),
                    "flush_denormal": flushing,
                }
            )
    return records


def train_unit(
    cfg: SimulateConfig, depths: list[int], seeds: list[int], opts: TrainOptions
) -> list[dict[str, Any]]:
    """Train (or finish) one unit and write its records; its checkpoint is then removed."""
    flushing = opts.flush_denormal and opts.device == "cpu" and torch.set_flush_denormal(True)
    try:
        unit = build(cfg, depths, seeds, opts)
        progress = resume(unit, opts.device)
        train_epochs(cfg, unit, progress, opts)
        records = make_records(cfg, unit, progress, evaluate(cfg, unit), flushing)
    finally:
        if flushing:
            torch.set_flush_denormal(False)
    for record in records:
        write_record(opts.out, record)
    unit.checkpoint.unlink(missing_ok=True)
    return records
