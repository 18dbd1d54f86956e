"""``optnet prove`` writes its report under runs/ by default, not into the current folder."""

from __future__ import annotations

from pathlib import Path

from optnet_nets.cli import main
from optnet_proofs.cli import DEFAULT_REPORT


def test_the_default_report_goes_under_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "table3_resnet"]) == 0
    assert DEFAULT_REPORT.startswith("runs/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert "table3_resnet" in (tmp_path / DEFAULT_REPORT).read_text()
    assert f"report: {DEFAULT_REPORT}" in capsys.readouterr().out


def test_a_report_path_is_taken_as_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "table3_resnet", "--report", "mine.md"]) == 0
    assert (tmp_path / "mine.md").is_file() and not (tmp_path / "runs").exists()


def test_no_report_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "table3_resnet", "--report", "-"]) == 0
    assert list(tmp_path.iterdir()) == []
