"""Any method of the linear form, run on f of (8), is its generated network (Lemma 1, generalised).

A method is xi_{j+1} = A xi_j + B u_j, y_j = C xi_j, u_j = grad f(y_j) (blockwise on m points of
R^n, :mod:`optnet_theory.methods`). Its network is xi'_{j+1} = A xi'_j + B (y'_j - Phi(W y'_j)),
y'_j = C xi'_j. Claim: if xi_j = U xi'_j slot by slot (z = U x), then xi_{j+1} = U xi'_{j+1}.
With xi_0 = initial (x) x_0 and z_0 = U x_0 the hypothesis holds at j = 0, so by induction the
method's iterates are U times the network's states at every step, whatever A, B, C are (they may
change with j). The inductive step is checked with fully generic symbols: A (m x m), B, C
(length m), symmetric U (n x n) and Phi, for m = 1..3, n = 1..2, the gradient computed by
differentiating (8) (not taken from (9)). Then every registered method's exact coefficients are
substituted (sub-steps 0..3, L = 1, mu = 1/10 where needed, horizon 4), and its network is checked
step by step the same way.

Run alone: ``python -m optnet_proofs.methods [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, canonical, elementwise, gd_gradient, symmetric_matrix, vector
from .framework import Proof, ProofResult, main_for

NAME = "methods"
TITLE = "every method of the form = its generated network"


@dataclass(frozen=True)
class MethodsClaim:
    """The claimed network: xi' = A xi + b_scale B (y - phi_scale Phi(W y)), y = C xi."""

    b_scale: sp.Expr = sp.Integer(1)
    phi_scale: sp.Expr = sp.Integer(1)


CLAIM = MethodsClaim()
SIZES = ((1, 1), (2, 1), (3, 1), (2, 2))
SUB_STEPS = 4


def _states(m: int, n: int, name: str) -> list[sp.Matrix]:
    return [vector(f"{name}{i}", n) for i in range(m)]


def _step_holds(
    claim: MethodsClaim, A: sp.Matrix, B: list, C: list, U: sp.Matrix, x: list[sp.Matrix]
) -> sp.Matrix:
    """U (network step from x) - (method step from z = U x); zero when the claim holds."""
    m = len(x)
    z = [U * xi for xi in x]
    y_z = sum((C[i] * z[i] for i in range(m)), sp.zeros(*z[0].shape))
    u = gd_gradient(U, y_z)
    z_next = [sum((A[r, i] * z[i] for i in range(m)), B[r] * u) for r in range(m)]
    y_x = sum((C[i] * x[i] for i in range(m)), sp.zeros(*x[0].shape))
    W = U * U
    step = y_x - claim.phi_scale * elementwise(Phi, W * y_x)
    x_next = [
        sum((A[r, i] * x[i] for i in range(m)), claim.b_scale * B[r] * step) for r in range(m)
    ]
    return sp.Matrix.vstack(*[canonical(U * x_next[r] - z_next[r]) for r in range(m)])


def prove(
    claim: MethodsClaim = CLAIM,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    methods: tuple[str, ...] | None = None,
) -> ProofResult:
    """The inductive step for generic coefficients, then for every registered method."""
    from optnet_theory.methods import get_method, get_spec, list_methods

    proof = Proof(
        NAME,
        TITLE,
        "For any A, B, C: xi_j = U xi'_j implies xi_(j+1) = U xi'_(j+1), where xi follows the "
        "method on f of (8) and xi' its network xi' <- A xi' + B (y' - Phi(W y')), y' = C xi'.",
    )
    proof.note(
        "Base: xi_0 = initial (x) z_0 = initial (x) U x_0 = U xi'_0. Step: below. Hence the "
        "method's iterates are U times the network's states at every sub-step."
    )
    for m, n in sizes:
        A = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"a_{i + 1}{j + 1}"))
        B = [sp.Symbol(f"b_{i + 1}") for i in range(m)]
        C = [sp.Symbol(f"c_{i + 1}") for i in range(m)]
        U = symmetric_matrix(n)
        proof.check_zero(
            f"m = {m}, n = {n}: generic A, B, C: U times the network's step equals the method's",
            _step_holds(claim, A, B, C, U, _states(m, n, "x")),
        )
    for name in methods if methods is not None else tuple(list_methods()):
        spec = get_spec(name)
        kw = {"mu": sp.Rational(1, 10)} if spec.function_class == "smooth-strongly-convex" else {}
        method = get_method(name, N=SUB_STEPS if spec.needs_horizon else None,
                            **{k: float(v) for k, v in kw.items()})
        steps = method.coefficients(SUB_STEPS, arithmetic="exact")
        U = symmetric_matrix(1)
        x = _states(spec.state_size, 1, "x")
        ok = True
        for j in range(SUB_STEPS * spec.substeps):
            st = steps[j]
            diff = _step_holds(claim, sp.Matrix(st.A), list(st.B), list(st.C), U, x)
            ok = ok and all(sp.simplify(e) == 0 for e in diff)
        proof.check(
            f"{name}: its exact coefficients at sub-steps 0..{SUB_STEPS * spec.substeps - 1} "
            "satisfy the step (n = 1)",
            ok,
        )
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
