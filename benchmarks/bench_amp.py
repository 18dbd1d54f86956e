"""bf16 training on the CPU (issue 22, item 3): images/s against a plain fp32 loop; parity.

``throughput``: ResNet-20 (or ``--model``) training steps (forward, cross-entropy, backward,
SGD with Nesterov 0.9 and weight decay 1e-4, Sec. 7.1), batch 64, ``--threads`` torch threads,
on random images of each ``--shapes`` (CIFAR 3x32x32, Fashion-MNIST 1x28x28). Variants, timed
in one process:

  fp32            the baseline: a plain loop, fp32, NCHW (what training ran at before auto)
  fp32+cl         the same loop with channels_last
  bf16            the loop under bf16 autocast
  bf16+cl         bf16 autocast and channels_last
  trainer auto    ``optnet train``'s loop with the default ``--amp auto`` (its own images/s
                  for one epoch of ``--steps`` steps, data pipeline and checks included)
  trainer none    the same with ``--amp none`` (fp32 through ``optnet train``)

Every round times each variant once, the order reversed every other round; a variant's ratio
is the median over rounds of (its images/s) / (fp32's images/s in the same round), so load
drifts on a shared machine hit both sides alike. One warm-up pass of each variant first.

``parity``: ``optnet train`` on a Fashion-MNIST subset, for each seed once with ``--amp none``
and once with the default ``--amp auto``; final test errors paired by seed: the differences
auto - fp32, their mean, Student-t 95 % interval and percentile bootstrap interval
(``optnet_nets.study.statistics.paired``).

Run:  python benchmarks/bench_amp.py throughput [--rounds 9] [--json]
      python benchmarks/bench_amp.py parity --data-dir /usr/share/datasets/fashion-mnist [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from optnet_nets import create_model
from optnet_nets.models.layers import init_weights
from optnet_nets.train import TrainConfig, Trainer
from optnet_nets.train.distributed import setup
from optnet_nets.train.precision import native_bf16_cpu

ROOT = Path(__file__).resolve().parents[1]
LOOPS = {"fp32": (False, False), "fp32+cl": (False, True), "bf16": (True, False),
         "bf16+cl": (True, True)}  # fmt: skip
TRAINERS = {"trainer auto": "auto", "trainer none": "none"}
BATCH = 64


def cpu_model() -> str:
    """The CPU's model name (``lscpu``), or what Python knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            return value.strip()
    return "unknown"


def _shape(text: str) -> tuple[int, int]:
    channels, size, other = (int(v) for v in text.lower().split("x"))
    if size != other:
        raise SystemExit(f"--shapes takes CxHxW with H = W, got {text!r}")
    return channels, size


def _loop(name: str, channels: int, size: int, bf16: bool, channels_last: bool,
          steps: int) -> Callable[[], float]:  # fmt: skip
    """A plain training loop of ``steps`` steps on one random batch; returns images/s."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_channels=channels)
    init_weights(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)  # fmt: skip
    x = torch.randn(BATCH, channels, size, size)
    y = torch.randint(0, 10, (BATCH,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()

    def run() -> float:
        started = time.perf_counter()
        for _ in range(steps):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return steps * BATCH / (time.perf_counter() - started)

    return run


def _trainer(name: str, channels: int, size: int, amp: str, steps: int, threads: int,
             out: Path) -> Callable[[], float]:  # fmt: skip
    """One epoch of ``steps`` steps of ``optnet train``'s loop; returns its own images/s."""
    from optnet_nets.data import load_dataset

    data = load_dataset("synthetic", num_train=steps * BATCH, num_test=BATCH, image_size=size,
                        channels=channels, num_classes=10)  # fmt: skip
    config = TrainConfig.from_preset(
        "cifar", model=name, dataset="synthetic", out=str(out), epochs=10**6, amp=amp,
        device="cpu", threads=threads, progress=False, checkpoint_every_steps=0,
    )  # fmt: skip
    torch.manual_seed(0)
    trainer = Trainer(config, setup("cpu"), dataset=data)

    def run() -> float:
        trainer.step_in_epoch = 0  # the same epoch again: same batches, same work
        trainer.train_sums.zero_()
        return trainer.train_epoch()

    return run


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Images/s of every variant for every shape, rounds alternating, ratios to fp32."""
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for text in args.shapes.split(","):
            channels, size = _shape(text)
            variants = {name: _loop(args.model, channels, size, bf16, cl, args.steps)
                        for name, (bf16, cl) in LOOPS.items()}  # fmt: skip
            for name, amp in TRAINERS.items():
                variants[name] = _trainer(args.model, channels, size, amp, args.steps, args.threads,
                                          Path(tmp) / f"{text}-{amp}")  # fmt: skip
            for run in variants.values():  # warm-up: oneDNN primitives, allocator
                run()
            rates: dict[str, list[float]] = {name: [] for name in variants}
            order = list(variants)
            for k in range(args.rounds):
                for name in order if k % 2 == 0 else order[::-1]:
                    rates[name].append(variants[name]())
                print(f"{text} round {k + 1}: " + ", ".join(
                    f"{n} {r[-1]:.0f}" for n, r in rates.items()), file=sys.stderr, flush=True)
            base = rates["fp32"]
            results[text] = {
                name: {
                    "images_per_s": statistics.median(values),
                    "ratio_to_fp32": statistics.median(
                        v / b for v, b in zip(values, base, strict=True)
                    ),
                    "per_round": values,
                }
                for name, values in rates.items()
            }
    return results


def _train(args: argparse.Namespace, seed: int, amp: str | None, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "optnet_nets.cli", "train", "--model", args.model,
               "--dataset", "fashion-mnist", "--data-dir", args.data_dir,
               "--limit-train", str(args.limit_train), "--limit-test", str(args.limit_test),
               "--epochs", str(args.epochs), "--seed", str(seed), "--threads", str(args.threads),
               "--out", str(out), "--overwrite", "--no-progress", "--json"]  # fmt: skip
    if amp is not None:
        command += ["--amp", amp]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    summary = json.loads(proc.stdout)
    config = json.loads((out / "config.json").read_text())
    print(f"seed {seed} amp {amp or 'default'}: error {summary['final_test_error']:.4f}, "
          f"{summary['images_per_s']:.0f} img/s, {summary['precision']}", file=sys.stderr,
          flush=True)  # fmt: skip
    return {"final_test_error": summary["final_test_error"],
            "images_per_s": summary["images_per_s"], "train_time_s": summary["train_time_s"],
            "amp_used": config["amp_used"], "channels_last_used": config["channels_last_used"],
            "command": " ".join(command[1:])}  # fmt: skip


def parity(args: argparse.Namespace) -> dict[str, Any]:
    """fp32 and default-auto runs per seed, and the paired interval of their error difference."""
    from optnet_nets.study.statistics import paired

    out = Path(args.out)
    runs: dict[str, dict[int, dict[str, Any]]] = {"fp32": {}, "auto": {}}
    for seed in range(args.seeds):
        order = [("fp32", "none"), ("auto", None)]
        for name, amp in order if seed % 2 == 0 else order[::-1]:
            runs[name][seed] = _train(args, seed, amp, out / f"seed{seed}-{name}")
    errors = {name: {s: r["final_test_error"] for s, r in per.items()}
              for name, per in runs.items()}  # fmt: skip
    return {"runs": runs, "auto_minus_fp32": paired(errors["auto"], errors["fp32"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("throughput", "parity"))
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=9, help="throughput rounds")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant and round")
    parser.add_argument("--shapes", default="3x32x32,1x28x28", help="CxHxW, comma-separated")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--seeds", type=int, default=5, help="parity seeds")
    parser.add_argument("--epochs", type=int, default=4, help="parity epochs")
    parser.add_argument("--limit-train", type=int, default=6000, help="parity training images")
    parser.add_argument("--limit-test", type=int, default=10000, help="parity test images")
    parser.add_argument("--out", default="benchmarks/out/bench_amp", help="parity run folders")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    args = parser.parse_args()
    load = os.getloadavg()
    started = time.time()
    result = throughput(args) if args.what == "throughput" else parity(args)
    report = {
        "what": args.what,
        "cpu": cpu_model(),
        "native_bf16": native_bf16_cpu(),
        "torch": torch.__version__,
        "model": args.model,
        "threads": args.threads,
        "started_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
        "wall_s": time.time() - started,
        "load_average_before_after": [load[0], os.getloadavg()[0]],
        "result": result,
    }
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
