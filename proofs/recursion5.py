"""(3) <=> (4) with the coefficients (5): an induction in k, plus the first 8 iterations.

Both iterations use the same gradients g_j = grad f(y_j): if the y's agree up to step k, so do
the g's, and then y_{k+1} agrees. So it suffices to show, with g_0, g_1, ... symbolic, that (3)
produces y_{k+1} = y_k - sum_{j<=k} h_{k+1,j} g_j with h given by (5). The convention z_{-1} = z_0
makes y_0 = z_0 (theta_{-1} never enters).

Invariant (induction hypothesis at k):  y_k - z_k = -sum_{j<k} c_{k,j} g_j  with
c_{k,j} = h_{k,j} for j <= k-2 and c_{k,k-1} = h_{k,k-1} - 1.
The step k -> k+1 is one symbolic identity: every quantity is linear in the g_j and the
coefficient of g_j depends only on its class (j <= k-2, j = k-1, j = k), so one representative of
each class with a symbolic coefficient proves the step for every k. Symbolic theta_k, theta_{k+1}.

Run alone: ``python -m optnet_proofs.recursion5 [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import mpmath
import sympy as sp

from optnet_theory.coefficients import nesterov_h, nesterov_theta

from .framework import Equation, Proof, ProofResult, main_for

NAME = "recursion5"
TITLE = "(3) <=> (4) with the coefficients (5)"

# Placeholders of the claim: h stands for h_{k,j}, th0 for theta_k, th1 for theta_{k+1}.
h = sp.Symbol("h", positive=True)
th0, th1 = sp.Symbol("theta_k", positive=True), sp.Symbol("theta_{k+1}", positive=True)
_B = th1 * (1 - th0) / th0


@dataclass(frozen=True)
class Recursion5Claim:
    """The coefficients (5) of h_{k+1,j}: older (j <= k-2), previous (j = k-1), newest (j = k)."""

    older: sp.Expr = _B * h
    previous: sp.Expr = _B * (h - 1)
    newest: sp.Expr = 1 + _B


CLAIM = Recursion5Claim()
#: Transcription of (5) as printed (placeholders as above).
PRINTED = Recursion5Claim()
EXPLICIT_ITERATIONS = 8

Vec = dict[sp.Symbol, sp.Expr]  # a linear combination of gradients (and y_k): symbol -> coefficient


def _add(*terms: tuple[sp.Expr, Vec]) -> Vec:
    out: Vec = {}
    for scale, vec in terms:
        for key, coef in vec.items():
            out[key] = out.get(key, sp.Integer(0)) + scale * coef
    return out


def _same(a: Vec, b: Vec) -> bool:
    """Equal coefficients. They are Laurent polynomials in the thetas (the denominators of (3)
    and (5) are products of thetas), so expansion decides equality; cancel is the fallback."""

    def zero(e: sp.Expr) -> bool:
        return sp.expand(e) == 0 or sp.cancel(e) == 0

    return all(zero(a.get(key, 0) - b.get(key, 0)) for key in set(a) | set(b))


def _inductive_step(proof: Proof, claim: Recursion5Claim) -> None:
    y_k, g_a, g_b, g_prev, g_k = (sp.Symbol(s) for s in ("y_k", "g_a", "g_b", "g_(k-1)", "g_k"))
    h_a, h_b, h_prev = (sp.Symbol(s, positive=True) for s in ("h_(k,a)", "h_(k,b)", "h_(k,k-1)"))
    one = sp.Integer(1)
    Y: Vec = {y_k: one}
    # Induction hypothesis: y_k - z_k = -(h_a g_a + h_b g_b + (h_prev - 1) g_prev), with g_a, g_b
    # two representatives of j <= k-2.
    d_k: Vec = {g_a: -h_a, g_b: -h_b, g_prev: -(h_prev - 1)}
    z_k = _add((one, Y), (-one, d_k))
    beta_next = th1 * (1 - th0) / th0  # beta_{k+1} of (3)
    z_next = _add((one, Y), (-one, {g_k: one}))  # z_{k+1} = y_k - g_k
    y_next = _add((1 + beta_next, z_next), (-beta_next, z_k))  # y_{k+1} of (3)
    derived = {
        "older": sp.factor(-y_next[g_a]).subs(h_a, h),
        "previous": sp.factor(-y_next[g_prev]).subs(h_prev, h),
        "newest": sp.factor(-y_next[g_k]),
    }
    proof.show(
        "from (3): y_(k+1) = z_(k+1) + beta_(k+1) (z_(k+1) - z_k), z_(k+1) = y_k - g_k, "
        "beta_(k+1) = theta_(k+1)(1 - theta_k)/theta_k; so y_(k+1) - y_k =",
        sum((c * s for s, c in _add((one, y_next), (-one, Y)).items()), sp.Integer(0)),
    )
    for field in ("older", "previous", "newest"):
        printed = getattr(PRINTED, field)
        if sp.cancel(printed - derived[field]) != 0:
            proof.erratum(f"(5), case {field}", printed, derived[field], "index or factor slip")
    coef = {
        g_a: claim.older.subs(h, h_a),
        g_b: claim.older.subs(h, h_b),
        g_prev: claim.previous.subs(h, h_prev),
        g_k: claim.newest,
    }
    claimed = _add((one, Y), (-one, coef))
    proof.check(
        "inductive step: (3) gives y_(k+1) = y_k - sum_j h_(k+1,j) g_j with every h_(k+1,j) as "
        "in the claim (5) (j <= k-2, j = k-1, j = k)",
        _same(y_next, claimed),
        Equation(sp.Symbol("h_(k+1,j)"), sp.Matrix([claim.older, claim.previous, claim.newest])),
    )
    d_next = _add((one, y_next), (-one, z_next))
    invariant_next = {key: -c for key, c in coef.items() if key != g_k}
    invariant_next[g_k] = -(claim.newest - 1)
    proof.check(
        "the invariant is carried: y_(k+1) - z_(k+1) = -(sum_(j<k) h_(k+1,j) g_j + "
        "(h_(k+1,k) - 1) g_k)",
        _same(d_next, invariant_next),
    )
    # Base case k = 0: z_{-1} = z_0, so y_0 = z_0 and the invariant holds with the empty sum.
    th_0, th_1 = sp.symbols("theta_0 theta_1", positive=True)
    y0 = {sp.Symbol("y_0"): one}
    g0 = sp.Symbol("g_0")
    b1 = th_1 * (1 - th_0) / th_0
    z1 = _add((one, y0), (-one, {g0: one}))
    y1 = _add((1 + b1, z1), (-b1, y0))
    proof.check(
        "base case k = 0 (z_(-1) = z_0, so y_0 = z_0): y_1 = y_0 - h_(1,0) g_0 with h_(1,0) the "
        "claim's newest coefficient at k = 0, and y_1 - z_1 = -(h_(1,0) - 1) g_0",
        _same(y1, _add((one, y0), (-claim.newest.subs({th1: th_1, th0: th_0}), {g0: one})))
        and _same(
            _add((one, y1), (-one, z1)), {g0: -(claim.newest.subs({th1: th_1, th0: th_0}) - 1)}
        ),
    )


def _explicit(proof: Proof, claim: Recursion5Claim, iterations: int) -> None:
    thetas = sp.symbols(f"theta_0:{iterations + 1}", positive=True)
    gs = sp.symbols(f"g_0:{iterations}")
    one = sp.Integer(1)
    start: Vec = {sp.Symbol("z_0"): one}

    def beta(k: int) -> sp.Expr:
        return thetas[k] * (1 - thetas[k - 1]) / thetas[k - 1]

    # (3), with z_{-1} = z_0.
    z_prev, z = start, start
    ys3: list[Vec] = []
    for k in range(iterations + 1):
        y = z if k == 0 else _add((1 + beta(k), z), (-beta(k), z_prev))
        ys3.append(y)
        if k < iterations:
            z_prev, z = z, _add((one, y), (-one, {gs[k]: one}))
    # (4) with h from the claimed recursion (5).
    hs: dict[tuple[int, int], sp.Expr] = {}
    y4: list[Vec] = [start]
    for k in range(iterations):
        sub = {th1: thetas[k + 1], th0: thetas[k]}
        for j in range(k + 1):
            if j == k:
                hs[k + 1, j] = claim.newest.subs(sub)
            elif j == k - 1:
                hs[k + 1, j] = claim.previous.subs(sub).subs(h, hs[k, j])
            else:
                hs[k + 1, j] = claim.older.subs(sub).subs(h, hs[k, j])
        y4.append(_add((one, y4[k]), *((-hs[k + 1, j], {gs[j]: one}) for j in range(k + 1))))
    agree = [k for k in range(iterations + 1) if _same(ys3[k], y4[k])]
    proof.check(
        f"explicit: (3) and (4)+(5) give the same y_k for k = 0..{iterations} "
        "(symbolic theta_0..theta_8 and g_0..g_7)",
        len(agree) == iterations + 1,
        f"agree at k = {agree}",
    )
    _against_the_implementation(proof, hs, thetas, iterations)
    with_one = {thetas[0]: 1}
    proof.show(
        "for instance, with theta_0 = 1: h_(1,0), h_(2,0), h_(2,1) =",
        sp.Matrix([sp.factor(hs[key].subs(with_one)) for key in ((1, 0), (2, 0), (2, 1))]),
    )


def _against_the_implementation(
    proof: Proof, hs: dict[tuple[int, int], sp.Expr], thetas: tuple[sp.Symbol, ...], K: int
) -> None:
    """The project's optnet_theory.nesterov_h (used by the networks) against the h proved here,
    on the theta schedule of (3) (theta_0 = 1), at 40 digits."""
    dps = 40
    with mpmath.workdps(dps):
        theta = nesterov_theta(K, dps=dps)
        table = nesterov_h(K, dps=dps)
        values = {t: sp.Float(mpmath.nstr(v, dps), dps) for t, v in zip(thetas, theta, strict=True)}
        worst = max(
            abs(sp.N(expr.subs(values), dps) - sp.Float(mpmath.nstr(table[k][j], dps), dps))
            for (k, j), expr in hs.items()
        )
    proof.check(
        f"the implementation optnet_theory.nesterov_h agrees with these h_(k,j), k <= {K}, on the "
        f"theta schedule of (3) (theta_0 = 1; largest difference {sp.N(worst, 3)} at {dps} digits)",
        bool(worst < sp.Float(10) ** (10 - dps)),
    )


def prove(claim: Recursion5Claim = CLAIM, iterations: int = EXPLICIT_ITERATIONS) -> ProofResult:
    """Prove (3) <=> (4) with (5); see the module docstring."""
    proof = Proof(
        NAME,
        TITLE,
        "AGD (3) and the summed form (4) produce the same y_k for all k when h_(k+1,j) follows "
        f"(5): older {claim.older}, previous {claim.previous}, newest {claim.newest} "
        "(h = h_(k,j)).",
    )
    proof.note(
        "Both forms use g_j = grad f(y_j); if the y's agree up to k so do the g's, hence it is "
        "enough to prove the recursion with g_0, g_1, ... as free symbols."
    )
    _inductive_step(proof, claim)
    _explicit(proof, claim, iterations)
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
