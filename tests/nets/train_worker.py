"""A tiny training run on synthetic data, for the subprocess tests (kill/resume, torchrun).

Run as a script (also under ``torchrun``): ``python tests/nets/train_worker.py OUT [options]``.
It trains a tiny convolutional net, with or without batch norm, on the synthetic set with the
trainer of :mod:`optnet_nets.train` and writes the final weights to ``OUT/final.pt``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from torch import nn


def tiny_net(batch_norm: bool, channels: int = 1, classes: int = 4) -> nn.Module:
    """Two 3x3 convolutions and a linear classifier; batch norm optional."""
    norm: list[nn.Module] = [nn.BatchNorm2d(8)] if batch_norm else []
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1, bias=not batch_norm),
        *norm,
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, classes),
    )


def tiny_dataset(num_train: int = 256, num_test: int = 64, image_size: int = 8):  # type: ignore[no-untyped-def]
    """The synthetic set at 8x8, one channel, four classes."""
    from optnet_nets.data import load_dataset

    return load_dataset(
        "synthetic",
        num_train=num_train,
        num_test=num_test,
        image_size=image_size,
        channels=1,
        num_classes=4,
    )


def run(
    out: str,
    *,
    epochs: int = 3,
    batch_size: int = 16,
    num_train: int = 256,
    checkpoint_every: int = 0,
    lr: float = 0.05,
    batch_norm: bool = True,
    resume: bool = False,
) -> nn.Module:
    """Train the tiny net in deterministic CPU mode, in fp32 (the DDP test compares float32
    summation orders; bf16 rounds the two ranks' shards apart); returns the trained model."""
    from optnet_nets.train import TrainConfig, train

    config = TrainConfig(
        model="tiny",
        dataset="synthetic",
        out=out,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        checkpoint_every_steps=checkpoint_every,
        deterministic=True,
        device="cpu",
        amp="none",
        progress=False,
        eval_batch_size=32,
    )
    torch.manual_seed(config.seed)
    model = tiny_net(batch_norm=batch_norm)
    train(config, dataset=tiny_dataset(num_train=num_train), model=model, resume=resume)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-train", type=int, default=256)
    parser.add_argument("--checkpoint-every", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--no-bn", action="store_true")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = run(
        args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_train=args.num_train,
        checkpoint_every=args.checkpoint_every,
        lr=args.lr,
        batch_norm=not args.no_bn,
        resume=args.resume,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(model.state_dict(), Path(args.out) / "final.pt")


if __name__ == "__main__":
    main()
