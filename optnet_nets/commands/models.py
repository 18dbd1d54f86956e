"""``optnet models``: the model zoo with parameter counts, equations and baselines (Sec. 6)."""

from __future__ import annotations

import argparse
import json

import torch

from optnet_nets.models import REGISTRY, create_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")


def _rows() -> list[dict[str, object]]:
    rows = []
    for name, entry in REGISTRY.items():
        classes = 1000 if entry.dataset == "imagenet" else 10
        with torch.device("meta"):  # shapes only: counting needs no memory and no init
            model = create_model(name, num_classes=classes)
        rows.append(
            {
                "name": name,
                "dataset": entry.dataset,
                "num_classes": classes,
                "parameters": sum(p.numel() for p in model.parameters()),
                "equation": entry.equation,
                "baseline": entry.baseline,
                "options": {k: opt.default for k, opt in entry.options.items()},
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = _rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(str(r["name"])) for r in rows)
    print(f"{'model':<{width}}  {'dataset':<8}  {'parameters':>11}  {'baseline':<21}  equation")
    for r in rows:
        print(
            f"{r['name']:<{width}}  {r['dataset']:<8}  {r['parameters']:>11,}  "
            f"{r['baseline']:<21}  {r['equation']}"
        )
    print("\nparameter counts with 10-class (CIFAR) or 1000-class (ImageNet) heads")
    return 0
