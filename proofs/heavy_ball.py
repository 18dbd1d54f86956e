"""(11) from the heavy-ball iteration (2): x_{k+1} = Phi(W x_k) + beta (x_k - x_{k-1}).

The three steps of Sec. 4: substitute z = U x, run (2) on f of (8) (gradient computed from (8),
not taken from (9)), recover x = U^-1 z. The last step is checked as U x_{k+1} = z_{k+1}, which
is equivalent because U = sqrt(W) is invertible. Fully symbolic symmetric U, n = 1..3.

Run alone: ``python -m optnet_proofs.heavy_ball [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, canonical, elementwise, gd_gradient, symmetric_matrix, vector
from .framework import Equation, Proof, ProofResult, main_for

NAME = "heavy_ball"
TITLE = "(11) from heavy ball (2)"

beta = sp.Symbol("beta")


@dataclass(frozen=True)
class HeavyBallClaim:
    """The claimed layer (11): x_{k+1} = phi Phi(W x_k) + x_k_coef x_k + x_km1_coef x_{k-1}."""

    phi: sp.Expr = sp.Integer(1)
    x_k_coef: sp.Expr = beta
    x_km1_coef: sp.Expr = -beta


CLAIM = HeavyBallClaim()
DIMENSIONS = (1, 2, 3)


def prove(claim: HeavyBallClaim = CLAIM, dimensions: tuple[int, ...] = DIMENSIONS) -> ProofResult:
    """Derive (11) from (2) with z = U x; see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"HB (2) on f of (8) with z = U x gives x_(k+1) = {claim.phi}*Phi(W x_k) "
        f"+ ({claim.x_k_coef}) x_k + ({claim.x_km1_coef}) x_(k-1), W = U^2.",
    )
    proof.note(
        "Step 1: z_j = U x_j. Step 2: (2) reads z_(k+1) = z_k - grad f(z_k) + beta (z_k - "
        "z_(k-1)). Step 3: x_(k+1) = U^-1 z_(k+1), checked as U x_(k+1) = z_(k+1) (U invertible)."
    )
    for n in dimensions:
        U = symmetric_matrix(n)
        x_k, x_km1 = vector("x", n), vector("xprev", n)
        z_k, z_km1 = U * x_k, U * x_km1
        z_next = canonical(z_k - gd_gradient(U, z_k) + beta * (z_k - z_km1))
        proof.check_zero(
            f"n = {n}: (2) with (9) gives z_(k+1) = U Phi(U z_k) + beta (z_k - z_(k-1))",
            canonical(z_next - (U * elementwise(Phi, U * z_k) + beta * (z_k - z_km1))),
            math=Equation(sp.Symbol("z_(k+1)"), z_next) if n == 1 else None,
        )
        W = U**2
        x_next = (
            claim.phi * elementwise(Phi, W * x_k) + claim.x_k_coef * x_k + claim.x_km1_coef * x_km1
        )
        proof.check_zero(
            f"n = {n}: U times the claimed x_(k+1) equals z_(k+1), so x_(k+1) = U^-1 z_(k+1) "
            "is (11)",
            canonical(U * x_next - z_next),
            math=Equation(sp.Symbol("x_(k+1)"), x_next) if n == 1 else None,
        )
    proof.note(
        "Every step is linear in the vectors except Phi, which acts entrywise on U z_k = U^2 x_k; "
        "the same computation holds for every n (the explicit n only makes it checkable)."
    )
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
