"""``optnet report``: sections loaded with provenance, computed, or named as missing."""

from __future__ import annotations

import argparse
import sys

import pytest
import torch

from optnet_nets.cli import main
from optnet_nets.commands.report import add_arguments, build_report
from optnet_nets.simulate import SimulateConfig, run_simulation


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    cfg = SimulateConfig(depths=(10, 20), seeds=(0,), epochs=1, samples=100, dim=6,
                         batch_size=50)
    run_simulation(cfg, out, progress=False)
    return out


def test_table2_is_loaded_with_its_provenance(saved_run, tmp_path):
    args = _args("--simulate-dir", str(saved_run), "--skip", "table1", "rates", "proofs",
                 "hypothesis", "studies")
    doc, status = build_report(args, tmp_path)
    md = doc.markdown()
    assert status == {"table1": "skipped", "table2": "ok", "rates": "skipped",
                      "proofs": "skipped", "studies": "skipped", "hypothesis": "skipped"}
    assert f"LOADED from the results files of an earlier `optnet simulate` run in {saved_run}" in md
    assert "| 10 (paper) | 1.07576 | 1.00644 | 1.00443 | 1.00270 | 1.00745 |" in md  # printed
    assert "AGD < HB < GD < AGD2 < ADMM" in md  # the paper's ranking at depth 10
    assert "<table>" in doc.html() and "table2.png" in doc.html()


def test_missing_pieces_are_named_not_dropped(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optnet_proofs.cli", None)  # as if proofs were absent
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    args = _args("--simulate-dir", str(bad), "--skip", "table1", "rates", "studies", "hypothesis")
    doc, status = build_report(args, tmp_path)
    md = doc.markdown()
    assert status["proofs"] == "missing (optnet_proofs.cli)"
    assert status["table2"].startswith("failed")
    assert md.count("MISSING:") == 2


def test_cli_writes_markdown_html_and_images(saved_run, tmp_path, capsys):
    out = tmp_path / "r" / "report.md"
    rc = main(["report", "--out", str(out), "--html", "--simulate-dir", str(saved_run),
               "--skip", "table1", "rates", "proofs", "studies", "hypothesis"])
    assert rc == 0
    assert "table2 ok" in capsys.readouterr().out
    assert out.read_text().startswith("# optnet report")
    assert out.with_suffix(".html").read_text().startswith("<!doctype html>")
    assert (out.parent / "table2.png").stat().st_size > 1000
