"""Lazy public names for a package's ``__init__``: one helper instead of one copy per package.

``__getattr__ = lazy_names(__name__, {"name": "package.module", ...})`` imports each name from
its module on first use, so that importing the package stays cheap (``optnet_nets`` loads
no torch until a torch-backed name is used; ``optnet_theory`` does not load SymPy-heavy
modules for ``optnet --help``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` serving ``where`` (public name -> the module defining it)."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
