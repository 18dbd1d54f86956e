"""(14) from linearized ADMM (6), with lambda_k kept as the running sum of (z_t - y_t).

Both argmins of (6) are solved symbolically: each objective is a strictly convex quadratic
(Hessian 2I), so its unique minimizer is the zero of its gradient. The gradient of f is
differentiated from (8). Then z = U x', y = U x, lambda_k = U S_k with
S_k = sum_{t=1}^k (x'_t - x_t) (lambda_0 = 0 = U S_0, and lambda_{k+1} = lambda_k + z_{k+1} -
y_{k+1} = U S_{k+1}: an induction in k). Symbolic symmetric U, n = 1..2; plus three unrolled
iterations of (6) against (14) with n = 1.

Run alone: ``python -m optnet_proofs.admm [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import Phi, canonical, elementwise, gd_gradient, symmetric_matrix, vector
from .framework import Equation, Proof, ProofResult, main_for

NAME = "admm"
TITLE = "(14) from linearized ADMM (6)"

half = sp.Rational(1, 2)


@dataclass(frozen=True)
class AdmmClaim:
    """(14): x'_{k+1} = a1 Phi(W x'_k) + b1 x_k + c1 S_k;  x_{k+1} = a2 Phi(W x_k) + b2 x'_{k+1}
    + c2 S_k, with S_k = sum_{t=1}^k (x'_t - x_t)."""

    a1: sp.Expr = half
    b1: sp.Expr = half
    c1: sp.Expr = -half
    a2: sp.Expr = half
    b2: sp.Expr = half
    c2: sp.Expr = half


CLAIM = AdmmClaim()
DIMENSIONS = (1, 2)
UNROLLED = 3


def _inner(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return (a.T * b)[0]


def _argmin(objective: sp.Expr, var: sp.Matrix) -> sp.Matrix:
    """The minimizer of a quadratic whose Hessian is 2I (checked): the zero of its gradient."""
    if sp.hessian(objective, list(var)) != 2 * sp.eye(len(var)):
        raise AssertionError("the ADMM sub-problem is not the strictly convex quadratic of (6)")
    # grad(v) = 2 v + c with c = grad(0); its zero is v = -c/2.
    origin = {v: 0 for v in var}
    return sp.Matrix([-sp.diff(objective, v).subs(origin) / 2 for v in var])


def _z_step(U: sp.Matrix, z_k: sp.Matrix, y_k: sp.Matrix, lam: sp.Matrix) -> sp.Matrix:
    z = vector("zz", len(z_k))
    obj = (
        _inner(gd_gradient(U, z_k), z)
        + _inner(z - z_k, z - z_k) / 2
        + _inner(lam, z)
        + _inner(z - y_k, z - y_k) / 2
    )
    return _argmin(obj, z)


def _y_step(U: sp.Matrix, y_k: sp.Matrix, z_next: sp.Matrix, lam: sp.Matrix) -> sp.Matrix:
    y = vector("yy", len(y_k))
    obj = (
        _inner(gd_gradient(U, y_k), y)
        + _inner(y - y_k, y - y_k) / 2
        - _inner(lam, y)
        + _inner(z_next - y, z_next - y) / 2
    )
    return _argmin(obj, y)


def _claimed(
    claim: AdmmClaim, W: sp.Matrix, xp: sp.Matrix, x: sp.Matrix, s: sp.Matrix
) -> tuple[sp.Matrix, sp.Matrix]:
    xp_next = claim.a1 * elementwise(Phi, W * xp) + claim.b1 * x + claim.c1 * s
    x_next = claim.a2 * elementwise(Phi, W * x) + claim.b2 * xp_next + claim.c2 * s
    return xp_next, x_next


def prove(
    claim: AdmmClaim = CLAIM, dimensions: tuple[int, ...] = DIMENSIONS, unrolled: int = UNROLLED
) -> ProofResult:
    """Derive (14) from (6); see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"(6) on f of (8) with z = U x', y = U x gives x'_(k+1) = {claim.a1} Phi(W x'_k) + "
        f"{claim.b1} x_k + ({claim.c1}) S_k and x_(k+1) = {claim.a2} Phi(W x_k) + "
        f"{claim.b2} x'_(k+1) + {claim.c2} S_k, S_k = sum_(t=1..k) (x'_t - x_t).",
    )
    proof.note(
        "Each sub-problem of (6) is <g, v> + ||v - a||^2/2 + <+-lambda, v> + ||v - b||^2/2, whose "
        "Hessian is 2I (checked by _argmin before solving): its argmin is the zero of its gradient."
    )
    for n in dimensions:
        U = symmetric_matrix(n)
        W = U**2
        xp, x, s = vector("xp", n), vector("x", n), vector("S", n)
        z_k, y_k, lam = U * xp, U * x, U * s
        z_next = _z_step(U, z_k, y_k, lam)
        proof.check_zero(
            f"n = {n}: the z-argmin of (6) is z_(k+1) = (U Phi(U z_k) + y_k - lambda_k)/2",
            canonical(z_next - (U * elementwise(Phi, U * z_k) + y_k - lam) / 2),
            math=z_next if n == 1 else None,
        )
        y_next = _y_step(U, y_k, z_next, lam)
        proof.check_zero(
            f"n = {n}: the y-argmin of (6) is y_(k+1) = (U Phi(U y_k) + z_(k+1) + lambda_k)/2",
            canonical(y_next - (U * elementwise(Phi, U * y_k) + z_next + lam) / 2),
        )
        xp_next, x_next = _claimed(claim, W, xp, x, s)
        proof.check_zero(
            f"n = {n}: U times the claimed x'_(k+1) equals z_(k+1)",
            canonical(U * xp_next - z_next),
            math=Equation(sp.Symbol("x'_(k+1)"), xp_next) if n == 1 else None,
        )
        proof.check_zero(
            f"n = {n}: U times the claimed x_(k+1) equals y_(k+1)",
            canonical(U * x_next - y_next),
            math=Equation(sp.Symbol("x_(k+1)"), x_next) if n == 1 else None,
        )
        lam_next = lam + z_next - y_next
        proof.check_zero(
            f"n = {n}: lambda_(k+1) = lambda_k + z_(k+1) - y_(k+1) = U S_(k+1) with "
            "S_(k+1) = S_k + x'_(k+1) - x_(k+1) (induction step; lambda_0 = 0 = U S_0)",
            canonical(lam_next - U * (s + xp_next - x_next)),
        )
    _unrolled(proof, claim, unrolled)
    _is_it_an_instance_of_20(proof, claim)
    return proof.finish()


def _is_it_an_instance_of_20(proof: Proof, claim: AdmmClaim) -> None:
    """Sec. 6 says (14) can be rewritten as (20). Line 2 of (20) has T(x_k) and x'_t, x_t for
    t <= k only, with coefficients alpha_t, beta_t that do not depend on the layer. Check (14)
    at layer k = 2 (S_2 written out) against that form."""
    u = sp.Symbol("u")
    xp1, xp2, x1, x2 = sp.symbols("xp_1 xp_2 x_1 x_2")
    W = sp.Matrix([[u**2]])
    s_2 = sp.Matrix([xp1 - x1 + xp2 - x2])
    xp_next, x_next = _claimed(claim, W, sp.Matrix([xp2]), sp.Matrix([x2]), s_2)
    line1, line2 = sp.expand(xp_next[0]), sp.expand(x_next[0])
    stray = line2.coeff(Phi(u**2 * xp2))
    older, newest = line1.coeff(x1), line1.coeff(x2)
    if stray != 0 or older != newest:
        proof.erratum(
            "Sec. 6, 'We can also rewrite (14) as (20)'",
            "x_(k+1) = T(x_k) + sum_(t<=k) alpha_t x'_t + sum_(t<=k) beta_t x_t (and line 1 alike)",
            Equation(sp.Matrix([sp.Symbol("x'_3"), sp.Symbol("x_3")]), sp.Matrix([line1, line2])),
            f"at layer k = 2, line 2 of (14) contains Phi(W x'_2) with coefficient {stray} "
            "(it uses x'_(k+1)), which (20) has no term for; and line 1 weighs x_1 by "
            f"{older} but x_2 by {newest}, so its beta_t would have to depend on the layer. "
            "(20) relaxes (14); it is not a rewriting of it.",
        )


def _unrolled(proof: Proof, claim: AdmmClaim, iterations: int) -> None:
    """Run (6) itself (argmins solved afresh, lambda updated) against (14) for a few steps."""
    U = symmetric_matrix(1)
    W = U**2
    z, y = vector("xp0", 1), vector("x0", 1)  # x'_0 and x_0; z_0 = U x'_0, y_0 = U x_0
    xp, x = z, y
    z, y = U * xp, U * y
    lam = sp.zeros(1, 1)
    s = sp.zeros(1, 1)
    agree = True
    for _ in range(iterations):
        z_next = _z_step(U, z, y, lam)
        y_next = _y_step(U, y, z_next, lam)
        lam = lam + z_next - y_next
        xp, x = _claimed(claim, W, xp, x, s)
        s = s + xp - x
        z, y = canonical(z_next), canonical(y_next)
        agree = agree and all(e == 0 for e in canonical(U * xp - z).col_join(canonical(U * x - y)))
    proof.check(
        f"unrolled: {iterations} iterations of (6) (lambda_0 = 0) and of the claim (14) agree "
        "(n = 1, generic Phi)",
        agree,
    )


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
