"""Lazy public names for a package's ``__init__``, and the old paths of moved modules.

``__getattr__ = lazy_names(__name__, {"name": "package.module", ...})`` imports each name from
its module on first use, so that importing the package stays cheap (``optnet_nets`` loads
no torch until a torch-backed name is used; ``optnet_theory`` does not load SymPy-heavy
modules for ``optnet --help``).

``__getattr__ = computed_names(__name__, {"NAME": function})`` serves names computed when read.
``__getattr__ = forward_names(__name__, "package.sub.main")`` lets a package answer for the
module it replaced. ``moved_modules({"package.old": "package.sub.new", ...})`` keeps the old
path of a module that moved importable, as the new module with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["computed_names", "forward_names", "lazy_names", "moved_modules"]


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` serving ``where`` (public name -> the module defining it)."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__


def computed_names(module: str, compute: Mapping[str, Callable[[], Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` computing each name of ``compute`` when it is read (a list
    derived from a registry that may have grown since import, e.g. ``CLAIMS``)."""

    def __getattr__(name: str) -> Any:
        if name in compute:
            return compute[name]()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def forward_names(package: str, module: str) -> Callable[[str], Any]:
    """A package ``__getattr__`` serving the public names of its main ``module`` (imported on
    first use): the package keeps the import path the module had before it became one."""

    def __getattr__(name: str) -> Any:
        if not name.startswith("_"):
            target = importlib.import_module(module)
            if hasattr(target, name):
                return getattr(target, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


class _Moved(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves an old module path as the module it moved to, with a DeprecationWarning."""

    def __init__(self, moved: Mapping[str, str]) -> None:
        self.moved = dict(moved)

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.moved:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = self.moved[spec.name]
        warnings.warn(f"{spec.name} has moved to {new}; import it from there (the old path "
                      f"will be removed)", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module is the moved one, already executed."""


def moved_modules(moved: Mapping[str, str]) -> None:
    """Let the old module paths of ``moved`` (old dotted path -> new) be imported still: each
    gives the module it moved to, with a DeprecationWarning naming the new path."""
    sys.meta_path.append(_Moved(moved))
