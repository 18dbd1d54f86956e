"""First-order methods as data (see :mod:`optnet_theory.methods.core`) and their registry."""

from optnet_theory.methods.core import FUNCTION_CLASSES, METRICS, Method, MethodSpec, Params, Step
from optnet_theory.methods.registry import get_method, get_spec, list_methods, register_method

__all__ = [
    "FUNCTION_CLASSES",
    "METRICS",
    "Method",
    "MethodSpec",
    "Params",
    "Step",
    "get_method",
    "get_spec",
    "list_methods",
    "register_method",
]
