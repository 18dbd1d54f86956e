"""Data pipeline share of a resnet20 training step on CPU (Sec. 7.1 preprocessing).

Measured in one run, on the same threads:
  data   time per batch of ``train_batches(64, ...)`` with augmentation (index gather,
         normalisation, 4-pixel pad + random crop + flip), plus the epoch plan (permutation and
         per-image augmentation draws) amortised over the epoch's steps;
  model  one resnet20 training step on that batch: forward, cross-entropy, backward, SGD with
         Nesterov momentum 0.9 and weight decay 1e-4 (the paper's recipe).
The share is data / (data + model); the issue's target is < 5%. Rounds alternate a model step
and a chunk of data batches; medians over rounds are reported.

Also: the batched pad/crop/flip against a per-image Python loop (F.pad, slice, flip) on the
same batch, as a ratio.

Datasets: a CIFAR-10-sized in-memory set (50,000 random 3x32x32 uint8 images; reading the
pickles is not part of a step) and the real Fashion-MNIST when installed.

Run:  python benchmarks/bench_data.py            (batch 64, 5 rounds, 1 thread)
      python benchmarks/bench_data.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from optnet_nets.data import load_dataset
from optnet_nets.data.augment import AugmentParams, pad_crop_flip
from optnet_nets.data.base import ImageDataset
from optnet_nets.data.in_memory import InMemoryDataset, Splits
from optnet_nets.fetch import FASHION_MNIST_DIR


def cifar_shaped() -> InMemoryDataset:
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (50000, 3, 32, 32), dtype=torch.uint8, generator=g)
    test = torch.randint(0, 256, (10000, 3, 32, 32), dtype=torch.uint8, generator=g)
    splits = Splits(name="cifar10-shaped",
                    train=(train, torch.randint(0, 10, (50000,), generator=g)),
                    test=(test, torch.randint(0, 10, (10000,), generator=g)),
                    class_names=[str(k) for k in range(10)])
    return InMemoryDataset(splits, torch.device("cpu"), padding=4, flip=True)


def model_and_optimizer(ds: ImageDataset) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    from optnet_nets.models import create_model

    model = create_model("resnet20", num_classes=ds.num_classes, in_channels=ds.in_channels)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4
    )
    return model, optimizer


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()


def measure(ds: InMemoryDataset, batch: int, rounds: int, chunk: int) -> dict[str, Any]:
    model, optimizer = model_and_optimizer(ds)
    steps = ds.steps_per_epoch(batch)
    t0 = time.perf_counter()
    ds.epoch_plan(seed=0, epoch=0)
    plan = time.perf_counter() - t0
    batches = ds.train_batches(batch, epoch=0, seed=0)
    images, labels = next(batches)
    train_step(model, optimizer, images, labels)  # warm-up
    data_times, model_times = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        train_step(model, optimizer, images, labels)
        model_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(chunk):
            try:
                images, labels = next(batches)
            except StopIteration:
                batches = ds.train_batches(batch, epoch=0, seed=0)
                images, labels = next(batches)
        data_times.append((time.perf_counter() - t0) / chunk)
    data = statistics.median(data_times) + plan / steps
    step = statistics.median(model_times)
    return {
        "dataset": ds.name,
        "image": [ds.in_channels, *ds.image_size],
        "batch_size": batch,
        "data_ms_per_batch": 1e3 * data,
        "epoch_plan_ms": 1e3 * plan,
        "model_step_ms": 1e3 * step,
        "data_share": data / (data + step),
    }


def loop_baseline(x: torch.Tensor, params: AugmentParams, padding: int) -> torch.Tensor:
    height, width = x.shape[2:]
    out = []
    for b in range(x.shape[0]):
        window = F.pad(x[b], (padding,) * 4)[
            :,
            int(params.dy[b]) : int(params.dy[b]) + height,
            int(params.dx[b]) : int(params.dx[b]) + width,
        ]
        out.append(window.flip(-1) if bool(params.flip[b]) else window)
    return torch.stack(out)


def augment_vs_loop(batch: int, repeats: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn((batch, 3, 32, 32), generator=g)
    params = AugmentParams(
        torch.randint(0, 9, (batch,), generator=g),
        torch.randint(0, 9, (batch,), generator=g),
        torch.randint(0, 2, (batch,), generator=g).bool(),
    )
    if not torch.equal(pad_crop_flip(x, params, 4), loop_baseline(x, params, 4)):
        raise SystemExit("batched augmentation disagrees with the per-image loop")

    def best(fn: Callable[[torch.Tensor, AugmentParams, int], torch.Tensor]) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(x, params, 4)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    batched, loop = best(pad_crop_flip), best(loop_baseline)
    return {
        "batch_size": batch,
        "batched_ms": 1e3 * batched,
        "per_image_loop_ms": 1e3 * loop,
        "loop_over_batched": loop / batched,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=50, help="data batches timed per round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [measure(cifar_shaped(), args.batch_size, args.rounds, args.chunk)]
    if FASHION_MNIST_DIR.is_dir():
        fashion = load_dataset("fashion-mnist")
        assert isinstance(fashion, InMemoryDataset)
        rows.append(measure(fashion, args.batch_size, args.rounds, args.chunk))
    result = {
        "threads": args.threads,
        "model": "resnet20 (optnet_nets.models.create_model)",
        "steps": rows,
        "augment": augment_vs_loop(args.batch_size, 50),
        "target_share": 0.05,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"resnet20 training step vs data pipeline, batch {args.batch_size}, {args.threads} thread"
    )
    for r in rows:
        shape = "x".join(map(str, r["image"]))
        print(
            f"  {r['dataset']:<16} {shape:<8} data {r['data_ms_per_batch']:7.3f} ms"
            f" (epoch plan {r['epoch_plan_ms']:.1f} ms, amortised)"
            f"  model {r['model_step_ms']:8.1f} ms  share {100 * r['data_share']:.2f}% (< 5%?)"
        )
    a = result["augment"]
    print(
        f"  pad+crop+flip on {a['batch_size']} images: batched {a['batched_ms']:.3f} ms, "
        f"per-image loop {a['per_image_loop_ms']:.3f} ms, ratio {a['loop_over_batched']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
