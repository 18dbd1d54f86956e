"""``optnet report``: one Markdown (and HTML) document with every computed result of the project.

Sections: Table 1 audited with its errata (``optnet_theory.energy.table1``), Table 2 reproduced
(from a
saved ``optnet simulate`` run, or a quick run made now), Sec. 5.1's rates with their plot
(``optnet_theory.rates``), and the executable proofs' summary (``optnet_proofs.cli``). Every
number is computed by this run or loaded from the results files of an earlier run, and each
section says which (with the file it came from). A missing piece is named, never silently dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError

Block = tuple[Any, ...]  # ("h", text) | ("p", text) | ("table", head, rows) | ("img", file, alt)


@dataclass
class Document:
    blocks: list[Block] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    def h(self, text: str) -> None:
        self.blocks.append(("h", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, head: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", head, rows))

    def img(self, path: Path, alt: str) -> None:
        self.images.append(path)
        self.blocks.append(("img", path.name, alt))

    def markdown(self) -> str:
        out: list[str] = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"## {b[1]}")
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "table":
                cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
                out.append("| " + " | ".join(cell(c) for c in b[1]) + " |")
                out.append("|" + "---|" * len(b[1]))
                out.extend("| " + " | ".join(cell(c) for c in r) + " |" for r in b[2])
            else:
                out.append(f"![{b[2]}]({b[1]})")
            out.append("")
        return "# optnet report\n\n" + "\n".join(out)

    def html(self) -> str:
        e = html.escape
        out = ["<!doctype html><html><head><meta charset='utf-8'><title>optnet report</title>",
               "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
               "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
               "</style></head><body><h1>optnet report</h1>"]
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"<h2>{e(b[1])}</h2>")
            elif b[0] == "p":
                out.append(f"<p>{e(b[1])}</p>")
            elif b[0] == "table":
                out.append("<table><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in b[1])
                           + "</tr>")
                out.extend("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>"
                           for r in b[2])
                out.append("</table>")
            else:
                out.append(f"<img src='{e(b[1])}' alt='{e(b[2])}'>")
        out.append("</body></html>")
        return "\n".join(out)


def _stamp(path: Path) -> str:
    t = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _section(doc: Document, title: str, fill: Callable[[Document], None]) -> str:
    """Run one section; a missing or failing piece becomes a note naming what is missing."""
    doc.h(title)
    try:
        fill(doc)
        return "ok"
    except ModuleNotFoundError as exc:
        doc.p(f"MISSING: this section needs the module {exc.name!r}, which is not installed or "
              "not written yet.")
        return f"missing ({exc.name})"
    except (ImportError, OptnetError, OSError, KeyError, ValueError) as exc:
        doc.p(f"MISSING: this section could not be computed: {type(exc).__name__}: {exc}")
        return f"failed ({type(exc).__name__})"


# --------------------------------------------------------------------------- sections
def _table1(doc: Document) -> None:
    from optnet_theory.energy.table1 import audit_table1

    t0 = time.perf_counter()
    rows = audit_table1()
    errata = [r for r in rows if r.verdict != "correct"]
    doc.p(f"Computed by this run ({time.perf_counter() - t0:.1f} s): each printed Psi of "
          f"Table 1 checked against Psi' = Phi, realness and continuity on R. "
          f"{len(errata)} of {len(rows)} rows are errata.")
    doc.table(["activation", "verdict", "detail", "derived Psi (when the printed one is wrong)"],
              [[r.activation, r.verdict, r.detail,
                str(r.derived) if r.verdict != "correct" else ""] for r in rows])


def _table2(doc: Document, sim_dir: Path, quick: bool, work: Path) -> None:
    from optnet_nets.simulate import (
        load_results,
        plot_table,
        quick_config,
        run_simulation,
        table2_parts,
    )

    result = None if quick else load_results(sim_dir)
    if result is not None:
        files = sorted((sim_dir / "partial").glob("*.json"))
        doc.p(f"LOADED from the results files of an earlier `optnet simulate` run in {sim_dir} "
              f"({len(files)} finished (depth, seed) files, newest written "
              f"{max(_stamp(f) for f in files)}); not recomputed by this run.")
    else:
        reason = "--quick given" if quick else f"no saved run in {sim_dir}"
        result = run_simulation(quick_config(), work / "simulate", progress=False)
        doc.p(f"COMPUTED by this run ({reason}): the reduced `optnet simulate --quick` setting, "
              "whose values are not comparable with the paper's; run `optnet simulate` for the "
              "full table.")
    for part in table2_parts(result):  # the same text `optnet simulate` prints
        doc.p(part.text)
        if part.head:
            doc.table(part.head, part.rows)
    plot = work / "table2.png"
    plot_table(result, plot)
    doc.img(plot, "Table 2: MSE by depth and structure")


def _rates(doc: Document, rates_dir: Path, quick: bool, work: Path) -> None:
    import json

    from optnet_theory.rates import FULL_KAPPAS, KAPPAS, list_variants, measure_rates, write_outputs

    saved = rates_dir / "rates.json"
    if saved.exists() and not quick:
        data = json.loads(saved.read_text())
        doc.p(f"LOADED from {saved} (written {_stamp(saved)} by `optnet rates`); not recomputed.")
        png = rates_dir / "rates.png"
        image = work / "rates.png"
        if png.exists():
            shutil.copyfile(png, image)
    else:
        kappas = list(KAPPAS if quick else FULL_KAPPAS)
        t0 = time.perf_counter()
        result = measure_rates(kappas, eps=1e-6, dim=16 if quick else 30)
        write_outputs(result, work)
        data = result.to_json()
        image = work / "rates.png"
        doc.p(f"COMPUTED by this run ({time.perf_counter() - t0:.1f} s).")
    doc.p(f"Tied-weight networks run as algorithms on f of (8) with Phi = tanh, mu = 1/kappa, "
          f"L = 1 (from optnet_theory.energy.curvature), d={data['dim']}; layers until "
          f"||x_K - x*|| <= {data['eps']:g} from ||x_0 - x*|| = 1; slope of log(layers) "
          "against log(kappa).")
    head = ["variant", "eq.", "momentum"] + [f"κ={k:g}" for k in data["kappas"]] + [
        "slope", "theory"]
    rows = []
    known = list_variants()
    for v, counts in data["layers"].items():
        s, th = data["slopes"][v], known[v][2]
        rows.append([v, known[v][0], known[v][1]]
                    + [str(n) if n is not None else "not reached" for n in counts]
                    + [f"{s:.3f}" if s is not None else "–",
                       f"{th:g}" if th is not None else "none stated"])
    doc.table(head, rows)
    if image.exists():
        doc.img(image, "layers to epsilon against kappa")


def _proofs(doc: Document) -> None:
    from optnet_proofs.cli import run_proofs

    t0 = time.perf_counter()
    results = run_proofs()
    proved = sum(r.proved for r in results)
    doc.p(f"Computed by this run ({time.perf_counter() - t0:.1f} s): {proved}/{len(results)} "
          "proofs PROVED.")
    doc.table(["proof", "claim", "verdict", "checks", "errata"],
              [[r.name, r.claim, r.verdict, str(r.as_dict()["checks"]), str(len(r.errata))]
               for r in results])


def _hypothesis(doc: Document, sim_dir: Path, rates_dir: Path, runs_dir: Path) -> None:
    from optnet_nets.hypothesis import format_hypothesis, measure_hypothesis

    h = measure_hypothesis(sim_dir, rates_dir, runs_dir)
    doc.p(f"LOADED from the run files in {sim_dir} (Table-2 MSE per seed), {rates_dir} "
          f"(layers to epsilon) and the studies under {runs_dir}; certificates COMPUTED by PEP "
          f"(cached in {sim_dir / 'certified.json'}). The hypothesis predicts a positive rank "
          "correlation between a method's certified worst case and its network's error. "
          "See optnet_nets/hypothesis/section.py for the verdict rule.")
    doc.p(format_hypothesis(h))


def _studies(doc: Document, runs_dir: Path, work: Path) -> None:
    from optnet_nets.study.report_section import add_studies

    add_studies(doc, runs_dir, work)


# --------------------------------------------------------------------------- command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs/report/report.md"),
                        help="Markdown file to write (default runs/report/report.md); images "
                             "are written beside it")
    parser.add_argument("--html", action="store_true", help="also write FILE.html")
    parser.add_argument("--quick", action="store_true",
                        help="compute Table 2 and the rates now in their quick settings "
                             "instead of loading saved runs")
    parser.add_argument("--simulate-dir", type=Path, default=Path("runs/simulate"),
                        help="saved `optnet simulate` run to load (default runs/simulate)")
    parser.add_argument("--rates-dir", type=Path, default=Path("runs/rates"),
                        help="saved `optnet rates` run to load (default runs/rates)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"),
                        help="folder searched for `optnet study` results (default runs)")
    parser.add_argument("--hypothesis-dir", type=Path, default=None,
                        help="`optnet simulate` run with tmm/item for the hypothesis section "
                             "(default: --simulate-dir)")
    parser.add_argument("--skip", nargs="+", default=[],
                        choices=["table1", "table2", "rates", "proofs", "studies", "hypothesis"],
                        help="leave sections out (they are listed as skipped)")


def build_report(args: argparse.Namespace, work: Path) -> tuple[Document, dict[str, str]]:
    doc = Document()
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc.p(f"Written {now} by `optnet report`{' --quick' if args.quick else ''}. Each section "
          "states whether its numbers were COMPUTED by this run or LOADED from an earlier "
          "run's results files.")
    sections: dict[str, tuple[str, Callable[[Document], None]]] = {
        "table1": ("Table 1 and its errata (Sec. 3)", _table1),
        "table2": ("Table 2 rerun beside the paper's (Sec. 5.3)",
                   lambda d: _table2(d, args.simulate_dir, args.quick, work)),
        "rates": ("Layers to epsilon against L/mu (Sec. 5.1)",
                  lambda d: _rates(d, args.rates_dir, args.quick, work)),
        "proofs": ("Executable proofs", _proofs),
        "studies": ("Studies: models over seeds (Sec. 7, Tables 4-5)",
                    lambda d: _studies(d, args.runs_dir, work)),
        "hypothesis": ("The hypothesis measured: certified speed against network quality "
                       "(Sec. 5.3, beyond the paper)",
                       lambda d: _hypothesis(d, args.hypothesis_dir or args.simulate_dir,
                                             args.rates_dir, args.runs_dir)),
    }
    status: dict[str, str] = {}
    for key, (title, fill) in sections.items():
        if key in args.skip:
            doc.h(title)
            doc.p("SKIPPED (--skip).")
            status[key] = "skipped"
        else:
            status[key] = _section(doc, title, fill)
    return doc, status


def run(args: argparse.Namespace) -> int:
    from optnet_nets.folders.writable import writable_file

    out = writable_file(args.out, "--out")  # before the sections: fail at once, not at the end
    with tempfile.TemporaryDirectory() as tmp:
        doc, status = build_report(args, Path(tmp))
        for image in doc.images:
            if image.exists():
                shutil.copyfile(image, out.parent / image.name)
    out.write_text(doc.markdown(), encoding="utf-8")
    written = [str(out)]
    if args.html:
        html_path = out.with_suffix(".html")
        html_path.write_text(doc.html(), encoding="utf-8")
        written.append(str(html_path))
    print("sections: " + ", ".join(f"{k} {v}" for k, v in status.items()))
    print("written: " + ", ".join(written))
    return 0
