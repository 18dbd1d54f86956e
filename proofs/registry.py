"""The ordered list of proofs: name -> module. Each module exposes NAME, TITLE, CLAIM, prove()."""

from __future__ import annotations

import importlib
from types import ModuleType

from optnet_theory.errors import OptnetError

#: Proof name -> its module in this package, in the order of the paper.
PROOFS: dict[str, str] = {
    "lemma1": "lemma1",
    "heavy_ball": "heavy_ball",
    "nesterov": "nesterov",
    "recursion5": "recursion5",
    "nesterov_sum": "nesterov_sum",
    "admm": "admm",
    "methods": "methods",
    "table3_cnn": "table3_cnn",
    "table3_resnet": "table3_resnet",
    "table3_densenet": "table3_densenet",
    "table3_dmrnet": "table3_dmrnet",
    "table1": "table1",
}


def list_proofs() -> list[str]:
    """The names accepted by ``optnet prove``."""
    return list(PROOFS)


def load(name: str) -> ModuleType:
    """The module of proof ``name``; an OptnetError naming the accepted names otherwise."""
    if name not in PROOFS:
        raise OptnetError(f"unknown proof {name!r}; choose from {', '.join(PROOFS)}")
    return importlib.import_module(f".{PROOFS[name]}", __package__)
