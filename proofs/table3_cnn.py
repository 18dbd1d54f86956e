"""Table 3, GD row: a CNN layer is (7) with W x -> convolution, and when Lemma 1 applies to it.

A 2-D convolution (cross-correlation with zero padding, as in deep-learning libraries) of an
image with a symbolic 3 x 3 kernel is a linear map: its matrix M is read off from the definition
and conv(x) = M x is checked, so Phi(conv(x)) is the layer (7) with W = M. Lemma 1 needs W
symmetric (W = U^2 with U symmetric); M - M^T = 0 is solved for the kernel, giving the exact
condition: the kernel must be point-symmetric, k[a, b] = k[-a, -b]. A general CNN is therefore
the relaxation of Sec. 6 ("Relax Phi and W"), not an instance of Lemma 1.

Run alone: ``python -m optnet_proofs.table3_cnn [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, elementwise
from .framework import Proof, ProofResult, main_for

NAME = "table3_cnn"
TITLE = "Table 3, GD row: a convolution layer is (7); Lemma 1 needs a point-symmetric kernel"

OFFSETS = (-1, 0, 1)
KERNEL = {(a, b): sp.Symbol(f"k_{a},{b}") for a in OFFSETS for b in OFFSETS}
SIDE = 4  # image side


@dataclass(frozen=True)
class CnnClaim:
    """The claimed condition for a symmetric convolution matrix: k[a, b] = k[sa*a, sb*b] for
    every offset, with (sa, sb) = (-1, -1) (point symmetry)."""

    sign_a: int = -1
    sign_b: int = -1


CLAIM = CnnClaim()


def _conv(image: sp.Matrix) -> sp.Matrix:
    """Zero-padded 3 x 3 cross-correlation: y[i, j] = sum_{a,b} k[a, b] x[i + a, j + b]."""
    n = image.rows

    def at(i: int, j: int) -> sp.Expr:
        return image[i, j] if 0 <= i < n and 0 <= j < n else sp.Integer(0)

    return sp.Matrix(
        n,
        n,
        lambda i, j: sum((KERNEL[a, b] * at(i + a, j + b) for a, b in KERNEL), sp.Integer(0)),
    )


def prove(claim: CnnClaim = CLAIM) -> ProofResult:
    """Prove the GD row of Table 3 in its exact form; see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        "a zero-padded 3 x 3 convolution is x -> M x, so Phi(conv x) is (7) with W = M; M is "
        f"symmetric exactly when k[a, b] = k[{claim.sign_a}*a, {claim.sign_b}*b].",
    )
    image = sp.Matrix(SIDE, SIDE, lambda i, j: sp.Symbol(f"x_{i}{j}"))
    x = image.reshape(SIDE * SIDE, 1)
    y = _conv(image).reshape(SIDE * SIDE, 1)
    M = y.jacobian(x)  # entries are kernel symbols or 0
    proof.check_zero("conv(x) = M x, M read off from the definition (a linear map)", y - M * x)
    other = sp.Matrix(SIDE, SIDE, lambda i, j: sp.Symbol(f"v_{i}{j}"))
    c = sp.Symbol("c")
    proof.check_zero(
        "linearity: conv(x + c v) = conv(x) + c conv(v)",
        (_conv(image + c * other) - _conv(image) - c * _conv(other)).applyfunc(sp.expand),
    )
    proof.check_zero(
        "so a CNN layer Phi(conv(x)) is the layer (7) with W = M",
        elementwise(Phi, y) - elementwise(Phi, M * x),
    )
    equations = {e for e in (M - M.T) if e != 0}
    solutions = sp.solve(list(equations), list(KERNEL.values()), dict=True)
    derived = solutions[0] if solutions else {}
    claimed = {
        KERNEL[a, b]: KERNEL[claim.sign_a * a, claim.sign_b * b]
        for a, b in KERNEL
        if KERNEL[a, b] != KERNEL[claim.sign_a * a, claim.sign_b * b]
    }
    same = all(
        sp.expand(lhs.subs(derived) - rhs.subs(derived)) == 0 for lhs, rhs in claimed.items()
    ) and all(sp.expand(lhs.subs(claimed) - rhs.subs(claimed)) == 0 for lhs, rhs in derived.items())
    proof.check(
        "M = M^T solved for the kernel: the solution is exactly the claimed symmetry (each "
        "condition implies the other)",
        bool(solutions) and same,
        "M = M^T  <=>  " + ", ".join(f"{k} = {v}" for k, v in derived.items()),
    )
    proof.note(
        "Lemma 1 also needs W positive definite; with a point-symmetric kernel that is a further "
        "condition on its values. A general CNN kernel gives a non-symmetric W: Table 3's GD row "
        "is the relaxation 'W x -> convolution' of Sec. 6, not a case of Lemma 1."
    )
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
