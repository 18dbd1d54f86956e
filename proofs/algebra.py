"""Symbols and definitions shared by the proofs: a generic activation Φ, its antiderivative Ψ,
the objective (8) and its gradient, computed from definitions.

Φ and Ψ are undefined SymPy functions; the only thing assumed about them is the hypothesis of
Lemma 1, Ψ' = Φ, applied by :func:`use_psi_prime` to every derivative of Ψ that SymPy's chain
rule produces. Vectors and matrices are SymPy matrices of plain symbols, so every identity is
checked entrywise as a polynomial identity in those symbols (with Φ(·) terms kept opaque).
"""

from __future__ import annotations

import sympy as sp

#: The activation Φ and an antiderivative Ψ (Ψ' = Φ is the only hypothesis used).
Phi = sp.Function("Phi")
Psi = sp.Function("Psi")
#: The generic layer operator T of Sec. 6 (no property assumed).
T = sp.Function("T")


def symmetric_matrix(n: int, name: str = "u") -> sp.Matrix:
    """A fully symbolic symmetric n x n matrix: entry (i, j) is the symbol u_{min,max}."""
    syms = {(i, j): sp.Symbol(f"{name}_{i + 1}{j + 1}") for i in range(n) for j in range(i, n)}
    return sp.Matrix(n, n, lambda i, j: syms[(min(i, j), max(i, j))])


def general_matrix(rows: int, cols: int, name: str) -> sp.Matrix:
    """A fully symbolic rows x cols matrix with independent entries name_{ij}."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}"))


def vector(name: str, n: int) -> sp.Matrix:
    """A symbolic column vector (name_1, ..., name_n)."""
    return sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"{name}_{i + 1}"))


def elementwise(fn: sp.FunctionClass, v: sp.Matrix) -> sp.Matrix:
    """Apply a scalar function to every entry of ``v``, as Φ acts in (7)."""
    return v.applyfunc(lambda entry: fn(sp.expand(entry)))


def canonical(m: sp.Matrix) -> sp.Matrix:
    """Expand every entry, including the arguments of Φ and T, so equal terms match."""
    return m.applyfunc(sp.expand)


def objective(U: sp.Matrix, z: sp.Matrix) -> sp.Expr:
    """f(z) = ||z||^2/2 - sum_i Psi(U_i^T z), eq. (8), with U_i the i-th column of U."""
    n = U.shape[1]
    quad = sum((entry**2 for entry in z), sp.Integer(0)) / 2
    return quad - sum((Psi(sp.expand((U[:, i].T * z)[0])) for i in range(n)), sp.Integer(0))


def use_psi_prime(expr: sp.Expr) -> sp.Expr:
    """Replace every Psi'(a) produced by the chain rule with Phi(a) (the hypothesis Psi' = Phi)."""

    def is_psi_prime(e: sp.Basic) -> bool:
        return isinstance(e, sp.Derivative) and e.expr.func == Psi and len(e.variables) == 1

    with_phi = expr.replace(is_psi_prime, lambda e: Phi(e.expr.args[0]))
    # The chain rule wraps Psi'(xi) in Subs(..., xi, a): evaluate those substitutions now.
    return with_phi.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit(deep=False))


def gradient(f: sp.Expr, z: sp.Matrix) -> sp.Matrix:
    """The gradient of f with respect to the vector z, with Psi' = Phi applied."""
    return sp.Matrix([use_psi_prime(sp.diff(f, zj)) for zj in z])


def gd_gradient(U: sp.Matrix, point: sp.Matrix) -> sp.Matrix:
    """grad f at ``point`` for f of (8), computed by differentiating (8) (not by using (9))."""
    z = sp.Matrix(len(point), 1, lambda i, _: sp.Dummy(f"z{i}"))
    grad = gradient(objective(U, z), z)
    return grad.subs(dict(zip(z, point, strict=True)), simultaneous=True)
