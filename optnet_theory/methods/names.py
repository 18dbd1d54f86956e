"""The one name grammar for methods, wherever a method is named (Python and the CLI).

* a registered name (``ogm``, or one a user registered);
* a path to a method file (``designed.json``; :mod:`.files`);
* a family string, ``blend:A:B:T`` with A and B registered names or method files and
  0 <= T <= 1 (:mod:`.families`).
"""

from __future__ import annotations

from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.core import Method
from optnet_theory.methods.dense.families import BLEND, blend_spec
from optnet_theory.methods.dense.files import is_method_file, load_method_file
from optnet_theory.methods.spec import MethodSpec

__all__ = ["GRAMMAR", "load_method", "resolve_method", "resolve_spec"]

#: what the grammar accepts, for error messages and help texts.
GRAMMAR = "a registered method, a method file (PATH.json) or a family string blend:A:B:T"


def resolve_spec(name: str) -> MethodSpec:
    """The description ``name`` stands for (module docstring)."""
    from optnet_theory.methods.registry import _REGISTRY, load_entry_points

    load_entry_points()

    if not isinstance(name, str) or not name:
        raise OptnetError(f"a method is named by a string ({GRAMMAR}), got {name!r}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith(f"{BLEND}:"):
        parts = name.split(":")
        if len(parts) != 4:
            raise OptnetError(f"a family string is {BLEND}:A:B:T (e.g. blend:gd:ogm:0.5), "
                              f"got {name!r}")
        try:
            t = float(parts[3])
        except ValueError:
            raise OptnetError(f"{name!r}: T must be a number in [0, 1], got {parts[3]!r}") from None
        return blend_spec(resolve_spec(parts[1]), resolve_spec(parts[2]), t)
    if is_method_file(name):
        return load_method_file(name)
    raise OptnetError(f"unknown method {name!r}; give {GRAMMAR}; registered: "
                      f"{', '.join(_REGISTRY)}")


def resolve_method(name: str, *, L: float = 1.0, mu: float | None = None, N: int | None = None,
                   **params: Any) -> Method:
    """``name`` (module docstring) bound to (L, mu), horizon N and its parameters."""
    return resolve_spec(name).bind(L=L, mu=mu, N=N, **params)


def load_method(path: str, *, L: float = 1.0, mu: float | None = None, N: int | None = None
                ) -> Method:
    """The method of the method file at ``path`` (:mod:`.files`), bound to (L, mu)."""
    if not is_method_file(str(path)):
        raise OptnetError(f"a method file's name ends in .json, got {path!r}")
    return load_method_file(path).bind(L=L, mu=mu, N=N)
