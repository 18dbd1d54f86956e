"""The small machinery every proof shares: steps, checked identities, errata, PROVED/FAILED.

A proof is a list of :class:`Step` objects built through a :class:`Proof`. A step either explains
(``note``), displays a formula (``show``) or checks an identity (``check_zero``/``check``); a
proof is PROVED only if every check passed and at least one check was made. Errata are recorded
by the proofs themselves when a transcription of a printed formula (kept in the proof module as
data) differs from what the derivation gives; the report lists them, nobody types them in.

Output is plain text (SymPy's pretty printer) by default or LaTeX on request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from optnet_theory.commands import add_json_option

#: A simplifier used to decide whether a difference is identically zero.
Simplifier = Callable[[sp.Expr], sp.Expr]


@dataclass(frozen=True)
class Erratum:
    """A place where the paper's printed text differs from what the proof derives.

    ``printed``/``derived`` are one-line plain text; the ``*_latex`` forms are empty when the
    proof stated the formula in words rather than as a SymPy object.
    """

    where: str
    printed: str
    derived: str
    note: str
    printed_latex: str = ""
    derived_latex: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "where": self.where,
            "printed": self.printed,
            "derived": self.derived,
            "note": self.note,
        }


@dataclass(frozen=True)
class Step:
    """One line of a proof: words, an optional formula, and the verdict of a check if any."""

    text: str
    math: Any = None
    ok: bool | None = None

    def render(self, latex: bool = False) -> str:
        mark = {None: "  ", True: "✓ ", False: "✗ "}[self.ok]
        line = f"{mark}{self.text}"
        if self.math is None:
            return line
        return f"{line}\n{indent(render_math(self.math, latex), 6)}"


@dataclass
class ProofResult:
    """The outcome of one proof: what was claimed, whether it was proved, and how."""

    name: str
    title: str
    claim: str
    proved: bool
    seconds: float
    steps: list[Step] = field(default_factory=list)
    errata: list[Erratum] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "PROVED" if self.proved else "FAILED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "claim": self.claim,
            "proved": self.proved,
            "seconds": round(self.seconds, 4),
            "checks": sum(1 for s in self.steps if s.ok is not None),
            "failures": list(self.failures),
            "errata": [e.as_dict() for e in self.errata],
        }

    def render(self, latex: bool = False) -> str:
        lines = [f"== {self.name}: {self.title} ==", f"Claim: {self.claim}", ""]
        lines += [step.render(latex) for step in self.steps]
        for e in self.errata:
            lines.append(f"ERRATUM [{e.where}] printed: {e.printed} | derived: {e.derived}")
            lines.append(f"        {e.note}")
        lines.append("")
        lines.append(f"{self.verdict} ({self.seconds:.2f} s)")
        return "\n".join(lines)


class Proof:
    """Builder of a :class:`ProofResult`; the clock runs from construction to :meth:`finish`."""

    def __init__(self, name: str, title: str, claim: str) -> None:
        self.name = name
        self.title = title
        self.claim = claim
        self.steps: list[Step] = []
        self.errata: list[Erratum] = []
        self.failures: list[str] = []
        self._start = time.perf_counter()

    def note(self, text: str) -> None:
        self.steps.append(Step(text))

    def show(self, text: str, math: Any) -> None:
        self.steps.append(Step(text, math))

    def check(self, text: str, ok: bool, math: Any = None) -> bool:
        """Record a check whose verdict was computed by the caller."""
        self.steps.append(Step(text, math, bool(ok)))
        if not ok:
            self.failures.append(text)
        return bool(ok)

    def check_zero(
        self,
        text: str,
        difference: Any,
        simplify: Simplifier = sp.expand,
        math: Any = None,
    ) -> bool:
        """Check that ``difference`` (an expression or a matrix) simplifies to zero.

        The difference itself is displayed only when the check fails (it is then the witness).
        """
        ok = is_zero(difference, simplify)
        return self.check(text, ok, math if ok else simplified(difference, simplify))

    def check_equal(self, text: str, lhs: Any, rhs: Any, simplify: Simplifier = sp.expand) -> bool:
        """Check ``lhs == rhs`` by simplifying ``lhs - rhs`` to zero; shows ``lhs = rhs``."""
        ok = is_zero(sp.Matrix(lhs) - sp.Matrix(rhs) if is_matrix(lhs) else lhs - rhs, simplify)
        return self.check(text, ok, Equation(lhs, rhs))

    def erratum(self, where: str, printed: Any, derived: Any, note: str) -> None:
        """Record that the paper prints ``printed`` where the derivation gives ``derived``."""
        self.errata.append(
            Erratum(
                where=where,
                printed=oneline(printed),
                derived=oneline(derived),
                note=note,
                printed_latex="" if isinstance(printed, str) else render_math(printed, True),
                derived_latex="" if isinstance(derived, str) else render_math(derived, True),
            )
        )
        self.steps.append(Step(f"ERRATUM in {where}: {note}"))

    def finish(self) -> ProofResult:
        checks = sum(1 for s in self.steps if s.ok is not None)
        if checks == 0:
            self.failures.append("no identity was checked")
        return ProofResult(
            name=self.name,
            title=self.title,
            claim=self.claim,
            proved=not self.failures,
            seconds=time.perf_counter() - self._start,
            steps=self.steps,
            errata=self.errata,
            failures=self.failures,
        )


@dataclass(frozen=True)
class Equation:
    """A displayed equality ``lhs = rhs`` (kept unevaluated, unlike ``sympy.Eq``)."""

    lhs: Any
    rhs: Any


def oneline(math: Any) -> str:
    """A formula on one line of plain text (for errata and JSON)."""
    if isinstance(math, str):
        return math
    if isinstance(math, Equation):
        return f"{oneline(math.lhs)} = {oneline(math.rhs)}"
    if isinstance(math, sp.MatrixBase):
        return sp.sstr(math.tolist())
    return sp.sstr(math)


def is_matrix(obj: Any) -> bool:
    return isinstance(obj, (sp.MatrixBase, list, tuple))


def is_zero(difference: Any, simplify: Simplifier = sp.expand) -> bool:
    """True when every entry of ``difference`` simplifies to exactly 0."""
    if is_matrix(difference):
        return all(simplify(entry) == 0 for entry in sp.Matrix(difference))
    return bool(simplify(difference) == 0)


def simplified(difference: Any, simplify: Simplifier) -> Any:
    if is_matrix(difference):
        return sp.Matrix(difference).applyfunc(simplify)
    return simplify(difference)


#: Longest formula printed in full; longer ones are cut (the check itself used all of it).
MAX_MATH_CHARS = 1500


def render_math(math: Any, latex: bool) -> str:
    if isinstance(math, Equation):
        if latex:
            return f"{render_math(math.lhs, True)} = {render_math(math.rhs, True)}"
        lhs, rhs = render_math(math.lhs, False), render_math(math.rhs, False)
        if "\n" in lhs or "\n" in rhs:
            return f"{lhs}\n=\n{rhs}"
        return f"{lhs} = {rhs}"
    if isinstance(math, str):
        return math
    if isinstance(math, (list, tuple)):
        math = sp.Matrix(math)
    text = sp.latex(math) if latex else sp.sstr(math)
    if len(text) > MAX_MATH_CHARS:
        return text[:MAX_MATH_CHARS] + f" ... [{len(text) - MAX_MATH_CHARS} more characters]"
    if latex:
        return text
    pretty = sp.pretty(math, use_unicode=True, num_columns=100)
    return pretty if pretty.count("\n") < 12 else text


def indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in text.splitlines())


def main_for(prove: Callable[[], ProofResult], argv: Sequence[str] | None = None) -> int:
    """``python -m optnet_proofs.NAME [--latex] [--json]``: run one proof, exit 0 iff PROVED."""
    parser = argparse.ArgumentParser(description="Run one executable proof.")
    parser.add_argument("--latex", action="store_true", help="print the steps in LaTeX")
    add_json_option(parser, "print only a JSON summary")
    args = parser.parse_args(argv)
    result = prove()
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(result.render(latex=args.latex))
    sys.stdout.flush()
    return 0 if result.proved else 1
