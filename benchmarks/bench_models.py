"""Training-step cost of HB-Net and AGD-Net against their baselines (Sec. 6.1, 6.2; Tables 4-5).

One training step = forward, cross-entropy, backward, SGD update (Nesterov momentum 0.9,
weight decay 1e-4, as in Sec. 7.1), on random CIFAR-shaped data (batch 64, 3x32x32, 10 classes).
Each pair is timed interleaved, A B, B A, A B ..., after one warm-up step each; the reported
time ratio is the median of the per-round wall-clock ratios t_A / t_B, so slow drifts of a
shared machine hit both sides alike (the target is judged on it). The median ratio of process
CPU times is shown beside it: on a machine shared with other jobs it is the steadier figure.
Also reported: memory saved for backward (distinct storages seen by
``torch.autograd.graph.saved_tensors_hooks``, parameters included) and its ratio.

Pairs and the issue's targets:
  hbnet56 / resnet56                 time ratio <= 1.05
  agdnet40 / densenet40              time ratio <= 1.15
  hbnet56 reversible / hbnet56       time and saved-memory ratio (no target; measured)

Run:  python benchmarks/bench_models.py            (full: batch 64, 5 rounds, 2 threads)
      python benchmarks/bench_models.py --json     (JSON on stdout)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from optnet_nets import create_model
from optnet_nets.memory import SavedTensorBytes


@dataclass(frozen=True)
class Variant:
    """A registered model and the options it is built with."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.name}({extra})" if extra else self.name


@dataclass(frozen=True)
class Pair:
    ours: Variant
    baseline: Variant
    target: float | None  # the bound on the time ratio, or None where none is set


PAIRS: dict[str, Pair] = {
    "hb": Pair(Variant("hbnet56"), Variant("resnet56"), 1.05),
    "agd": Pair(Variant("agdnet40"), Variant("densenet40"), 1.15),
    "reversible": Pair(Variant("hbnet56", {"reversible": True}), Variant("hbnet56"), None),
}


@dataclass
class Row:
    pair: str
    ours: str
    baseline: str
    ours_s: float
    baseline_s: float
    time_ratio: float
    ratios: list[float]
    cpu_ratio: float
    target: float | None
    meets_target: bool | None
    ours_saved_mib: float
    baseline_saved_mib: float
    saved_ratio: float


class _Step:
    """One SGD training step of one model on fixed random data."""

    def __init__(self, variant: Variant, batch: int, size: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.model = create_model(variant.name, num_classes=10, in_channels=3, **variant.options)
        self.model.train()
        self.opt = torch.optim.SGD(
            self.model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4
        )
        gen = torch.Generator().manual_seed(seed + 1)
        self.x = torch.randn(batch, 3, size, size, generator=gen)
        self.y = torch.randint(0, 10, (batch,), generator=gen)
        self.loss_fn = nn.CrossEntropyLoss()

    def __call__(self) -> tuple[float, float]:
        """(wall seconds, process CPU seconds) of one step."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.opt.zero_grad(set_to_none=True)
        self.loss_fn(self.model(self.x), self.y).backward()
        self.opt.step()
        return time.perf_counter() - wall, time.process_time() - cpu

    def saved_bytes(self) -> int:
        with SavedTensorBytes() as counter:
            loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.zero_grad(set_to_none=True)
        return counter.nbytes


def measure(pair_name: str, pair: Pair, batch: int, size: int, rounds: int) -> Row:
    ours = _Step(pair.ours, batch, size, seed=0)
    base = _Step(pair.baseline, batch, size, seed=0)
    ours(), base()  # warm-up
    t_ours: list[tuple[float, float]] = []
    t_base: list[tuple[float, float]] = []
    for r in range(rounds):  # A B, then B A: a load trend within a round cancels in pairs
        if r % 2:
            t_base.append(base())
            t_ours.append(ours())
        else:
            t_ours.append(ours())
            t_base.append(base())
    ratios = [a[0] / b[0] for a, b in zip(t_ours, t_base, strict=True)]
    cpu_ratios = [a[1] / b[1] for a, b in zip(t_ours, t_base, strict=True)]
    ratio = statistics.median(ratios)
    mem_ours, mem_base = ours.saved_bytes(), base.saved_bytes()
    return Row(
        pair=pair_name,
        ours=pair.ours.label,
        baseline=pair.baseline.label,
        ours_s=statistics.median(t[0] for t in t_ours),
        baseline_s=statistics.median(t[0] for t in t_base),
        time_ratio=ratio,
        ratios=ratios,
        cpu_ratio=statistics.median(cpu_ratios),
        target=pair.target,
        meets_target=None if pair.target is None else ratio <= pair.target,
        ours_saved_mib=mem_ours / 2**20,
        baseline_saved_mib=mem_base / 2**20,
        saved_ratio=mem_ours / mem_base,
    )


def _table(rows: list[Row], command: str, threads: int) -> str:
    head = (
        f"{'ours':<26} {'baseline':<12} {'ours s':>7} {'base s':>7} {'time ratio':>10} "
        f"{'target':>7}{'':<5} {'cpu ratio':>9} {'saved MiB':>15} {'saved ratio':>11}"
    )
    lines = [f"command: {command}", f"torch {torch.__version__}, {threads} threads", head]
    for r in rows:
        target = "-" if r.target is None else f"<={r.target:.2f}"
        verdict = "" if r.meets_target is None else (" ok" if r.meets_target else " MISS")
        mem = f"{r.ours_saved_mib:.1f}/{r.baseline_saved_mib:.1f}"
        lines.append(
            f"{r.ours:<26} {r.baseline:<12} {r.ours_s:7.3f} {r.baseline_s:7.3f} "
            f"{r.time_ratio:10.3f} {target:>7}{verdict:<5} {r.cpu_ratio:9.3f} {mem:>15} "
            f"{r.saved_ratio:11.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved A B rounds")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=list(PAIRS))
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/bench_models.py", *given])
    rows = [measure(p, PAIRS[p], args.batch, args.size, args.rounds) for p in args.pairs]
    if args.json:
        payload = {"command": command, "threads": args.threads, "rows": [asdict(r) for r in rows]}
        print(json.dumps(payload, indent=2))
    else:
        print(_table(rows, command, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
