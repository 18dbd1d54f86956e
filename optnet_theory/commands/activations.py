"""``optnet activations``: list the activation registry (Phi only; Psi is always derived)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from optnet_theory.commands import add_json_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet activations``."""
    add_json_option(parser, "print JSON rows only")


def run(args: argparse.Namespace) -> int:
    """Print name, Phi, parameters with defaults and whether the row is in Table 1."""
    from optnet_theory.energy.activations import REGISTRY

    rows: list[dict[str, Any]] = [
        {
            "name": a.name,
            "phi": str(a.phi()),
            "description": a.description,
            "params": {k: float(v) for k, v in a.defaults.items()},
            "table1": a.in_table1,
        }
        for a in REGISTRY.values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        params = ", ".join(f"{k}={v:.6g}" for k, v in r["params"].items())
        mark = "T1" if r["table1"] else "  "
        print(f"{r['name']:<13} {mark} {r['phi']}" + (f"   [{params}]" if params else ""))
    return 0
