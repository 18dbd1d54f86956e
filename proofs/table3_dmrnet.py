"""Table 3, ADMM row: which coefficients of (20) give DMRNet's merge-and-run block.

(20): x'_{k+1} = T(x'_k) + sum_t alpha_t x'_t + sum_t beta_t x_t (and the same with T(x_k)),
sums over t = 1..k as printed.  DMRNet: x'_{k+1} = T(x'_k) + x'_k/2 + x_k/2,
x_{k+1} = T(x_k) + x'_k/2 + x_k/2.

Proved: with layer-dependent coefficients alpha^t_{k+1} = beta^t_{k+1} = 1/2 if t = k, else 0,
and sums starting at t = 0, (20) is DMRNet for every k >= 0 (symbolic k, Kronecker delta), and
again explicitly for k = 0..5. The printed reading (alpha_t = beta_t = 1/2 for every t, sums
from t = 1) is compared with DMRNet and its mismatches are reported as errata.

Run alone: ``python -m optnet_proofs.table3_dmrnet [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

from .algebra import T
from .framework import Equation, Proof, ProofResult, main_for

NAME = "table3_dmrnet"
TITLE = "Table 3, ADMM row: (20) and DMRNet's merge-and-run"

half = sp.Rational(1, 2)
xp, x = sp.IndexedBase("x'"), sp.IndexedBase("x")  # x'_t and x_t
k = sp.Symbol("k", integer=True, nonnegative=True)
t = sp.Symbol("t", integer=True, nonnegative=True)


@dataclass(frozen=True)
class DmrNetClaim:
    """Coefficients of (20): alpha^t_{k+1} = current if t == k else older (same for beta);
    the sums run from t = first."""

    alpha_current: sp.Expr = half
    beta_current: sp.Expr = half
    alpha_older: sp.Expr = sp.Integer(0)
    beta_older: sp.Expr = sp.Integer(0)
    first: int = 0


CLAIM = DmrNetClaim()
#: Transcription of Table 3's ADMM row read against (20) as printed: alpha_t = beta_t = 1/2
#: (the coefficients of (20) carry no layer index), sums from t = 1.
PRINTED = DmrNetClaim(half, half, half, half, 1)
EXPLICIT_K = 5


def eq20(c: DmrNetClaim, kk: sp.Expr, lead: sp.Expr) -> sp.Expr:
    """The right-hand side of (20) at layer kk with leading term ``lead`` (T(x'_k) or T(x_k))."""
    delta = sp.KroneckerDelta(t, kk)
    a = c.alpha_current * delta + c.alpha_older * (1 - delta)
    b = c.beta_current * delta + c.beta_older * (1 - delta)
    return lead + sp.Sum(a * xp[t] + b * x[t], (t, c.first, kk))


def dmrnet(kk: sp.Expr, lead: sp.Expr) -> sp.Expr:
    return lead + xp[kk] / 2 + x[kk] / 2


def _gap(c: DmrNetClaim, kk: sp.Expr, lead: sp.Expr) -> sp.Expr:
    return sp.simplify(sp.expand(eq20(c, kk, lead).doit() - dmrnet(kk, lead)))


def prove(claim: DmrNetClaim = CLAIM, explicit_k: int = EXPLICIT_K) -> ProofResult:
    """Prove the ADMM row of Table 3 in its exact form; see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        f"(20) with alpha^t_(k+1) = {claim.alpha_current} (t = k), {claim.alpha_older} (t < k), "
        f"beta^t_(k+1) = {claim.beta_current} (t = k), {claim.beta_older} (t < k), sums from "
        f"t = {claim.first}, is DMRNet's merge-and-run block for every k >= 0.",
    )
    for name, lead in (("x'", T(xp[k])), ("x", T(x[k]))):
        gap = _gap(claim, k, lead)
        proof.check(
            f"symbolic k >= 0: line {name}_(k+1) of (20) equals DMRNet's",
            gap == 0,
            Equation(eq20(claim, k, lead), dmrnet(k, lead)) if gap == 0 else gap,
        )
    explicit_ok = all(
        _gap(claim, sp.Integer(kk), T(xp[kk])) == 0 and _gap(claim, sp.Integer(kk), T(x[kk])) == 0
        for kk in range(explicit_k + 1)
    )
    proof.check(f"explicit k = 0..{explicit_k}: both lines equal DMRNet's", explicit_ok)
    for kk in (0, 2):
        lead = T(xp[kk])
        printed = eq20(PRINTED, sp.Integer(kk), lead).doit()
        if sp.expand(printed - dmrnet(sp.Integer(kk), lead)) != 0:
            proof.erratum(
                f"Table 3, ADMM row ('alpha_k = beta_k = 1/2 in (20)'), layer k = {kk}",
                Equation(sp.Symbol(f"x'_{kk + 1}"), printed),
                Equation(sp.Symbol(f"x'_{kk + 1}"), dmrnet(sp.Integer(kk), lead)),
                "the coefficients of (20) carry no layer index and its sums start at t = 1, so "
                "1/2 for every t adds all earlier x'_t, x_t (and misses x'_0, x_0 at k = 0); "
                "DMRNet needs layer-dependent alpha^t_(k+1) = beta^t_(k+1) = 1/2 only for t = k "
                "and sums from t = 0.",
            )
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
