"""``optnet certify --from-run``: an hbnet trained one epoch with learnable coefficients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("PEPit")

from optnet_nets.cli import main  # noqa: E402
from optnet_nets.learned.method import read_run  # noqa: E402
from optnet_nets.train import TrainConfig, train  # noqa: E402
from optnet_nets.train import checkpoint as ckpt  # noqa: E402


def _train(tmp_path: Path, model: str, **options) -> Path:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path / model
        train(TrainConfig(
            model=model, dataset="synthetic", out=str(out), epochs=1, batch_size=16, lr=0.05,
            device="cpu", progress=False, eval_batch_size=32, model_options=options,
            dataset_options=dict(num_train=32, num_test=16, image_size=8, channels=1,
                                 num_classes=4),
        ))
    finally:
        torch.set_num_threads(threads)
    return out


def test_from_run_reads_the_trained_coefficients_and_certifies(tmp_path, capsys) -> None:
    run = _train(tmp_path, "hbnet20", learnable=True)
    coefficients = read_run(run).schedule
    state = ckpt.load_state(run / ckpt.CHECKPOINT_NAME)["model"]
    trained = torch.cat([state[f"stages.{i}.coefficients"] for i in range(3)]).tolist()
    # each layer's pair in table order, and training moved them off HB-Net's (1, -1)
    pairs = zip(coefficients.beta1, coefficients.beta2, strict=True)
    assert [v for pair in pairs for v in pair] == trained
    assert coefficients.depth == 9 and coefficients.consistency() > 0

    assert main(["certify", "--from-run", str(run), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == "hbnet20" and record["depth"] == 9
    assert [c["steps"] for c in record["certificates"]] == [9, 18]
    assert record["keeps_minimiser_fixed"] is False
    assert all(c["worst_case"] is None and "fixed" in c["error"] for c in record["certificates"])
    assert all(c["worst_case"] > 0 for c in record["consistent_part_certificates"])
    assert record["nearest"][0]["distance"] <= record["nearest"][-1]["distance"]
    assert {d["method"] for d in record["nearest"]} >= {"gd", "hb", "agd", "ogm"}

    assert main(["certify", "--from-run", str(run)]) == 0
    text = capsys.readouterr().out
    assert "NOT a convergent method" in text and "nearest registered methods" in text


def test_from_run_with_fixed_hbnet_coefficients_is_heavy_ball_with_unit_momentum(
    tmp_path, capsys
) -> None:
    """Fixed (1, -1): consistent, and exactly hb with beta = 1 (distance 0)."""
    run = _train(tmp_path, "hbnet20")
    assert main(["certify", "--from-run", str(run), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["keeps_minimiser_fixed"] is True
    best = record["nearest"][0]
    assert best["method"] == "hb" and best["params"]["beta"] == 1.0 and best["distance"] < 1e-12


def test_from_run_without_a_checkpoint_is_a_one_line_error(tmp_path, capsys) -> None:
    assert main(["certify", "--from-run", str(tmp_path)]) == 2
    assert "checkpoint.pt" in capsys.readouterr().err
