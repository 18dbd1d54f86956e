"""Table 3, AGD row: what (18) with beta = 0, alpha = 1 recovers of DenseNet's layer (19).

(18): x_{k+1} = sum_j alpha^j_{k+1} T(x_j) + sum_j beta^j_{k+1} x_j;  (19): z_{k+1} = T([z_0..z_k]).

What holds, exactly:
1. A linear map on a concatenation is the sum of its column blocks: W [z_0; ...; z_k] =
   sum_j W_j z_j (W = [W_0 | ... | W_k]).
2. For DenseNet's own composite T = Conv o ReLU o BN = W o Phi, with Phi acting channel by
   channel (so it commutes with concatenation), T([z_0..z_k]) = sum_j W_j Phi(z_j): (18) with
   alpha = 1, beta = 0 and one operator T_j = W_j o Phi per input IS (19).
What does not hold:
3. With T = Phi o W (the T(x) = Phi(W x) of Sec. 6), only the pre-activations agree:
   sum_j Phi(W_j z_j) != Phi(sum_j W_j z_j) (exact counterexample with Phi = ReLU).
4. With one shared T for every j, as (18) is printed, equality with a DenseNet layer forces all
   blocks W_j to be equal: a DenseNet with tied weights, not DenseNet.
Symbolic blocks (2 x 2), generic Phi, k = 0..2.

Run alone: ``python -m optnet_proofs.table3_densenet [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, canonical, elementwise, general_matrix, vector
from .framework import Proof, ProofResult, main_for

NAME = "table3_densenet"
TITLE = "Table 3, AGD row: (18) with beta = 0, alpha = 1 and DenseNet (19)"


@dataclass(frozen=True)
class DenseNetClaim:
    """The setting of (18) claimed to give (19): alpha^j_{k+1} = alpha, beta^j_{k+1} = beta."""

    alpha: sp.Expr = sp.Integer(1)
    beta: sp.Expr = sp.Integer(0)


CLAIM = DenseNetClaim()
MAX_K = 2
DIM = 2


def _blocks(k: int) -> tuple[list[sp.Matrix], list[sp.Matrix], sp.Matrix, sp.Matrix]:
    zs = [vector(f"z{j}", DIM) for j in range(k + 1)]
    Ws = [general_matrix(DIM, DIM, f"w{j}") for j in range(k + 1)]
    W = sp.Matrix.hstack(*Ws)
    z = sp.Matrix.vstack(*zs)
    return zs, Ws, W, z


def prove(claim: DenseNetClaim = CLAIM, max_k: int = MAX_K) -> ProofResult:
    """Prove what Table 3's AGD row recovers; see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"(18) with alpha = {claim.alpha}, beta = {claim.beta} and T_j = W_j o Phi (DenseNet's "
        "BN-ReLU-Conv, Phi channel-wise) equals (19), T([z_0..z_k]) with T = W o Phi, "
        "W = [W_0|...|W_k]; with T = Phi o W only the pre-activations agree.",
    )
    for k in range(max_k + 1):
        zs, Ws, W, z = _blocks(k)
        proof.check_zero(
            f"k = {k}: W [z_0; ...; z_k] = sum_j W_j z_j (column blocks)",
            canonical(
                W * z - sum((Wj * zj for Wj, zj in zip(Ws, zs, strict=True)), sp.zeros(DIM, 1))
            ),
        )
        dense = W * elementwise(Phi, z)  # (19) with T = W o Phi
        eq18 = sum(
            (
                claim.alpha * Wj * elementwise(Phi, zj) + claim.beta * zj
                for Wj, zj in zip(Ws, zs, strict=True)
            ),
            sp.zeros(DIM, 1),
        )
        proof.check_zero(
            f"k = {k}: (18) with the claimed alpha, beta and T_j = W_j o Phi equals (19) with "
            "T = W o Phi (Phi acts entrywise, so Phi([z_0; ...; z_k]) = [Phi(z_0); ...; Phi(z_k)])",
            canonical(eq18 - dense),
        )
    _post_activation(proof)
    _shared_T(proof)
    return proof.finish()


def _post_activation(proof: Proof) -> None:
    """T = Phi o W: the sum of activations is not the activation of the sum."""
    zs, Ws, W, z = _blocks(1)
    eq18 = sum((elementwise(Phi, Wj * zj) for Wj, zj in zip(Ws, zs, strict=True)), sp.zeros(DIM, 1))
    dense = elementwise(Phi, W * z)
    relu = sp.Lambda(sp.Symbol("t"), sp.Max(0, sp.Symbol("t")))
    # Exact witness: W_0 = W_1 = I, z_0 = (1, 1), z_1 = (-1, -1).
    witness = {s: 0 for s in W.free_symbols}
    witness.update({Ws[0][0, 0]: 1, Ws[0][1, 1]: 1, Ws[1][0, 0]: 1, Ws[1][1, 1]: 1})
    witness.update({zs[0][0]: 1, zs[0][1]: 1, zs[1][0]: -1, zs[1][1]: -1})
    lhs = eq18.subs(witness).replace(Phi, relu)
    rhs = dense.subs(witness).replace(Phi, relu)
    if lhs != rhs:
        proof.erratum(
            "Table 3, AGD row, and Sec. 6 ('(18) recovers the structure of DenseNet by setting "
            "beta = 0'), read with T(x) = Phi(W x)",
            "x_(k+1) = sum_j Phi(W_j z_j)",
            "z_(k+1) = Phi(sum_j W_j z_j)",
            "with T = Phi o W, (18) sums activations while (19) activates the sum; they agree only "
            f"before the activation. ReLU witness (W_j = I, z_0 = (1,1), z_1 = (-1,-1)): "
            f"{list(lhs)} vs {list(rhs)}. Exact only for T = W o Phi (DenseNet's BN-ReLU-Conv) "
            "with per-input weights W_j.",
        )
    proof.check(
        "with T = Phi o W the claim is false (exact ReLU counterexample), so only the "
        "pre-activation identity W [z] = sum_j W_j z_j is asserted for this reading",
        lhs != rhs,
        f"sum_j ReLU(W_j z_j) = {list(lhs)} but ReLU(sum_j W_j z_j) = {list(rhs)}",
    )


def _shared_T(proof: Proof) -> None:
    """One T for all j (as (18) is printed): DenseNet's blocks must then all be equal."""
    zs, Ws, W, z = _blocks(1)
    V = general_matrix(DIM, DIM, "v")
    tied = sum((V * elementwise(Phi, zj) for zj in zs), sp.zeros(DIM, 1))
    gap = canonical(W * elementwise(Phi, z) - tied)
    phis = sorted(gap.atoms(Phi), key=sp.default_sort_key)
    equations = [c for entry in gap for c in sp.Poly(entry, *phis).coeffs()]
    solution = sp.solve(equations, list(W.free_symbols), dict=True)
    forced = bool(solution) and all(
        sp.expand(Wj.subs(solution[0]) - V) == sp.zeros(DIM, DIM) for Wj in Ws
    )
    proof.check(
        "with one shared T = V o Phi for every j, equality with (19) for all inputs forces "
        "W_0 = W_1 = V: (18) as printed (T without index j) gives DenseNet with tied blocks only",
        forced,
    )
    if forced:
        proof.erratum(
            "(18) / Table 3, AGD row",
            "x_(k+1) = sum_j alpha^j_(k+1) T(x_j)  (one T for all j)",
            "x_(k+1) = sum_j T_j(x_j),  T_j = W_j o Phi  (one operator per input)",
            "DenseNet's layer applies a different block W_j to each z_j; a shared T recovers only "
            "the tied-weight special case (solving the coefficient equations gives W_j = V).",
        )


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
