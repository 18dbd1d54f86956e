"""``optnet prove``: report, JSON lines, exit status, bad names, and no torch import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from optnet_nets.cli import main
from optnet_proofs import cli as prove_cli
from optnet_proofs.framework import Proof


def test_prove_writes_a_report_with_errata(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report = tmp_path / "proofs.md"
    rc = main(["prove", "table3_resnet", "table3_dmrnet", "--report", str(report)])
    assert rc == 0
    text = report.read_text()
    assert "| `table3_resnet` |" in text and "**PROVED**" in text
    assert "## Errata found by the proofs" in text
    assert "Table 3, HB row" in text and "$$" in text
    assert "2/2 PROVED" in capsys.readouterr().out


def test_prove_json_is_one_object_per_proof(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["prove", "table3_resnet", "table3_densenet", "--json", "--report", "-"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    objs = [json.loads(line) for line in lines]
    assert [o["name"] for o in objs] == ["table3_resnet", "table3_densenet"]
    for o in objs:
        assert {"name", "claim", "proved", "seconds", "errata"} <= set(o)
        assert o["proved"] is True
    assert objs[1]["errata"] and {"where", "printed", "derived", "note"} <= set(
        objs[1]["errata"][0]
    )


def test_latex_output(capsys: pytest.CaptureFixture) -> None:
    assert main(["prove", "table3_resnet", "--latex", "--report", "-"]) == 0
    assert "T{\\left(x_{k} \\right)}" in capsys.readouterr().out


def test_unknown_name_is_a_clear_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["prove", "lemma7", "--report", "-"]) == 2
    err = capsys.readouterr().err
    assert "unknown proof 'lemma7'" in err and "lemma1" in err


def test_a_failed_proof_gives_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def failing() -> object:
        proof = Proof("broken", "a false claim", "1 = 2")
        proof.check("1 = 2", False)
        return proof.finish()

    monkeypatch.setattr(prove_cli, "load", lambda name: SimpleNamespace(prove=failing))
    assert main(["prove", "lemma1", "--report", "-"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_a_proof_module_runs_alone_without_torch() -> None:
    code = (
        "import sys, runpy; sys.argv = ['x', '--json'];\n"
        "try:\n    runpy.run_module('optnet_proofs.table3_resnet', run_name='__main__')\n"
        "except SystemExit as e:\n    rc = e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "import optnet_proofs.cli, optnet_proofs.registry\n"
        "assert 'torch' not in sys.modules\n"
        "sys.exit(rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["proved"] is True


def test_a_report_in_a_missing_folder_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["prove", "table3_resnet", "--report", str(tmp_path / "no" / "r.md")]) == 2
    assert "folder does not exist" in capsys.readouterr().err
