"""``optnet export``: a trained run as a torch.export program or ONNX, outputs as the original."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from optnet_nets.cli import main
from optnet_nets.commands.export import TOLERANCE
from optnet_nets.export import check_export, example_input, image_size, load_trained

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript"))
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "hbnet20"
    argv = ["train", "--model", "hbnet20", "--dataset", "synthetic", "--dataset-option",
            "num_train=64", "--dataset-option", "num_test=32", "--dataset-option",
            "image_size=12", "--dataset-option", "channels=1", "--batch-size", "32",
            "--threads", "1", "--epochs", "1", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


def test_the_run_is_rebuilt_from_its_checkpoint(run_dir: Path) -> None:
    model, config = load_trained(run_dir)
    assert config["model"] == "hbnet20" and image_size(config) == (12, 12)
    assert example_input(model, (12, 12)).shape == (2, 1, 12, 12)
    assert not model.training


def test_pt2_outputs_equal_the_original(run_dir: Path, capsys) -> None:
    assert main(["export", str(run_dir), "--format", "pt2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] and result["max_rel_difference"] <= TOLERANCE["pt2"]
    assert result["file"] == str(run_dir / "model.pt2") and result["input_shape"][1:] == [1, 12, 12]
    program = torch.export.load(run_dir / "model.pt2").module()
    model, _ = load_trained(run_dir)
    images = torch.randn(5, 1, 12, 12)  # another batch size: the batch is dynamic
    with torch.no_grad():
        torch.testing.assert_close(program(images), model(images), rtol=1e-6, atol=1e-6)
    # negative control: a network with one weight changed no longer matches the file
    with torch.no_grad():
        next(p for p in model.parameters() if p.ndim == 4)[0, 0, 0, 0] += 0.5
    assert check_export(model, run_dir / "model.pt2", (12, 12)) > 100 * TOLERANCE["pt2"]


@pytest.mark.skipif(not HAVE_ONNX, reason="the onnx extra (onnx, onnxscript) is not installed")
def test_onnx_export_and_onnxruntime_agreement(run_dir: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "net.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(target),
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert target.is_file() and [p.name for p in tmp_path.iterdir()] == ["net.onnx"]
    import onnx

    onnx.checker.check_model(str(target))
    if not HAVE_ORT:
        assert result["checked_with"] is None and result["max_rel_difference"] is None
        pytest.skip("onnxruntime is not installed: the file is valid ONNX, outputs unchecked")
    assert result["checked_with"] == "onnxruntime" and result["passed"]
    assert result["max_rel_difference"] <= TOLERANCE["onnx"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "x.onnx"], "must end in .pt2"),
        (["--format", "onnx", "--out", "x.pt2"], "must end in .onnx"),
    ],
)
def test_a_wrong_suffix_is_a_one_line_error(run_dir: Path, extra: list[str], message: str,
                                            capsys) -> None:
    assert main(["export", str(run_dir), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_folder_without_a_checkpoint_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_the_old_tuple_form_of_export_run_still_works_with_a_warning(run_dir: Path,
                                                                     tmp_path: Path) -> None:
    """export_run returned (path, size) before it returned an Exported record: unpacking and
    indexing still give those, with a DeprecationWarning; the record's fields need none."""
    import warnings

    from optnet_nets.export import export_run

    done = export_run(run_dir, "pt2", out=tmp_path / "m.pt2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new form warns about nothing
        assert done.passed and done.path == tmp_path / "m.pt2"
    with pytest.warns(DeprecationWarning, match=r"\.path and \.size"):
        path, size = done
    assert (path, size) == (done.path, done.size)
    with pytest.warns(DeprecationWarning):
        assert done[0] == done.path
