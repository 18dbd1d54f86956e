"""The studies section of ``optnet report``: every study found under a runs folder.

Each study's numbers are recomputed from its run files (the plan comes from its ``study.json``),
so the report never repeats a stale summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from optnet_nets.study import output
from optnet_nets.study.grid import STUDY_JSON
from optnet_nets.study.summary import load_plan, summarize_study


class Doc(Protocol):
    """What the section writes into (``optnet_nets.commands.report.Document``)."""

    def p(self, text: str) -> None: ...

    def table(self, head: list[str], rows: list[list[str]]) -> None: ...

    def img(self, path: Path, alt: str) -> None: ...


def find_studies(runs_dir: Path) -> list[Path]:
    """Folders under ``runs_dir`` (itself included) that hold a ``study.json``."""
    if not runs_dir.is_dir():
        return []
    return sorted(path.parent for path in runs_dir.rglob(STUDY_JSON))


def add_studies(doc: Doc, runs_dir: Path, work: Path) -> None:
    """One block per study: protocol, per-dataset error and paired tables, and the plot."""
    studies = find_studies(runs_dir)
    if not studies:
        doc.p(f"No study found under {runs_dir} (run `optnet study`, or pass --runs-dir).")
        return
    for number, folder in enumerate(studies, start=1):
        summary: dict[str, Any] = summarize_study(load_plan(folder), folder)
        doc.p(f"**Study {number}: {folder}.** COMPUTED by this run from the study's run files. "
              + output.protocol(summary))  # fmt: skip
        for dataset in summary["plan"]["datasets"]:
            doc.p(f"{dataset}: test error per model (mean ± std over seeds).")
            doc.table(*output.error_table(summary, dataset))
            head, rows = output.paired_table(summary, dataset)
            if rows:
                doc.p(f"{dataset}: paired differences to the baseline (negative: lower error).")
                doc.table(head, rows)
        if summary["missing"]:
            doc.p(f"Not finished ({len(summary['missing'])}): " + ", ".join(summary["missing"]))
        image = output.plot(summary, work / f"study-{number}.png")
        doc.img(image, f"study {number}: errors and paired differences")
