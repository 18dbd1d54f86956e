"""(12) from Nesterov's AGD (3): x_{k+1} = Phi(W (x_k + beta_k (x_k - x_{k-1}))),
with beta_k = theta_k (1 - theta_{k-1}) / theta_{k-1} written through the thetas of (3).

Sec. 4's three steps: z = U x, run (3) on f of (8) (gradient differentiated from (8)), recover
x = U^-1 z (checked as U x_{k+1} = z_{k+1}; U is invertible). Symbolic symmetric U, n = 1..3,
symbolic theta_k and theta_{k-1}.

Run alone: ``python -m optnet_proofs.nesterov [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, elementwise, gd_gradient, symmetric_matrix, vector
from .framework import Equation, Proof, ProofResult, main_for

NAME = "nesterov"
TITLE = "(12) from Nesterov's AGD (3)"

theta_k, theta_km1 = sp.symbols("theta_k theta_km1", positive=True)
#: The momentum coefficient of (3), through the thetas.
BETA_K = theta_k * (1 - theta_km1) / theta_km1


@dataclass(frozen=True)
class NesterovClaim:
    """The claimed layer (12): x_{k+1} = Phi(W (inner_x_k * x_k + inner_x_km1 * x_{k-1}))."""

    inner_x_k: sp.Expr = 1 + BETA_K
    inner_x_km1: sp.Expr = -BETA_K


CLAIM = NesterovClaim()
DIMENSIONS = (1, 2, 3)


def _normal(m: sp.Matrix) -> sp.Matrix:
    """Expand, and bring the arguments of Phi (rational in theta) to one canonical fraction."""
    return m.applyfunc(lambda e: sp.expand(e).replace(Phi, lambda a: Phi(sp.cancel(a))))


def prove(claim: NesterovClaim = CLAIM, dimensions: tuple[int, ...] = DIMENSIONS) -> ProofResult:
    """Derive (12) from (3); see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"AGD (3) on f of (8) with z = U x gives x_(k+1) = Phi(W (({claim.inner_x_k}) x_k "
        f"+ ({claim.inner_x_km1}) x_(k-1))), W = U^2.",
    )
    proof.show("beta_k of (3), written through theta:", BETA_K)
    for n in dimensions:
        U = symmetric_matrix(n)
        x_k, x_km1 = vector("x", n), vector("xprev", n)
        z_k, z_km1 = U * x_k, U * x_km1
        y_k = z_k + BETA_K * (z_k - z_km1)
        z_next = _normal(y_k - gd_gradient(U, y_k))
        proof.check_zero(
            f"n = {n}: (3) gives z_(k+1) = y_k - grad f(y_k) = U Phi(U y_k)",
            _normal(z_next - U * elementwise(Phi, U * y_k)),
        )
        W = U**2
        x_next = elementwise(Phi, W * (claim.inner_x_k * x_k + claim.inner_x_km1 * x_km1))
        proof.check_zero(
            f"n = {n}: U times the claimed x_(k+1) equals z_(k+1); with U y_k = U^2 (x_k + "
            "beta_k (x_k - x_(k-1))) this is (12)",
            _normal(U * x_next - z_next),
            math=Equation(sp.Symbol("x_(k+1)"), x_next) if n == 1 else None,
        )
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
