"""Logs and defaults: one line per epoch naming the model, and runs never silently replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from optnet_nets.cli import main

TINY = ["--dataset", "synthetic", "--dataset-option", "num_train=64", "--dataset-option",
        "num_test=32", "--dataset-option", "image_size=8", "--batch-size", "32",
        "--threads", "1"]  # fmt: skip


def test_no_progress_prints_one_line_per_epoch_naming_the_model(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet20", *TINY, "--epochs", "2", "--out", str(out),
                 "--no-progress", "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert json.loads(captured.out)["epochs"] == 2
    lines = captured.err.strip().splitlines()
    pattern = r"resnet20 epoch {}/2: train loss \d+\.\d+ acc \d\.\d+ \| test loss"
    assert len(lines) == 2 and "\r" not in captured.err
    for epoch, line in enumerate(lines, start=1):
        assert re.match(pattern.format(epoch), line), line


def test_the_demo_refuses_to_replace_an_earlier_demo(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    (out / "hbnet20").mkdir(parents=True)
    (out / "hbnet20" / "metrics.jsonl").write_text("")
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err and str(out) in err


@pytest.mark.parametrize(("make", "extra"), [("none", []), ("empty", []),
                                             ("demo", ["--overwrite"])])
def test_the_demo_accepts_a_new_folder_or_overwrite(
    tmp_path: Path, make: str, extra: list[str], monkeypatch
) -> None:
    """The check lets these through (the demo is stopped right after it, before any work)."""
    from optnet_nets.commands import demo

    class Reached(Exception):
        pass

    def stop(activation: str) -> None:
        raise Reached

    monkeypatch.setattr(demo, "derive_and_verify", stop)
    out = tmp_path / "demo"
    if make != "none":
        out.mkdir()
    if make == "demo":
        (out / "curves.png").write_bytes(b"")
    with pytest.raises(Reached):
        main(["demo", "--quick", "--out", str(out), *extra])
