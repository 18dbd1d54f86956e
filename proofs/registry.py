"""The ordered list of proofs: name -> module. Each module exposes NAME, TITLE, CLAIM, prove()."""

from __future__ import annotations

import importlib
from types import ModuleType

from optnet_theory.errors import OptnetError

#: Proof name -> module, in the order of the paper.
PROOFS: dict[str, str] = {
    "lemma1": "proofs.lemma1",
    "heavy_ball": "proofs.heavy_ball",
    "nesterov": "proofs.nesterov",
    "recursion5": "proofs.recursion5",
    "nesterov_sum": "proofs.nesterov_sum",
    "admm": "proofs.admm",
    "methods": "proofs.methods",
    "table3_cnn": "proofs.table3_cnn",
    "table3_resnet": "proofs.table3_resnet",
    "table3_densenet": "proofs.table3_densenet",
    "table3_dmrnet": "proofs.table3_dmrnet",
    "table1": "proofs.table1",
}


def list_proofs() -> list[str]:
    """The names accepted by ``optnet prove``."""
    return list(PROOFS)


def load(name: str) -> ModuleType:
    """The module of proof ``name``; an OptnetError naming the accepted names otherwise."""
    if name not in PROOFS:
        raise OptnetError(f"unknown proof {name!r}; choose from {', '.join(PROOFS)}")
    return importlib.import_module(PROOFS[name])
