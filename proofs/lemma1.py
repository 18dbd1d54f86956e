"""Lemma 1 with (8)-(10): one gradient-descent step on f of (8) is one feedforward layer (7).

Proved from the definitions: f(z) = ||z||^2/2 - sum_i Psi(U_i^T z) with a generic activation
Phi and an antiderivative Psi (Psi' = Phi is the only hypothesis), U symmetric.

* For every n at once, with SymPy's indexed sums: d/dz_j Psi(U_i^T z) = u_{ji} Phi(U_i^T z).
* Again for fully symbolic symmetric n x n matrices, n = 1..4: grad f(z) = z - U Phi(U z) (9),
  the GD step (1) gives z_{k+1} = U Phi(U z_k) (10), and with z = U x,
  U x_{k+1} = z_{k+1} for x_{k+1} = Phi(W x_k), W = U^2 (U is invertible, so this is (7)).

Run alone: ``python -m optnet_proofs.lemma1 [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import (
    Phi,
    Psi,
    canonical,
    elementwise,
    gd_gradient,
    general_matrix,
    symmetric_matrix,
    use_psi_prime,
    vector,
)
from .framework import Equation, Proof, ProofResult, is_zero, main_for

NAME = "lemma1"
TITLE = "Lemma 1 and (8)-(10): GD on f of (8) is the feedforward layer (7)"


@dataclass(frozen=True)
class Lemma1Claim:
    """The claimed gradient (9), grad f(z) = a z + b U Phi(U z), and layer x' = Phi(U^p x)."""

    grad_z: sp.Expr = sp.Integer(1)
    grad_phi: sp.Expr = sp.Integer(-1)
    layer_power: int = 2


CLAIM = Lemma1Claim()

#: Transcription of Proof 1: "grad_z sum_i Psi(U_i^T z) = U Phi(U^T z) = U Phi(U x)", where
#: z = U x. Encoded as: the argument of Phi in the last member is U^(this power) x.
PRINTED_PROOF1_LAST_ARGUMENT_POWER = 1

#: Transcription of the captions of the paper's tables, and of the last sentence of Sec. 3:
#: "We list the objective function f(x) for the commonly used activation functions in Table 3."
PRINTED_TABLE_CAPTIONS = {
    "Table 1": "The optimization objectives for the common activation functions.",
    "Table 2": "MSE comparisons of different optimization algorithm inspired neural network "
    "structures.",
    "Table 3": "Optimization algorithms and their inspired network structures.",
}
PRINTED_SECTION3_OBJECTIVES_TABLE = "Table 3"

DIMENSIONS = (1, 2, 3, 4)


def _all_n(proof: Proof, claim: Lemma1Claim) -> None:
    """The coordinate-wise chain rule with a symbolic dimension n (indexed sums)."""
    n = sp.Symbol("n", integer=True, positive=True)
    i, j, k = sp.symbols("i j k", integer=True, positive=True)
    u, z = sp.IndexedBase("u"), sp.IndexedBase("z")

    def inside(expr: sp.Expr) -> sp.Expr:
        # d/dz_j of a sum over k = 1..n gives Piecewise((., j <= n), (0, True)); 1 <= j <= n.
        def pick(*branches: tuple[sp.Expr, sp.Basic]) -> sp.Expr:
            for value, cond in branches:
                if cond == sp.Le(j, n):
                    return value
            raise AssertionError(f"unexpected case split {branches}")

        return expr.replace(sp.Piecewise, pick)

    s_i = sp.Sum(u[k, i] * z[k], (k, 1, n))  # U_i^T z, with U_i the i-th column
    proof.note(
        "General n. Write s_i = U_i^T z = sum_k u_{ki} z_k. The i-th term of (8) depends on z only "
        "through the scalar s_i, so the chain rule acts coordinate by coordinate:"
    )
    d_term = inside(use_psi_prime(sp.diff(Psi(s_i), z[j]).doit()))
    proof.check(
        "d/dz_j Psi(U_i^T z) = u_{ji} Phi(U_i^T z) for every 1 <= j <= n (symbolic n)",
        sp.expand(d_term - u[j, i] * Phi(s_i)) == 0,
        Equation(sp.Derivative(Psi(s_i), z[j]), d_term),
    )
    half_norm = sp.Sum(z[k] ** 2, (k, 1, n)) / 2
    d_quad = inside(sp.diff(half_norm, z[j]).doit())
    proof.check(
        "d/dz_j ||z||^2/2 = z_j (symbolic n)",
        sp.expand(d_quad - z[j]) == 0,
        Equation(sp.Derivative(half_norm, z[j]), d_quad),
    )
    derived_j = z[j] - sp.Sum(u[j, i] * Phi(s_i), (i, 1, n))
    f = half_norm - sp.Sum(Psi(s_i), (i, 1, n))  # (8) with a symbolic n
    d_f = inside(use_psi_prime(sp.diff(f, z[j]).doit()))
    proof.check(
        "the whole of (8) at once (symbolic n): d/dz_j f = z_j - sum_i u_{ji} Phi(U_i^T z)",
        sp.simplify(sp.expand(d_f - derived_j)) == 0,
        Equation(sp.Derivative(f, z[j]), d_f),
    )
    symmetric_s = sp.Sum(u[i, k] * z[k], (k, 1, n))  # (U z)_i once u_{ki} = u_{ik}
    claimed_j = claim.grad_z * z[j] + claim.grad_phi * sp.Sum(u[j, i] * Phi(symmetric_s), (i, 1, n))
    proof.show("so (grad f)_j = z_j - sum_i u_{ji} Phi(U_i^T z) = (z - U Phi(U^T z))_j:", derived_j)
    with_symmetry = derived_j.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == u and e.indices == (k, i),
        lambda e: u[i, k],
    )
    proof.check_zero(
        "with U symmetric (u_{ki} = u_{ik}), (grad f)_j equals the j-th entry of the claim (9)",
        sp.expand(with_symmetry - claimed_j),
        simplify=lambda e: sp.simplify(sp.expand(e)),
    )
    proof.note(
        "Why the argument is the same for every n: each of the n terms Psi(U_i^T z) contributes "
        "u_{ji} Phi(U_i^T z) to coordinate j by the one-variable chain rule, and summing over i "
        "is the j-th row of a matrix-vector product. No step depends on the value of n; the "
        "explicit matrices below re-check the identity entrywise for n = 1..4."
    )


def _fixed_n(proof: Proof, claim: Lemma1Claim, n: int) -> None:
    U = symmetric_matrix(n)
    z, x = vector("z", n), vector("x", n)
    grad = gd_gradient(U, z)
    claimed = claim.grad_z * z + claim.grad_phi * U * elementwise(Phi, U * z)
    proof.check_zero(
        f"n = {n}: grad f(z) from (8) equals the claim (9), z - U Phi(U z), entrywise",
        canonical(grad - claimed),
        math=grad if n <= 2 else None,
    )
    z_next = canonical(z - grad)  # the GD step (1) with unit step size
    proof.check_zero(
        f"n = {n}: the GD step (1) gives (10), z_(k+1) = z_k - grad f(z_k) = U Phi(U z_k)",
        canonical(z_next - U * elementwise(Phi, U * z)),
    )
    at_ux = canonical(z_next.subs(dict(zip(z, U * x, strict=True)), simultaneous=True))
    W = U**claim.layer_power
    layer = elementwise(Phi, W * x)  # the claimed x_(k+1)
    proof.check_zero(
        f"n = {n}: with z_k = U x_k, U * Phi(W x_k) equals z_(k+1); U is invertible "
        f"(U = sqrt(W), W SPD), so x_(k+1) = U^-1 z_(k+1) = Phi(W x_k), W = U^{claim.layer_power}",
        canonical(U * layer - at_ux),
    )


def _symmetry_is_used(proof: Proof) -> None:
    """For a non-symmetric U the gradient is z - U Phi(U^T z): (9) needs U = U^T."""
    A, z = general_matrix(2, 2, "a"), vector("z", 2)
    grad = gd_gradient(A, z)
    proof.check_zero(
        "without symmetry (general 2 x 2 A) the gradient of (8) is z - A Phi(A^T z); "
        "(9) writes Phi(U z), which uses U^T = U",
        canonical(grad - (z - A * elementwise(Phi, A.T * z))),
    )


def _proof1_text(proof: Proof) -> None:
    """Proof 1 writes U Phi(U^T z) = U Phi(U x) with z = U x; the derivation gives U^2 x."""
    U, x = symmetric_matrix(2), vector("x", 2)
    derived = U * elementwise(Phi, canonical(U.T * (U * x)))
    printed = U * elementwise(Phi, canonical(U**PRINTED_PROOF1_LAST_ARGUMENT_POWER * x))
    # Witness with concrete numbers and Phi = identity, so "differ" is not a printing artefact.
    witness = {s: v for s, v in zip(sorted(U.free_symbols, key=str), (2, 1, 3), strict=True)}
    witness.update({x[0]: 1, x[1]: 0})
    ident = sp.Lambda(sp.Symbol("t"), sp.Symbol("t"))
    gap = (derived - printed).subs(witness).replace(Phi, ident)
    if not is_zero(gap):
        proof.erratum(
            "Proof 1 (Sec. 3), gradient of sum_i Psi(U_i^T z)",
            "U Phi(U^T z) = U Phi(U x)",
            "U Phi(U^T z) = U Phi(U^2 x) = U Phi(W x)",
            "with z = U x the argument is U^T U x = U^2 x, not U x; the lemma's last line "
            f"(Phi(U^2 x_k) = Phi(W x_k)) is right. Witness: U = {U.subs(witness).tolist()}, "
            f"x = {list(x.subs(witness))}, Phi = id gives a difference {list(gap)}.",
        )
    proof.check_zero(
        "the derivation continues with the correct argument: U^T z = U^2 x",
        canonical(U.T * (U * x) - U**2 * x),
    )


def _table_reference(proof: Proof) -> None:
    """Sec. 3 cites the table of objectives f(x); find which table holds them."""
    holding = [name for name, cap in PRINTED_TABLE_CAPTIONS.items() if "objective" in cap.lower()]
    proof.check("exactly one table's caption lists the objectives f(x)", len(holding) == 1)
    if holding and PRINTED_SECTION3_OBJECTIVES_TABLE not in holding:
        proof.erratum(
            "Sec. 3, last sentence",
            f"'We list the objective function f(x) ... in {PRINTED_SECTION3_OBJECTIVES_TABLE}'",
            f"the objectives are in {holding[0]} ('{PRINTED_TABLE_CAPTIONS[holding[0]]}')",
            f"{PRINTED_SECTION3_OBJECTIVES_TABLE} lists algorithms and network structures; the "
            f"cross-reference should be {holding[0]}.",
        )


def prove(claim: Lemma1Claim = CLAIM, dimensions: tuple[int, ...] = DIMENSIONS) -> ProofResult:
    """Prove Lemma 1, (9) and (10) for the given claim; see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        "for f(z) = ||z||^2/2 - sum_i Psi(U_i^T z) with Psi' = Phi and U symmetric, "
        f"grad f(z) = {claim.grad_z} z + ({claim.grad_phi}) U Phi(U z) (9); one GD step (1) with "
        f"z = U x is x_(k+1) = Phi(W x_k) with W = U^{claim.layer_power} (7).",
    )
    _all_n(proof, claim)
    for n in dimensions:
        _fixed_n(proof, claim, n)
    _symmetry_is_used(proof)
    _proof1_text(proof)
    _table_reference(proof)
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
