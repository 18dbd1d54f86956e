"""Exact rational matrices on Python integers, and an exact positive-definiteness test.

A certificate is only as good as the arithmetic that checks it. Every number the checks read
(the method's float64 coefficients, the solver's multipliers, mu/L) is a rational number, and
:class:`RatMatrix` keeps a matrix of them exactly, as an integer matrix over one common
denominator, so that sums and products are exact and cost integer operations only.
:func:`is_positive_definite` decides S > 0 for such an S exactly (a fixed-point LDL^T whose
residual is computed exactly).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

__all__ = ["RatMatrix", "is_positive_definite", "to_fraction"]

#: bits of the shifted matrix and fractional bits of L in :func:`is_positive_definite`.
_BITS = 200
_FRAC = 160


def to_fraction(value: Any) -> Fraction:
    """``value`` (int, float, Fraction or mpmath mpf) as the exact rational it stands for."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, mpmath.mpf):
        man, exp = value.man_exp
        return Fraction(int(man)) * (Fraction(2) ** int(exp))
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return Fraction(number)


def _lcm(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


class RatMatrix:
    """A rational matrix ``num / den`` (object array of Python ints, one positive int)."""

    __slots__ = ("den", "num")

    def __init__(self, num: np.ndarray, den: int = 1) -> None:
        self.num = num
        self.den = int(den)

    @classmethod
    def of(cls, values: Any) -> RatMatrix:
        """The exact matrix of ``values`` (numbers as :func:`to_fraction` reads them)."""
        arr = np.asarray(values, dtype=object)
        fracs = [to_fraction(v) for v in arr.flat]
        den = _lcm(f.denominator for f in fracs)
        num = np.array([f.numerator * (den // f.denominator) for f in fracs], dtype=object)
        return cls(num.reshape(arr.shape), den)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.num.shape)

    @property
    def T(self) -> RatMatrix:
        return RatMatrix(self.num.T, self.den)

    def __matmul__(self, other: RatMatrix) -> RatMatrix:
        return RatMatrix(np.dot(self.num, other.num), self.den * other.den)

    def __add__(self, other: RatMatrix) -> RatMatrix:
        den = self.den * other.den // math.gcd(self.den, other.den)
        return RatMatrix(
            self.num * (den // self.den) + other.num * (den // other.den), den
        )

    def __sub__(self, other: RatMatrix) -> RatMatrix:
        return self + other.scale(Fraction(-1))

    @staticmethod
    def combine(terms: list[tuple[Fraction, RatMatrix]]) -> RatMatrix:
        """sum c_t M_t exactly, over one common denominator (shapes must broadcast)."""
        dens = [to_fraction(c).denominator * m.den for c, m in terms]
        den = _lcm(dens)
        num: Any = 0
        for (c, m), dm in zip(terms, dens, strict=True):
            cf = to_fraction(c)
            num = num + m.num * (cf.numerator * (den // dm))
        return RatMatrix(np.asarray(num, dtype=object), den)

    def scale(self, factor: Fraction | int) -> RatMatrix:
        f = to_fraction(factor)
        return RatMatrix(self.num * f.numerator, self.den * f.denominator)

    def sym(self) -> RatMatrix:
        """(M + M^T) / 2."""
        return RatMatrix(self.num + self.num.T, 2 * self.den)

    def entry(self, *index: int) -> Fraction:
        return Fraction(int(self.num[index]), self.den)

    def fractions(self) -> np.ndarray:
        """Object array of :class:`~fractions.Fraction`."""
        out = np.empty(self.shape, dtype=object)
        for idx, v in np.ndenumerate(self.num):
            out[idx] = Fraction(int(v), self.den)
        return out

    def floats(self) -> np.ndarray:
        """Nearest float64 values (each rounded once)."""
        flat = [int(v) / self.den if abs(int(v)) < 2**1000 and self.den < 2**1000
                else float(Fraction(int(v), self.den)) for v in self.num.flat]
        return np.array(flat, dtype=float).reshape(self.shape)


def is_positive_definite(matrix: RatMatrix) -> tuple[bool, float]:
    """Whether the exact symmetric ``matrix`` S is positive definite, and its smallest LDL^T
    pivot relative to max|S| (for diagnostics).

    Exact integer arithmetic throughout. S's numerators are shifted to about 2^200
    (S = 2^sh (H + R), 0 <= R < 1 entrywise; R = 0 for a left shift), H - delta I is
    factorised as L D L^T in fixed point (L with 160 fractional bits), and the residual
    E = H - delta I - L D L^T is computed exactly. With every pivot of D positive,
    L D L^T >= 0, so H >= delta I + E and S >= 2^sh (delta - ||E||_F - n) I: positive
    definite when that is positive.
    delta = 2^-100 max|H|.
    """
    n = matrix.shape[0]
    if matrix.shape != (n, n) or not np.array_equal(matrix.num, matrix.num.T):
        raise ValueError("is_positive_definite needs a square symmetric matrix")
    top = max(abs(int(v)) for v in matrix.num.flat)
    if top == 0:
        return False, 0.0
    sh = top.bit_length() - _BITS
    H = [[int(matrix.num[i, j]) >> sh if sh >= 0 else int(matrix.num[i, j]) << -sh
          for j in range(n)] for i in range(n)]
    delta = 1 << (_BITS - 100)
    two_f = 2 * _FRAC
    low = [[0] * n for _ in range(n)]
    d = [0] * n
    for j in range(n):
        acc = ((H[j][j] - delta) << two_f) - sum(low[j][k] * low[j][k] * d[k] for k in range(j))
        d[j] = acc >> two_f
        if d[j] <= 0:
            return False, float(d[j]) / float(1 << _BITS)
        low[j][j] = 1 << _FRAC
        unit = d[j] << _FRAC
        for i in range(j + 1, n):
            num = (H[i][j] << two_f) - sum(low[i][k] * low[j][k] * d[k] for k in range(j))
            low[i][j] = num // unit
    L = np.array(low, dtype=object)
    ldl = np.dot(L * np.array(d, dtype=object)[None, :], L.T)
    E = np.array([[(H[i][j] - (delta if i == j else 0)) << two_f for j in range(n)]
                  for i in range(n)], dtype=object) - ldl
    err2 = int(np.sum(E * E))
    margin = delta - n
    ok = margin > 0 and err2 < (margin * margin) << (2 * two_f)
    return bool(ok), min(d) / float(1 << _BITS)
