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

``--versus-rev REV`` times the same models in today's code and in the code of commit REV, side
by side (issue 23: a rework must not slow a model down). The packages of REV are unpacked with
``git archive`` into a temporary folder; two worker processes, one importing each tree, build
the model at the same seed and then take training steps on command, one worker at a time,
alternating old new, new old, ... (``--rounds``, ``--steps`` steps per turn). ``--runs R``
repeats this with R fresh pairs of workers: a process's allocator and memory layout shift all
of its rounds alike (same-day medians of single runs of densenet40 ranged from 0.81 to 1.06), so
a run, not a round, is one sample. Reported per model: the median over runs of each run's median
ratio new / old (wall and process CPU time) against the bound 1.03, whether both trees
reached the same loss bits after all their steps, and whether one step of each ran the same
ATen operators the same number of times (``torch.profiler``): the tensor work is then the same,
and any difference left is Python overhead.

      python benchmarks/bench_models.py --versus-rev 5ac295c --runs 5 --rounds 5 --steps 2
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
#: the models of issue 23's step-time check and its bound on the median ratio new / old.
VERSUS_MODELS = ("hbnet56", "resnet56", "agdnet40", "densenet40", "admmnet56")
VERSUS_BOUND = 1.03


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
        from optnet_nets import create_model  # in a worker: the tree first on sys.path

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
        self.loss = float("nan")

    def __call__(self) -> tuple[float, float]:
        """(wall seconds, process CPU seconds) of one step."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        out = time.perf_counter() - wall, time.process_time() - cpu
        self.loss = loss.item()
        return out

    def saved_bytes(self) -> int:
        from optnet_nets.train.memory import SavedTensorBytes

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


def _op_counts(step: _Step) -> dict[str, int]:
    """How often each ATen operator runs in one training step (forward, backward, update)."""
    from torch.profiler import ProfilerActivity, profile

    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:  # the profiler's own start/stop lines
        os.dup2(devnull.fileno(), 2)
        try:
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                step()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return {e.key: e.count for e in prof.key_averages() if e.key.startswith("aten::")}


def _worker(tree: str, threads: int) -> int:
    """Serve ``build NAME BATCH SIZE``, ``steps N`` and ``ops`` on stdin with ``optnet_nets``
    from ``tree``: one JSON line per command (the steps' wall and CPU seconds and the loss bits,
    or the operator counts of one step)."""
    sys.path[:0] = [tree]
    import optnet_nets

    assert optnet_nets.__file__ is not None and optnet_nets.__file__.startswith(tree)
    torch.set_num_threads(threads)
    step: _Step | None = None
    for line in sys.stdin:
        command, *args = line.split()
        if command == "build":
            step = _Step(Variant(args[0]), int(args[1]), int(args[2]), 0)
            step()  # warm-up
            reply: dict[str, Any] = {"built": args[0]}
        elif command == "ops":
            assert step is not None
            reply = {"ops": _op_counts(step)}
        else:
            assert step is not None
            times = [step() for _ in range(int(args[0]))]
            reply = {"wall": sum(t[0] for t in times), "cpu": sum(t[1] for t in times),
                     "loss": step.loss.hex()}
        print(json.dumps(reply), flush=True)
    return 0


class _Worker:
    """A worker process importing one tree (:func:`_worker`)."""

    def __init__(self, tree: Path, threads: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tree), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree,
        )

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"worker for {command!r} died (exit {self.proc.wait()})")
        return dict(json.loads(answer))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _unpack(rev: str, into: Path) -> Path:
    """The packages of commit ``rev`` (``git archive``) under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "optnet_nets", "optnet_theory"],
        capture_output=True, check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _alternate(old: _Worker, new: _Worker, rounds: int, steps: int
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each worker's replies to ``rounds`` turns of ``steps`` steps: old new, then new old, ..."""
    t_old: list[dict[str, Any]] = []
    t_new: list[dict[str, Any]] = []
    for r in range(rounds):  # a trend cancels in pairs
        first, second = (old, new) if r % 2 == 0 else (new, old)
        a, b = first.ask(f"steps {steps}"), second.ask(f"steps {steps}")
        t_old.append(a if first is old else b)
        t_new.append(b if first is old else a)
    return t_old, t_new


def versus(rev: str, models: list[str], batch: int, size: int, rounds: int, steps: int,
           threads: int, runs: int = 1) -> list[dict[str, Any]]:
    """Each model's training step in today's code against commit ``rev`` (module docstring):
    ``runs`` fresh pairs of worker processes, each timed over ``rounds`` alternating rounds.
    The judged ratio is the median over runs of each run's median ratio (a process's own
    allocator and memory layout shift all its rounds alike, so one run is one sample)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = _unpack(rev, Path(tmp))
        for name in models:
            per_run, cpu_per_run, t_old, t_new = [], [], [], []
            same_ops = False
            for _ in range(runs):
                old, new = _Worker(old_tree, threads), _Worker(ROOT, threads)
                try:
                    for w in (old, new):
                        w.ask(f"build {name} {batch} {size}")
                    same_ops = old.ask("ops")["ops"] == new.ask("ops")["ops"]
                    o_run, n_run = _alternate(old, new, rounds, steps)
                finally:
                    old.close()
                    new.close()
                pairs = list(zip(n_run, o_run, strict=True))
                per_run.append(statistics.median(n["wall"] / o["wall"] for n, o in pairs))
                cpu_per_run.append(statistics.median(n["cpu"] / o["cpu"] for n, o in pairs))
                t_old += o_run
                t_new += n_run
            ratio = statistics.median(per_run)
            rows.append({
                "model": name,
                "old_s": statistics.median(o["wall"] for o in t_old) / steps,
                "new_s": statistics.median(n["wall"] for n in t_new) / steps,
                "ratio": ratio, "ratios": per_run, "cpu_ratio": statistics.median(cpu_per_run),
                "meets_bound": ratio <= VERSUS_BOUND,
                "same_loss_bits": t_old[-1]["loss"] == t_new[-1]["loss"],
                "same_aten_ops": same_ops,
            })
    return rows


def _versus_table(rows: list[dict[str, Any]], command: str, threads: int) -> str:
    lines = [f"command: {command}", f"torch {torch.__version__}, {threads} threads",
             f"{'model':<11} {'old s':>7} {'new s':>7} {'ratio':>7} {'bound':>6}{'':<5} "
             f"{'cpu ratio':>9}  same loss bits  same ops  median ratio of each run"]
    for r in rows:
        verdict = " ok" if r["meets_bound"] else " MISS"
        each = " ".join(f"{v:.3f}" for v in r["ratios"])
        lines.append(f"{r['model']:<11} {r['old_s']:7.3f} {r['new_s']:7.3f} {r['ratio']:7.3f} "
                     f"{VERSUS_BOUND:6.2f}{verdict:<5} {r['cpu_ratio']:9.3f}  "
                     f"{r['same_loss_bits']!s:<14}  {r['same_aten_ops']!s:<8}  {each}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved A B rounds")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=list(PAIRS))
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")
    parser.add_argument("--versus-rev", metavar="REV",
                        help="time today's code against commit REV, side by side")
    parser.add_argument("--models", default=",".join(VERSUS_MODELS),
                        help="with --versus-rev: comma-separated model names")
    parser.add_argument("--steps", type=int, default=2, help="with --versus-rev: steps per turn")
    parser.add_argument("--runs", type=int, default=1,
                        help="with --versus-rev: fresh worker pairs per model (median of runs)")
    parser.add_argument("--worker", metavar="TREE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.threads)
    torch.set_num_threads(args.threads)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/bench_models.py", *given])
    if args.versus_rev:
        found = versus(args.versus_rev, args.models.split(","), args.batch, args.size,
                       args.rounds, args.steps, args.threads, args.runs)
        if args.json:
            print(json.dumps({"command": command, "threads": args.threads, "rows": found},
                             indent=2))
        else:
            print(_versus_table(found, command, args.threads))
        return 0
    rows = [measure(p, PAIRS[p], args.batch, args.size, args.rounds) for p in args.pairs]
    if args.json:
        payload = {"command": command, "threads": args.threads, "rows": [asdict(r) for r in rows]}
        print(json.dumps(payload, indent=2))
    else:
        print(_table(rows, command, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
