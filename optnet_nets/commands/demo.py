"""``optnet demo``: the main job in one command, small enough for a laptop CPU.

1. derive the energy Psi of an activation (Psi' = Phi, the objective (8) of Lemma 1);
2. verify Lemma 1 (one GD step (1) on f = one feedforward layer (7)) and the heavy-ball
   unrolling (2) -> (11) numerically, against a round-off bound;
3. train an HB-Net (16) and its ResNet baseline side by side with the same recipe (Sec. 7.1),
   the same seed and the same data, on a subset of Fashion-MNIST when it is installed (a notice
   and the synthetic set otherwise), and print the comparison (test error, as in Tables 4-5).

The default (2 epochs on 3,000 training images, 1,000 test images) takes a few minutes on 2
CPU cores; ``--quick`` (1 epoch on 256 images) is for smoke tests. These are not the paper's
300-epoch CIFAR runs: the numbers show the pipeline working, not the paper's error rates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError
from optnet_theory.methods.catalogue.paper import HB

#: (epochs, training images, test images) of the default and the quick demo.
DEFAULT_SIZE = (2, 3000, 1000)
QUICK_SIZE = (1, 128, 128)
#: the synthetic stand-in for Fashion-MNIST: same shape (1 x 28 x 28, 10 classes).
SYNTHETIC_OPTIONS: dict[str, Any] = {"image_size": 28, "channels": 1, "num_classes": 10}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--activation", default="softplus",
                        help="activation whose energy is derived and verified (default softplus)")
    parser.add_argument("--models", default="hbnet20,resnet20",
                        help="comma-separated models trained side by side")
    parser.add_argument("--epochs", type=int, help=f"default {DEFAULT_SIZE[0]}")
    parser.add_argument("--limit-train", type=int, help=f"default {DEFAULT_SIZE[1]} images")
    parser.add_argument("--limit-test", type=int, help=f"default {DEFAULT_SIZE[2]} images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", help="Fashion-MNIST directory (default: Debian's)")
    parser.add_argument("--out", default="runs/demo",
                        help="a new folder for the runs and curves (default runs/demo)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the runs in --out if it already holds a demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_SIZE[0]} epoch on {QUICK_SIZE[1]} images")
    add_json_option(parser, "print the results as JSON")


def _say(args: argparse.Namespace, text: str) -> None:
    """Human-readable progress: stdout normally, stderr under --json (stdout is JSON only)."""
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


def derive_and_verify(activation: str) -> dict[str, Any]:
    """Step 1 and 2: the energy of ``activation`` and the Lemma 1 / (11) checks."""
    from optnet_theory import derive_energy
    from optnet_theory.verify import verify_claim

    energy = derive_energy(activation)
    checks = [verify_claim(claim, energy, depth=10, seed=0) for claim in ("lemma1", HB.name)]
    return {
        "energy": {
            "activation": activation,
            "phi": str(energy.phi),
            "psi": None if energy.psi is None else str(energy.psi),
            "method": energy.method,
            "verified": bool(energy.verified),
            "max_check_error": float(energy.max_check_error),
        },
        "checks": [c.to_json() for c in checks],
    }


def load_demo_data(args: argparse.Namespace, limit_train: int, limit_test: int) -> tuple[Any, str]:
    """Fashion-MNIST (subset) when installed, else the synthetic set with a notice."""
    from optnet_nets.data import DatasetError, default_data_dir, load_dataset
    from optnet_nets.train.distributed import resolve_device

    device = str(resolve_device(args.device))
    try:
        found = load_dataset(
            "fashion-mnist", args.data_dir, device=device, limit_train=limit_train,
            limit_test=limit_test,
        )  # fmt: skip
        return found, "fashion-mnist"
    except DatasetError as exc:
        where = args.data_dir or default_data_dir("fashion-mnist")
        print(
            f"notice: Fashion-MNIST not found in {where} ({exc}); install it with "
            "'apt-get install dataset-fashion-mnist'. Training on the SYNTHETIC set instead "
            "(same shape, 10 classes): the numbers below are not Fashion-MNIST results.",
            file=sys.stderr,
        )
        synthetic = load_dataset(
            "synthetic", device=device, num_train=limit_train, num_test=limit_test,
            seed=args.seed, **SYNTHETIC_OPTIONS,
        )  # fmt: skip
        return synthetic, "synthetic"


def run(args: argparse.Namespace) -> int:
    from optnet_nets.commands.compare import format_table, plot_curves, summarize
    from optnet_nets.models import list_models
    from optnet_nets.train import TrainConfig, train

    epochs, limit_train, limit_test = QUICK_SIZE if args.quick else DEFAULT_SIZE
    epochs = args.epochs or epochs
    limit_train = args.limit_train or limit_train
    limit_test = args.limit_test or limit_test
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    known = list(list_models())
    for name in models:
        if name not in known:
            raise OptnetError(f"unknown model {name!r}; choose from {', '.join(known)}")
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise OptnetError(
            f"{out} already holds a demo; pass --overwrite to replace it or --out NEW_DIR"
        )
    from optnet_nets.folders.writable import writable_dir

    writable_dir(out, "--out")  # before any work: an unusable --out fails at once
    started = time.perf_counter()

    theory = derive_and_verify(args.activation)
    energy = theory["energy"]
    _say(args, f"1. energy of Phi = {energy['phi']}: Psi = {energy['psi']} ({energy['method']}, "
               f"Psi' = Phi checked: {energy['verified']}, "
               f"max error {energy['max_check_error']:.1e})")
    for check in theory["checks"]:
        _say(args, f"2. verify {check['claim']}: max relative error {check['max_rel_error']:.1e} "
                   f"<= bound {check['tolerance']:.1e}: {'PASS' if check['passed'] else 'FAIL'}")

    dataset, dataset_name = load_demo_data(args, limit_train, limit_test)
    _say(args, f"3. training {' and '.join(models)} on {dataset_name}: {epochs} epoch(s) on a "
               f"subset of {dataset.train_size} training / {dataset.test_size} test images "
               f"(a demo, not the paper's 300-epoch runs)")
    summaries = []
    for name in models:
        config = TrainConfig.from_preset(
            "cifar", model=name, dataset=dataset_name, out=str(out / name), epochs=epochs,
            batch_size=args.batch_size, seed=args.seed, device=args.device,
            threads=args.threads, progress=not args.json,
        )  # fmt: skip
        summaries.append(train(config, dataset=dataset))
    rows = [summarize(out / name) for name in models]
    plot = plot_curves(rows, out / "curves.png")
    result = {
        **theory,
        "dataset": dataset_name,
        "fallback": dataset_name != "fashion-mnist",
        "epochs": epochs,
        "train_images": dataset.train_size,
        "test_images": dataset.test_size,
        "runs": summaries,
        "comparison": [{k: v for k, v in r.items() if k != "curve"} for r in rows],
        "plot": str(plot),
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(format_table(rows))
        print(f"curves: {plot}; runs in {out}/; {result['seconds']:.0f} s in all")
    passed = energy["verified"] and all(c["passed"] for c in theory["checks"])
    return 0 if passed else 1
