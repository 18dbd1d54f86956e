"""Checked worst-case certificates (PEP) and certified rates, built from method descriptions.

:func:`certify` gives the worst case of a method after N steps as an interval checked in exact
arithmetic (:mod:`.certificate`); :func:`certify_rate` a certified linear rate from a quadratic
Lyapunov function (:mod:`.rate`). No torch, no modelling layer: the SDPs are assembled here
and solved by Clarabel (or SCS).
"""

from optnet_theory.certify.certificate import (
    MAX_GAP,
    Certificate,
    certify,
    fixed_point_defect,
    resolve_condition,
)
from optnet_theory.certify.problem import INITIAL_CONDITIONS, SCALING
from optnet_theory.certify.rate import RateCertificate, certify_rate
from optnet_theory.certify.solver import SOLVER_EXTRA, require_solver

__all__ = [
    "INITIAL_CONDITIONS",
    "MAX_GAP",
    "SCALING",
    "SOLVER_EXTRA",
    "Certificate",
    "RateCertificate",
    "certify",
    "certify_rate",
    "fixed_point_defect",
    "require_solver",
    "resolve_condition",
]
