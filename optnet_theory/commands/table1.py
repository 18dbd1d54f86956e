"""``optnet table1``: audit the paper's Table 1 (printed Psi vs derived Psi, with verdicts)."""

from __future__ import annotations

import argparse
import json

from optnet_theory.commands import add_json_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``optnet table1``."""
    fmt = parser.add_mutually_exclusive_group()
    add_json_option(fmt, "print JSON rows only")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--latex", action="store_true", help="formulas as LaTeX (with --markdown: inline math)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the audited rows: side by side in the terminal, Markdown, LaTeX or JSON."""
    import sympy as sp

    from optnet_theory.energy.table1 import audit_table1

    rows = audit_table1()
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return 0

    def show(expr: sp.Expr) -> str:
        return f"${sp.latex(expr)}$" if args.latex else f"`{expr}`"

    if args.markdown:
        print("| Activation | Printed Psi | Derived Psi | Verdict | Detail |")
        print("|---|---|---|---|---|")
        for r in rows:
            cells = [r.activation, show(r.printed), show(r.derived), r.verdict, r.detail]
            print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return 0
    if args.latex:
        print("\\begin{tabular}{llll}")
        print("Activation & Printed $\\Psi$ & Derived $\\Psi$ & Verdict \\\\ \\hline")
        for r in rows:
            printed, derived = sp.latex(r.printed), sp.latex(r.derived)
            print(f"{r.activation} & ${printed}$ & ${derived}$ & {r.verdict} \\\\")
        print("\\end{tabular}")
        return 0
    for r in rows:
        print(f"{r.activation:<11} {r.verdict.upper():<8} {r.detail}")
        print(f"{'':<11} printed: {r.printed}")
        print(f"{'':<11} derived: {r.derived}")
    return 0
