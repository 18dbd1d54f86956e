"""``optnet demo``: derive, verify and train side by side, on Fashion-MNIST or the fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optnet_nets.cli import main
from optnet_nets.data import default_data_dir

FASHION = default_data_dir("fashion-mnist")


def _demo(tmp_path: Path, capsys, *extra: str) -> tuple[dict, str]:
    code = main(["demo", "--quick", "--json", "--threads", "1", "--out", str(tmp_path / "demo"),
                 *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    return json.loads(captured.out), captured.err


def _check_result(result: dict, tmp_path: Path) -> None:
    assert result["energy"]["verified"] and result["energy"]["method"] == "closed-form"
    assert [c["claim"] for c in result["checks"]] == ["lemma1", "hb"]
    assert all(c["passed"] and c["max_rel_error"] <= c["tolerance"] for c in result["checks"])
    assert [r["model"] for r in result["runs"]] == ["hbnet20", "resnet20"]
    for run, row in zip(result["runs"], result["comparison"], strict=True):
        assert run["final_test_error"] == pytest.approx(row["final_test_error"])
        assert 0.0 <= run["final_test_error"] <= 1.0
        assert (tmp_path / "demo" / run["model"] / "metrics.jsonl").is_file()
    assert Path(result["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(
    FASHION is None or not any(FASHION.glob("train-images*")),
    reason="Debian's dataset-fashion-mnist is not installed (CI installs it)",
)
def test_demo_quick_on_fashion_mnist(tmp_path, capsys):
    result, err = _demo(tmp_path, capsys)
    assert result["dataset"] == "fashion-mnist" and not result["fallback"]
    assert result["train_images"] == 128 and result["test_images"] == 128
    assert "notice" not in err
    _check_result(result, tmp_path)


def test_demo_falls_back_to_synthetic_with_a_notice(tmp_path, capsys):
    empty = tmp_path / "no-fashion-mnist"
    empty.mkdir()
    result, err = _demo(tmp_path, capsys, "--data-dir", str(empty))
    assert result["dataset"] == "synthetic" and result["fallback"]
    assert "notice: Fashion-MNIST not found" in err and "SYNTHETIC" in err
    _check_result(result, tmp_path)


def test_demo_rejects_an_unknown_model(capsys):
    assert main(["demo", "--quick", "--models", "hbnet20,nosuchnet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nosuchnet" in err and "resnet20" in err
