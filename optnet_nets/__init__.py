"""optnet_nets: the torch backend (blocks, models, data, training, experiments).

Public names are loaded lazily, so importing this package (as the ``optnet`` CLI does) does
not import torch until a torch-backed name is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optnet_theory.lazy import lazy_names

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
