"""``optnet compare``: a PNG by default, whole-number epoch ticks, and unlike runs flagged."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from optnet_nets.cli import main
from optnet_nets.commands import compare
from optnet_nets.folders.settings import differences, run_setting
from optnet_nets.train.metrics import MetricsLog

PNG = b"\x89PNG\r\n\x1a\n"
RECIPE = {"model": "resnet20", "dataset": "synthetic", "epochs": 3, "lr": 0.1, "batch_size": 64,
          "dataset_options": {"num_train": 256}}


def _run(root: Path, name: str, **config: object) -> Path:
    run_dir = root / name
    log = MetricsLog(run_dir, enabled=True)
    for epoch in (1, 2, 3):
        log.write({"epoch": epoch, "train_loss": 1.0 / epoch, "test_loss": 0.5, "test_acc": 0.5,
                   "lr": 0.1, "images_per_s": 100.0})
    log.close()
    (run_dir / "config.json").write_text(json.dumps({**RECIPE, **config}))
    return run_dir


def test_the_png_is_written_beside_the_first_run_by_default(tmp_path: Path, capsys) -> None:
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b", model="hbnet20")
    assert main(["compare", str(a), str(b), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["plot"] == str(tmp_path / compare.DEFAULT_PLOT) and result["differences"] == {}
    assert (tmp_path / compare.DEFAULT_PLOT).read_bytes()[:8] == PNG
    assert "warning" not in captured.err  # the model may differ: that is the comparison


def test_no_plot_writes_none(tmp_path: Path, capsys) -> None:
    assert main(["compare", str(_run(tmp_path, "a")), "--no-plot", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plot"] is None
    assert not (tmp_path / compare.DEFAULT_PLOT).exists()


def test_epoch_ticks_are_whole_numbers(tmp_path: Path, monkeypatch) -> None:
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at its axes
    rows = [compare.summarize(_run(tmp_path, "a"))]
    compare.plot_curves(rows, tmp_path / "c.png")
    for ax in figures[0].axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close("all")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dataset": "mnist"}, "dataset"),
        ({"dataset_options": {"num_train": 128}}, "subset"),
        ({"epochs": 300}, "planned_epochs"),
        ({"lr": 0.05}, "lr"),
    ],
)
def test_runs_that_differ_get_a_warning_and_a_column(
    tmp_path: Path, capsys, change: dict, field: str
) -> None:
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b", **change)
    assert main(["compare", str(a), str(b), "--no-plot"]) == 0
    captured = capsys.readouterr()
    assert f"warning: these runs differ in {field} (" in captured.err
    header = captured.out.splitlines()[0].split()
    assert header[-2:] == ["img/s", field]  # the usual columns, then the one that differs


def test_like_runs_show_no_difference(tmp_path: Path) -> None:
    """Negative control for the check: identical settings, no field flagged."""
    settings = [run_setting(_run(tmp_path, name)) for name in ("a", "b")]
    assert settings[0]["lr"] == "0.1" and settings[0]["subset"] == "num_train=256"
    assert differences(settings) == {}
    assert differences([settings[0], {**settings[1], "lr": "0.2"}]) == {"lr": ["0.1", "0.2"]}
