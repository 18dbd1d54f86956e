"""The Markdown report of a run of the proofs: summary table, steps in LaTeX, errata.

Every erratum in the report comes from a :class:`~optnet_proofs.framework.ProofResult`; none is
typed here.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Sequence

from .framework import ProofResult, Step, render_math


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _formula(plain: str, latex: str) -> str:
    return f"$ {latex} $" if latex else f"`{plain}`"


def _step_md(step: Step) -> str:
    mark = {None: "", True: "✓ ", False: "✗ **FAILED** "}[step.ok]
    line = f"- {mark}{_md_cell(step.text)}"
    if isinstance(step.math, str):
        line += f": {_md_cell(step.math)}"
    elif step.math is not None:
        line += f"\n\n  $$ {render_math(step.math, latex=True)} $$"
    return line


def markdown_report(results: Sequence[ProofResult], total_seconds: float) -> str:
    """The whole report as Markdown with LaTeX maths."""
    proved = sum(r.proved for r in results)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# optnet proofs: the paper's derivations, re-derived by SymPy",
        "",
        f"Run {stamp} on {platform.python_implementation()} {platform.python_version()}; "
        f"{proved}/{len(results)} PROVED in {total_seconds:.2f} s in total.",
        "",
        "| proof | claim | result | time (s) | errata |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        out.append(
            f"| `{r.name}` | {_md_cell(r.title)} | **{r.verdict}** | {r.seconds:.2f} | "
            f"{len(r.errata)} |"
        )
    out += ["", "## Errata found by the proofs", ""]
    errata = [(r.name, e) for r in results for e in r.errata]
    if not errata:
        out.append("None.")
    for name, e in errata:
        out += [
            f"### {_md_cell(e.where)} (found by `{name}`)",
            "",
            f"- printed: {_formula(e.printed, e.printed_latex)}",
            f"- derived: {_formula(e.derived, e.derived_latex)}",
            f"- {e.note}",
            "",
        ]
    out += ["## Proofs", ""]
    for r in results:
        out += [f"### `{r.name}`: {r.title}", "", f"**Claim.** {r.claim}", ""]
        out += [_step_md(s) for s in r.steps]
        out += ["", f"**{r.verdict}** in {r.seconds:.2f} s.", ""]
        if r.failures:
            out += ["Failed checks:", ""] + [f"- {_md_cell(f)}" for f in r.failures] + [""]
    return "\n".join(out) + "\n"
