"""``optnet prove [NAME...] [--latex] [--report PATH] [--json]``: run the proofs, write a report.

Exit status 0 when every selected proof is PROVED, 1 otherwise; an unknown name is an
OptnetError (status 2 from the dispatcher). With ``--json`` stdout holds one JSON object per
proof, one per line (name, claim, proved, seconds, errata, ...), and nothing else.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError

from .framework import ProofResult
from .registry import list_proofs, load
from .report import markdown_report

#: Where the report goes without --report: under runs/, beside the other commands' outputs.
DEFAULT_REPORT = "runs/proofs-report.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"proofs to run (default: all): {', '.join(list_proofs())}",
    )
    parser.add_argument("--latex", action="store_true", help="print the steps in LaTeX")
    parser.add_argument(
        "--report",
        metavar="PATH",
        default=DEFAULT_REPORT,
        help=f"Markdown report to write (default: {DEFAULT_REPORT}, its folder created if "
        "needed; '-' for none)",
    )
    add_json_option(parser, "print one JSON object per proof")


def run_proofs(names: list[str] | None = None) -> list[ProofResult]:
    """Run the named proofs (all when empty), in the paper's order."""
    selected = names or list_proofs()
    modules = [load(name) for name in dict.fromkeys(selected)]  # validates every name first
    return [module.prove() for module in modules]


def run(args: argparse.Namespace) -> int:
    if args.report == DEFAULT_REPORT:
        Path(DEFAULT_REPORT).parent.mkdir(parents=True, exist_ok=True)
    if args.report != "-" and not Path(args.report).resolve().parent.is_dir():
        raise OptnetError(
            f"cannot write the report to {args.report}: its folder does not exist "
            "(give a path in an existing folder, or '-' for no report)"
        )
    start = time.perf_counter()
    results = run_proofs(list(args.names))
    total = time.perf_counter() - start
    if args.report != "-":
        path = Path(args.report)
        try:
            path.write_text(markdown_report(results, total), encoding="utf-8")
        except OSError as exc:
            raise OptnetError(f"cannot write the report to {path}: {exc.strerror}") from exc
    if args.json:
        for r in results:
            print(json.dumps(r.as_dict()))
    else:
        for r in results:
            print(r.render(latex=args.latex))
            print()
        proved = sum(r.proved for r in results)
        errata = sum(len(r.errata) for r in results)
        print(
            f"{proved}/{len(results)} PROVED, {errata} errata, {total:.2f} s"
            + ("" if args.report == "-" else f"; report: {args.report}")
        )
    return 0 if all(r.proved for r in results) else 1
