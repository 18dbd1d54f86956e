"""The method registry: ``get_method``, ``list_methods`` and ``register_method``.

The registry starts with the paper's methods (:mod:`optnet_theory.methods.catalogue.paper`) and the
methods that beat Nesterov's worst case (:mod:`optnet_theory.methods.catalogue.optimal`). A user
adds a
method from their own code with :func:`register_method` (a :class:`MethodSpec`); nothing in the
package needs editing.
"""

from __future__ import annotations

import re
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.catalogue.optimal import OPTIMAL_METHODS
from optnet_theory.methods.catalogue.paper import PAPER_METHODS
from optnet_theory.methods.core import Method
from optnet_theory.methods.spec import MethodSpec

__all__ = ["ENTRY_POINT_GROUP", "get_method", "list_methods", "load_entry_points",
           "register_method"]

#: installed packages add methods under this entry-point group; each entry point names a
#: :class:`MethodSpec` (or a function returning one), e.g. in a package's pyproject.toml:
#: ``[project.entry-points."optnet.methods"] nest05 = "mypkg.methods:NEST05"``.
ENTRY_POINT_GROUP = "optnet.methods"

_REGISTRY: dict[str, MethodSpec] = {spec.name: spec for spec in PAPER_METHODS + OPTIMAL_METHODS}


#: a registered name: a letter or _, then letters, digits, _ and -, at most 64 characters (it
#: becomes a CLI choice, a claim name and a folder name, so no spaces, dots, slashes or colons).
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def register_method(spec: MethodSpec, *, replace: bool = False) -> MethodSpec:
    """Add ``spec`` to the registry (``replace=True`` to redefine a name). Returns it.

    The name must be identifier-like (:data:`NAME_PATTERN`); the initial state and the other
    fields are checked when the :class:`MethodSpec` is made.
    """
    if not isinstance(spec, MethodSpec):
        raise OptnetError(f"register_method takes a MethodSpec, got {type(spec).__name__}")
    if not isinstance(spec.name, str) or not NAME_PATTERN.fullmatch(spec.name):
        raise OptnetError(
            f"method name {spec.name!r} is not accepted; a name is a letter or _ followed by up "
            "to 63 letters, digits, _ or -, e.g. 'my-method'"
        )
    if spec.name in _REGISTRY and not replace:
        raise OptnetError(f"a method named {spec.name!r} is registered; pass replace=True")
    _REGISTRY[spec.name] = spec
    return spec


_ENTRY_POINTS_LOADED = False


def load_entry_points(*, reload: bool = False) -> list[str]:
    """Register the methods installed packages declare under :data:`ENTRY_POINT_GROUP` (once
    per process unless ``reload``); returns their names. A broken entry point is a one-line
    :class:`OptnetError` naming it."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED and not reload:
        return []
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    added = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            value = point.load()
            spec = value() if callable(value) and not isinstance(value, MethodSpec) else value
        except Exception as exc:  # a third party's code: any failure is named, one line
            raise OptnetError(f"entry point {point.name} = {point.value} ({ENTRY_POINT_GROUP}) "
                              f"failed to load: {type(exc).__name__}: {exc}") from None
        if not isinstance(spec, MethodSpec):
            raise OptnetError(f"entry point {point.name} = {point.value} ({ENTRY_POINT_GROUP}) "
                              f"gives a {type(spec).__name__}, not a MethodSpec")
        if _REGISTRY.get(spec.name) is not spec:
            register_method(spec, replace=reload)
        added.append(spec.name)
    return added


def list_methods() -> list[str]:
    """Names of the registered methods, the paper's first (installed entry points included)."""
    load_entry_points()
    return list(_REGISTRY)


def get_spec(name: str) -> MethodSpec:
    """The description ``name`` stands for: a registered name, a method file or a family
    string (:mod:`optnet_theory.methods.names`)."""
    from optnet_theory.methods.names import resolve_spec

    return resolve_spec(name)


def get_method(
    name: str, *, L: float = 1.0, mu: float | None = None, N: int | None = None, **params: Any
) -> Method:
    """The method ``name`` for L-smooth (mu-strongly) convex f, horizon N, and its parameters.

    ``name``: a registered name, a path to a method file or a family string such as
    ``blend:gd:ogm:0.5`` (:mod:`optnet_theory.methods.names`). ``N`` is the horizon of methods
    whose schedule depends on it (ogm, ogmg, blends); ``params`` are the method's own (e.g.
    ``beta=0.3, step=1.0`` for hb, ``momentum="constant"`` for agd's footnote 4). tmm and item
    need 0 < mu < L; mu defaults to 0, or to the mu a method file was made for.
    """
    return get_spec(name).bind(L=L, mu=mu, N=N, **params)
