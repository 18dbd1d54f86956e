"""First-order methods as data (see :mod:`optnet_theory.methods.core`) and their registry."""

from optnet_theory.methods.core import Method, Trajectory
from optnet_theory.methods.cost import forced
from optnet_theory.methods.dense.families import blend_methods
from optnet_theory.methods.dense.files import load_method_file
from optnet_theory.methods.registry import get_method, get_spec, list_methods, register_method
from optnet_theory.methods.spec import FUNCTION_CLASSES, METRICS, MethodSpec, Params, Step
from optnet_theory.methods.traced import Grad, Lin, traced

__all__ = [
    "FUNCTION_CLASSES",
    "Grad",
    "Lin",
    "METRICS",
    "Method",
    "MethodSpec",
    "Params",
    "Step",
    "Trajectory",
    "forced",
    "blend_methods",
    "load_method_file",
    "get_method",
    "get_spec",
    "list_methods",
    "register_method",
    "traced",
]
