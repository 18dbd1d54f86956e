"""Table 3, HB row: (16) contains (11), and (16) with beta_1 = 1, beta_2 = 0 is ResNet's block.

(16): x_{k+1} = T(x_k) + beta_1 x_k + beta_2 x_{k-1};  ResNet: x_{k+1} = T(x_k) + x_k.
T is a generic operator (a SymPy function); every identity is linear in x_k, x_{k-1} and T(x_k),
so it holds for vectors of any size, entry by entry.

Run alone: ``python -m optnet_proofs.table3_resnet [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import T
from .framework import Equation, Proof, ProofResult, main_for

NAME = "table3_resnet"
TITLE = "Table 3, HB row: (16) with beta_2 = 0 (and beta_1 = 1) is ResNet"

beta, beta_1, beta_2 = sp.symbols("beta beta_1 beta_2")
x_k, x_km1 = sp.symbols("x_k x_km1")


@dataclass(frozen=True)
class ResNetClaim:
    """The setting of (16) claimed to give ResNet's x_{k+1} = T(x_k) + x_k."""

    beta_1: sp.Expr = sp.Integer(1)
    beta_2: sp.Expr = sp.Integer(0)


CLAIM = ResNetClaim()
#: Transcription of Table 3's HB row (and Sec. 6's sentence): "beta_2 = 0 in (16)".
PRINTED_SETTING: dict[sp.Symbol, sp.Expr] = {beta_2: sp.Integer(0)}


def eq16(b1: sp.Expr, b2: sp.Expr) -> sp.Expr:
    """The right-hand side of (16)."""
    return T(x_k) + b1 * x_k + b2 * x_km1


RESNET = T(x_k) + x_k


def prove(claim: ResNetClaim = CLAIM) -> ProofResult:
    """Prove the HB row of Table 3; see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"(16) with beta_1 = {claim.beta_1}, beta_2 = {claim.beta_2} is x_(k+1) = T(x_k) + x_k.",
    )
    eq11 = T(x_k) + beta * (x_k - x_km1)  # (11) with T(x) = Phi(W x)
    proof.check_zero(
        "(11) is (16) with beta_1 = beta, beta_2 = -beta", sp.expand(eq11 - eq16(beta, -beta))
    )
    printed = eq16(beta_1, beta_2).subs(PRINTED_SETTING)
    gap = sp.expand(printed - RESNET)
    if gap != 0:
        proof.erratum(
            "Table 3, HB row (and Sec. 6: 'recovered from (16) by setting beta_2 = 0')",
            Equation(sp.Symbol("x_(k+1)"), printed),
            Equation(sp.Symbol("x_(k+1)"), RESNET),
            f"beta_2 = 0 alone leaves {gap} beyond ResNet's block; ResNet also needs beta_1 = 1.",
        )
    proof.check_equal(
        "(16) with the claimed setting equals ResNet's block",
        eq16(claim.beta_1, claim.beta_2),
        RESNET,
    )
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
