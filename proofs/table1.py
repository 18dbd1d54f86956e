"""Table 1: for every activation, the energy Psi derived by the energy engine satisfies Psi' = Phi
on all of R, and each printed row is audited the same way.

For each row, Psi comes from :func:`optnet_theory.derive_energy` (registry defaults for the
parameters: leaky ReLU alpha = 1/100, ELU a = 1, swish beta = 1). The proof then checks, with
SymPy, on every open interval between the breakpoints of Phi and Psi: Psi' - Phi simplifies to 0;
and at every breakpoint c: Psi is continuous and both one-sided derivatives equal Phi(c). Together
these make Psi a C^1 antiderivative of Phi on R (so f of (8) is differentiable with gradient (9)).

The printed objective of each row, transcribed below as Psi(s) with s = U_i^T x (parameters
kept symbolic), goes through the same checks plus realness; a row that fails one is an erratum,
shown with the derived Psi beside it. A printed Psi that passes may differ from the derived one by
a constant, which (8) does not see.

Run alone: ``python -m optnet_proofs.table1 [--latex] [--json]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import cast

import mpmath
import sympy as sp

from optnet_theory import derive_energy
from optnet_theory.antiderivative.piecewise import as_piecewise
from optnet_theory.energy.activations import X
from optnet_theory.energy.table1 import ROW_ACTIVATION, audit_row
from optnet_theory.paper_values import table1_transcription

from .framework import Equation, Proof, ProofResult, main_for

NAME = "table1"
TITLE = "Table 1: Psi' = Phi for every activation (derived rows and printed rows)"

s = X  # the scalar argument U_i^T x

#: Table 1 as printed (the project's one transcription, in optnet_theory.paper_values):
#: registry name -> (printed Phi, printed Psi), Psi in s = U_i^T x, parameters symbolic.
PRINTED_ROWS: dict[str, tuple[sp.Expr, sp.Expr]] = {
    ROW_ACTIVATION[label]: (cast(sp.Expr, phi), cast(sp.Expr, psi))
    for label, (phi, psi) in table1_transcription().items()
}
#: registry name -> Table 1 row label, for the audit of optnet_theory.energy.table1.
ROW_LABEL = {name: label for label, name in ROW_ACTIVATION.items()}


@dataclass(frozen=True)
class Table1Claim:
    """The rows proved, and edits added to the engine's Psi (empty: Psi exactly as derived)."""

    activations: tuple[str, ...] = tuple(PRINTED_ROWS)
    psi_edits: tuple[tuple[str, sp.Expr], ...] = ()


CLAIM = Table1Claim()


def _zero(expr: sp.Expr) -> bool:
    e = sp.expand_func(expr)
    if sp.simplify(e) == 0:
        return True
    return bool(sp.simplify(e.rewrite(sp.exp)) == 0)


def _breakpoints(*exprs: sp.Expr) -> list[sp.Expr]:
    points: set[sp.Expr] = set()
    for e in exprs:
        for rel in e.atoms(sp.core.relational.Relational):
            points.update(sp.solve(sp.Eq(rel.lhs, rel.rhs), s))
    return sorted(points, key=float)


def _intervals(points: list[sp.Expr]) -> list[tuple[sp.Expr, sp.Expr]]:
    edges = [-sp.oo, *points, sp.oo]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _inside(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    if lo == -sp.oo and hi == sp.oo:
        return sp.Integer(0)
    if lo == -sp.oo:
        return hi - 1
    if hi == sp.oo:
        return lo + 1
    return (lo + hi) / 2


def _branch(expr: sp.Expr, point: sp.Expr) -> sp.Expr:
    """The piece of ``expr`` in force at ``point`` (conditions are comparisons of s)."""
    if not isinstance(expr, sp.Piecewise):
        return expr
    for piece, cond in expr.args:
        if bool(cond.subs(s, point)):
            return piece
    raise ValueError(f"no branch of {expr} holds at {point}")


def _audit(psi: sp.Expr, phi: sp.Expr) -> list[str]:
    """The reasons why psi is not a real C^1 antiderivative of phi on R (empty when it is)."""
    psi, phi = as_piecewise(psi), as_piecewise(phi)  # |s| and the like become explicit branches
    problems: list[str] = []
    points = _breakpoints(psi, phi)
    for lo, hi in _intervals(points):
        mid = _inside(lo, hi)
        piece, target = _branch(psi, mid), _branch(phi, mid)
        if sp.simplify(sp.im(sp.expand_complex(piece.subs(s, mid)))) != 0:
            problems.append(f"not real on ({lo}, {hi}): Psi({mid}) = {sp.N(piece.subs(s, mid), 6)}")
        gap = sp.diff(piece, s) - target
        if not _zero(gap):
            problems.append(
                f"Psi' != Phi on ({lo}, {hi}): {_witness(gap, lo, hi)}{_resembles(piece, target)}"
            )
    for c in points:
        left, right = _branch(psi, c - sp.Rational(1, 2)), _branch(psi, c + sp.Rational(1, 2))
        jump = sp.simplify(right.subs(s, c) - left.subs(s, c))
        if jump != 0:
            problems.append(f"Psi jumps by {jump} at s = {c}")
        for side, piece in (("left", left), ("right", right)):
            slope = sp.diff(piece, s).subs(s, c)
            if not _zero(slope - phi.subs(s, c)):
                problems.append(
                    f"{side} derivative of Psi at {c} is {slope}, Phi({c}) = {phi.subs(s, c)}"
                )
    return problems


def _resembles(piece: sp.Expr, target: sp.Expr) -> str:
    """Name a simple relation between a wrong Psi' and Phi (a sign slip), when there is one."""
    slope = sp.diff(piece, s)
    for label, candidate in (("-Phi(s)", -target), ("Phi(-s)", target.subs(s, -s))):
        if _zero(slope - candidate):
            return f"; in fact Psi' = {label}"
    return ""


def _witness(gap: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> str:
    """Psi' - Phi at a point of (lo, hi) where it is not 0, to 30 digits, so that a mismatch is
    not an artefact of the simplifier."""
    mid = _inside(lo, hi)
    width = sp.Integer(1) if sp.oo in (-lo, hi) else (hi - lo) / 4
    for point in (mid + width, mid - width, mid):
        value = gap.subs(s, point)
        if value.free_symbols:
            return f"Psi' - Phi = {sp.simplify(gap)}"
        with mpmath.workdps(30):
            number = sp.N(value, 30)
        if number != 0:
            return f"Psi' - Phi = {number} at s = {point}"
    return f"Psi' - Phi = {sp.simplify(gap)}"


def _row(proof: Proof, name: str, claim: Table1Claim) -> None:
    energy = derive_energy(name)
    psi = energy.psi
    if psi is None:
        budget = [step for step in energy.steps if "budget" in step or "declined" in step]
        proof.check(
            f"{name}: the engine gives a closed-form Psi (it returned method "
            f"'{energy.method}'; {len(budget)} rule(s) declined or out of time, e.g. "
            f"{budget[-1] if budget else 'none'})",
            False,
        )
        return
    for row, edit in claim.psi_edits:
        if row == name:
            psi = psi + edit
    phi = energy.phi
    problems = _audit(psi, phi)
    proof.check(
        f"{name}: derived Psi is a real C^1 antiderivative of Phi on R (branches, breakpoints "
        f"{_breakpoints(psi, phi) or 'none'}) [engine: {energy.method}, verified "
        f"{energy.verified}]" + ("" if not problems else f": {'; '.join(problems)}"),
        not problems,
        Equation(sp.Function("Psi")(s), psi),
    )
    printed_phi, printed = PRINTED_ROWS[name]
    printed_problems = _audit(printed, printed_phi)
    if printed_problems:
        proof.erratum(
            f"Table 1, row {name}",
            Equation(sp.Function("Psi")(s), printed),
            Equation(sp.Function("Psi")(s), psi),
            "; ".join(printed_problems) + f" (derived Psi with {energy.params or 'no parameters'})",
        )
    else:
        one = sp.Integer(1)
        gap = sp.simplify(sp.expand_func(_branch(printed, one) - _branch(psi, one)))
        proof.note(
            f"{name}: the printed row passes the same checks (it differs from the derived Psi by "
            f"{gap} for s > 0)"
        )
    audit = audit_row(ROW_LABEL[name], printed_phi, printed)
    proof.check(
        f"{name}: the Table 1 audit (optnet_theory.energy.table1, sampled at 30-40 digits) agrees: "
        f"verdict '{audit.verdict}' ({audit.detail})",
        (audit.verdict == "erratum") == bool(printed_problems),
    )


def prove(claim: Table1Claim = CLAIM) -> ProofResult:
    """Prove Psi' = Phi for every row of Table 1 and audit the printed rows."""
    proof = Proof(
        NAME,
        TITLE,
        "for each activation of Table 1 ("
        + ", ".join(claim.activations)
        + "), the energy engine's Psi is real, continuous and has Psi' = Phi on all of R.",
    )
    for name in claim.activations:
        _row(proof, name, claim)
    return proof.finish()


def main() -> int:
    return main_for(prove)


if __name__ == "__main__":
    sys.exit(main())
