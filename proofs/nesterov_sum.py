"""(13) from the summed form (4) of AGD:
x_{k+1} = sum_j h_{k+1,j} Phi(W x_j) + x_k - sum_j h_{k+1,j} x_j, j = 0..k.

z = U x (here the iterate of (4) is y, so y_j = U x_j), run (4) on f of (8) with symbolic
coefficients h_{k+1,j}, recover x = U^-1 y (checked as U x_{k+1} = y_{k+1}). Symbolic symmetric
U, n = 1..2, every k = 0..3 (the sum grows with k; each term is handled the same way).

Run alone: ``python -m optnet_proofs.nesterov_sum [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, canonical, elementwise, gd_gradient, symmetric_matrix, vector
from .framework import Equation, Proof, ProofResult, main_for

NAME = "nesterov_sum"
TITLE = "(13) from the summed AGD form (4)"

#: Placeholder for h_{k+1,j} in the claim's coefficients.
H = sp.Symbol("h")


@dataclass(frozen=True)
class NesterovSumClaim:
    """(13): x_{k+1} = sum_j phi(H) Phi(W x_j) + x_k_coef x_k + sum_j x_j_coef(H) x_j."""

    phi: sp.Expr = H
    x_k_coef: sp.Expr = sp.Integer(1)
    x_j: sp.Expr = -H


CLAIM = NesterovSumClaim()
#: Transcription of the text on Figure 1(c): "x_{k+1} combines all of T(x_1), ..., T(x_k) and
#: x_1, ..., x_k" -- the first index it names.
PRINTED_FIG1C_FIRST_INDEX = 1
DIMENSIONS = (1, 2)
MAX_K = 3


def prove(
    claim: NesterovSumClaim = CLAIM, dimensions: tuple[int, ...] = DIMENSIONS, max_k: int = MAX_K
) -> ProofResult:
    """Derive (13) from (4); see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"(4) on f of (8) with y = U x gives x_(k+1) = sum_j ({claim.phi}) Phi(W x_j) + "
        f"({claim.x_k_coef}) x_k + sum_j ({claim.x_j}) x_j, h = h_(k+1,j), j = 0..k.",
    )
    for n in dimensions:
        U = symmetric_matrix(n)
        W = U**2
        for k in range(max_k + 1):
            xs = [vector(f"x{j}", n) for j in range(k + 1)]
            hs = [sp.Symbol(f"h_{k + 1},{j}") for j in range(k + 1)]
            ys = [U * x for x in xs]
            y_next = ys[k] - sum(
                (h * gd_gradient(U, y) for h, y in zip(hs, ys, strict=True)), sp.zeros(n, 1)
            )
            x_next = claim.x_k_coef * xs[k] + sum(
                (
                    claim.phi.subs(H, h) * elementwise(Phi, W * x) + claim.x_j.subs(H, h) * x
                    for h, x in zip(hs, xs, strict=True)
                ),
                sp.zeros(n, 1),
            )
            proof.check_zero(
                f"n = {n}, k = {k}: U times the claimed x_(k+1) equals y_(k+1) of (4)",
                canonical(U * x_next - y_next),
                math=Equation(sp.Symbol(f"x_{k + 1}"), x_next) if n == 1 and k == 1 else None,
            )
    _first_index(proof, claim)
    proof.note(
        "Each term h_(k+1,j) grad f(y_j) = h_(k+1,j) (U x_j - U Phi(W x_j)) maps back under "
        "U^-1 to h_(k+1,j) (x_j - Phi(W x_j)) on its own, so the identity holds term by term "
        "for every k."
    )
    return proof.finish()


def _first_index(proof: Proof, claim: NesterovSumClaim) -> None:
    """Which x_j feed x_{k+1} in (13)? Read off the derived layer at k = 1, n = 1."""
    u = sp.Symbol("u_11")
    x0, x1 = sp.symbols("x_0 x_1")
    h0, h1 = sp.Symbol("h_2,0"), sp.Symbol("h_2,1")
    layer = sp.expand(
        claim.x_k_coef * x1
        + sum(
            (claim.phi.subs(H, h) * Phi(u**2 * x) + claim.x_j.subs(H, h) * x)
            for h, x in ((h0, x0), (h1, x1))
        )
    )
    used = [j for j, x in enumerate((x0, x1)) if layer.coeff(Phi(u**2 * x)) != 0]
    first = min(used, default=None)
    if first is not None and first != PRINTED_FIG1C_FIRST_INDEX:
        proof.erratum(
            "Sec. 6, text on Figure 1(c)",
            f"x_(k+1) combines T(x_{PRINTED_FIG1C_FIRST_INDEX}), ..., T(x_k) and "
            f"x_{PRINTED_FIG1C_FIRST_INDEX}, ..., x_k",
            f"x_(k+1) combines T(x_{first}), ..., T(x_k) and x_{first}, ..., x_k",
            f"(13) and (18) sum over j = 0..k; at k = 1 the layer is {layer}, which uses x_0.",
        )


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
