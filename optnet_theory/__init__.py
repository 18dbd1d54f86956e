"""optnet_theory: the mathematics of the paper, with SymPy, NumPy, SciPy and mpmath only.

This package never imports torch. Public names are loaded lazily so that ``import
optnet_theory`` stays cheap (:func:`optnet_theory.lazy.lazy_names`); ``_LAZY`` says where each
one lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optnet_theory.errors import OptnetError
from optnet_theory.lazy import lazy_names

_LAZY: dict[str, str] = {
    "derive_energy": "optnet_theory.energy",
    "get_method": "optnet_theory.methods",
    "blend_methods": "optnet_theory.methods",
    "load_method": "optnet_theory.methods.names",
    "list_methods": "optnet_theory.methods",
    "Energy": "optnet_theory.energy",
    "list_activations": "optnet_theory.activations",
    "nesterov_h": "optnet_theory.coefficients",
    "nesterov_h_matrix": "optnet_theory.coefficients",
    "network_forward": "optnet_theory.networks",
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
    from optnet_theory.activations import list_activations
    from optnet_theory.coefficients import nesterov_h, nesterov_h_matrix
    from optnet_theory.energy import Energy, derive_energy
    from optnet_theory.methods import blend_methods, get_method, list_methods
    from optnet_theory.methods.names import load_method
    from optnet_theory.networks import network_forward
    from optnet_theory.verify import verify_all, verify_claim

__getattr__ = lazy_names(__name__, _LAZY)
