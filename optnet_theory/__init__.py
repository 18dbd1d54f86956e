"""optnet_theory: the mathematics of the paper, with SymPy, NumPy, SciPy and mpmath only.

This package never imports torch. Public names are loaded lazily so that ``import
optnet_theory`` stays cheap (:func:`optnet_theory.lazy.lazy_names`); ``_LAZY`` says where each
one lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optnet_theory.errors import OptnetError
from optnet_theory.lazy import lazy_names, moved_modules

_LAZY: dict[str, str] = {
    "derive_energy": "optnet_theory.energy",
    "get_method": "optnet_theory.methods",
    "blend_methods": "optnet_theory.methods",
    "load_method": "optnet_theory.methods.names",
    "list_methods": "optnet_theory.methods",
    "Energy": "optnet_theory.energy",
    "list_activations": "optnet_theory.energy.activations",
    "nesterov_h": "optnet_theory.coefficients",
    "nesterov_h_matrix": "optnet_theory.coefficients",
    "network_forward": "optnet_theory.verify.networks",
    "verify_claim": "optnet_theory.verify",
    "verify_all": "optnet_theory.verify",
}

__all__ = [
    "Energy",
    "OptnetError",
    "blend_methods",
    "derive_energy",
    "get_method",
    "list_activations",
    "list_methods",
    "load_method",
    "nesterov_h",
    "nesterov_h_matrix",
    "network_forward",
    "verify_all",
    "verify_claim",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from optnet_theory.coefficients import nesterov_h, nesterov_h_matrix
    from optnet_theory.energy import Energy, derive_energy
    from optnet_theory.energy.activations import list_activations
    from optnet_theory.methods import blend_methods, get_method, list_methods
    from optnet_theory.methods.names import load_method
    from optnet_theory.verify import verify_all, verify_claim
    from optnet_theory.verify.networks import network_forward

__getattr__ = lazy_names(__name__, _LAZY)

#: modules that moved (old path -> new): the old path still imports, with a DeprecationWarning.
MOVED: dict[str, str] = {
    "optnet_theory.activations": "optnet_theory.energy.activations",
    "optnet_theory.special": "optnet_theory.energy.special",
    "optnet_theory.formula": "optnet_theory.energy.formula",
    "optnet_theory.curvature": "optnet_theory.energy.curvature",
    "optnet_theory.limits": "optnet_theory.energy.limits",
    "optnet_theory.energy_plot": "optnet_theory.energy.plot",
    "optnet_theory.table1": "optnet_theory.energy.table1",
    "optnet_theory.verify_settings": "optnet_theory.verify.settings",
    "optnet_theory.networks": "optnet_theory.verify.networks",
    "optnet_theory.matrices": "optnet_theory.verify.matrices",
    "optnet_theory.certify_table": "optnet_theory.certify.table",
    "optnet_theory.methods.paper": "optnet_theory.methods.catalogue.paper",
    "optnet_theory.methods.optimal": "optnet_theory.methods.catalogue.optimal",
    "optnet_theory.methods.history": "optnet_theory.methods.dense.history",
    "optnet_theory.methods.files": "optnet_theory.methods.dense.files",
    "optnet_theory.methods.families": "optnet_theory.methods.dense.families",
}
moved_modules(MOVED)
