"""optnet_nets: the torch backend (models, unrolled networks, data, training, experiments).

Public names are loaded lazily, so importing this package (as the ``optnet`` CLI does) does
not import torch until a torch-backed name is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optnet_theory.lazy import lazy_names, moved_modules

_LAZY: dict[str, str] = {
    "create_model": "optnet_nets.models",
    "list_models": "optnet_nets.models",
    "load_dataset": "optnet_nets.data",
}

__all__ = ["create_model", "list_models", "load_dataset"]

if TYPE_CHECKING:  # pragma: no cover
    from optnet_nets.data import load_dataset
    from optnet_nets.models import create_model, list_models

__getattr__ = lazy_names(__name__, _LAZY)

#: modules that moved (old path -> new): the old path still imports, with a DeprecationWarning.
MOVED: dict[str, str] = {
    "optnet_nets.activation": "optnet_nets.models.activation",
    "optnet_nets.reversible": "optnet_nets.models.reversible",
    "optnet_nets.fetch_check": "optnet_nets.fetch.check",
    "optnet_nets.fetch_sources": "optnet_nets.fetch.sources",
    "optnet_nets.fetch_transfer": "optnet_nets.fetch.transfer",
    "optnet_nets.folder_lock": "optnet_nets.folders.lock",
    "optnet_nets.writable": "optnet_nets.folders.writable",
    "optnet_nets.run_settings": "optnet_nets.folders.settings",
    "optnet_nets.memory": "optnet_nets.train.memory",
    "optnet_nets.learned_method": "optnet_nets.learned.method",
    "optnet_nets.net_coefficients": "optnet_nets.learned.coefficients",
    "optnet_nets.rank_statistics": "optnet_nets.hypothesis.rank_statistics",
    "optnet_nets.simulate_budget": "optnet_nets.simulate.budget",
    "optnet_nets.unrolled_plan": "optnet_nets.unrolled.plan",
    "optnet_nets.unrolled_backward": "optnet_nets.unrolled.adjoint",
    "optnet_nets.unrolled_compiled": "optnet_nets.unrolled.compiled",
    "optnet_nets.blocks": "optnet_nets.models.stage",
}
moved_modules(MOVED)
