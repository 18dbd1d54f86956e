"""The three arithmetics a method's coefficients come in: exact (SymPy), mpmath, float64.

A schedule is written once, with the operations of an :class:`Arith` (``num`` to bring a
parameter or literal in, ``sqrt``), and evaluates in whichever arithmetic the caller asks for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

__all__ = ["ARITHMETICS", "Arith", "arith"]

#: accepted names of ``arithmetic=``.
ARITHMETICS: tuple[str, ...] = ("float", "mp", "exact")


@dataclass(frozen=True)
class Arith:
    """Number operations of one arithmetic. ``dps`` is the mpmath precision (``mp`` only)."""

    name: str
    dps: int | None = None

    def num(self, value: Any) -> Any:
        """``value`` (int, float, Fraction, SymPy or mpmath number) in this arithmetic.

        Floats become exact rationals in ``exact`` (1.0 -> 1, 0.1 -> 3602879701896397/2^55),
        so an exact schedule is the exact value of the float parameters it was given.
        """
        if self.name == "float":
            return float(value)
        if self.name == "mp":
            return mpmath.mpf(value) if not isinstance(value, Fraction) else mpmath.mpf(
                value.numerator) / value.denominator
        if isinstance(value, sympy.Basic):
            return value
        if isinstance(value, mpmath.mpf):
            return sympy.Float(value, mpmath.mp.dps)
        if isinstance(value, float):
            return sympy.Rational(*Fraction(value).as_integer_ratio())
        if isinstance(value, Fraction):
            return sympy.Rational(value.numerator, value.denominator)
        return sympy.Rational(value) if isinstance(value, int) else sympy.nsimplify(value)

    def sqrt(self, value: Any) -> Any:
        """The square root in this arithmetic."""
        if self.name == "float":
            return math.sqrt(value)
        if self.name == "mp":
            return mpmath.sqrt(value)
        return sympy.sqrt(value)

    def zero(self) -> Any:
        return self.num(0)

    def one(self) -> Any:
        return self.num(1)


def arith(arithmetic: str = "float", dps: int | None = None) -> Arith:
    """The :class:`Arith` named ``arithmetic`` ("float", "mp" with ``dps`` digits, "exact")."""
    if arithmetic not in ARITHMETICS:
        raise OptnetError(
            f"unknown arithmetic {arithmetic!r}; choose from {', '.join(ARITHMETICS)}"
        )
    if arithmetic == "mp":
        dps = check_int(30 if dps is None else dps, "dps (digits)", 5, 100_000)
    elif dps is not None:
        raise OptnetError(f"dps= applies to arithmetic='mp' only, not {arithmetic!r}")
    return Arith(arithmetic, dps)
