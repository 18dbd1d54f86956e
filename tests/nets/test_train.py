"""The trainer: Sec. 7.1 recipe, learning, metrics schema, NaN stop, kill-and-resume exactness."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from optnet_nets.cli import main
from optnet_nets.models.layers import init_weights
from optnet_nets.train import (
    REQUIRED_KEYS,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    lr_factor,
    read_metrics,
    train,
)
from optnet_nets.train import checkpoint as ckpt
from optnet_nets.train.distributed import setup
from optnet_theory.errors import OptnetError
from tests.nets.train_worker import run as run_worker
from tests.nets.train_worker import tiny_dataset, tiny_net

WORKER = Path(__file__).with_name("train_worker.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(False)


def _config(tmp_path: Path, **overrides) -> TrainConfig:
    values = dict(model="tiny", dataset="synthetic", out=str(tmp_path / "run"), epochs=3,
                  batch_size=16, lr=0.05, device="cpu", progress=False, eval_batch_size=32)
    values.update(overrides)
    return TrainConfig(**values)


# ---------------------------------------------------------------- the Sec. 7.1 recipe
def test_defaults_are_the_papers_cifar_recipe():
    config = TrainConfig()
    assert (config.momentum, config.nesterov, config.weight_decay) == (0.9, True, 1e-4)
    assert (config.epochs, config.batch_size, config.lr) == (300, 64, 0.1)
    assert config.milestone_epochs() == (150.0, 225.0)
    assert config.init == "paper"
    imagenet = TrainConfig.from_preset("imagenet")
    assert (imagenet.epochs, imagenet.batch_size) == (100, 256)
    assert imagenet.milestone_epochs() == (30.0, 60.0, 90.0)


def test_lr_drops_by_ten_at_half_and_three_quarters():
    config = TrainConfig(epochs=300)
    steps = 782  # 50,000 / 64
    lrs = {e: config.lr * lr_factor(int(e * steps), steps, config) for e in (0, 149.9, 150, 224.9,
                                                                             225, 299.9)}
    assert lrs[0] == lrs[149.9] == pytest.approx(0.1)
    assert lrs[150] == lrs[224.9] == pytest.approx(0.01)
    assert lrs[225] == lrs[299.9] == pytest.approx(0.001)
    imagenet = TrainConfig.from_preset("imagenet")
    drops = [lr_factor(e * 100, 100, imagenet) for e in (29, 30, 59, 60, 89, 90)]
    assert drops == pytest.approx([1, 0.1, 0.1, 0.01, 0.01, 0.001])


def test_warmup_scales_the_first_epochs_only():
    config = TrainConfig(epochs=10, warmup_epochs=0.5, warmup_factor=0.1)
    assert lr_factor(0, 100, config) == pytest.approx(0.1)
    assert lr_factor(49, 100, config) == pytest.approx(0.1)
    assert lr_factor(50, 100, config) == pytest.approx(1.0)


def test_bad_config_values_are_clear_errors():
    with pytest.raises(OptnetError, match="batch_size"):
        TrainConfig(batch_size=0).validate()
    with pytest.raises(OptnetError, match="amp must be one of auto, bf16, fp16, none"):
        TrainConfig(amp="fp8").validate()
    with pytest.raises(OptnetError, match="unknown preset"):
        TrainConfig.from_preset("mnist")
    with pytest.raises(OptnetError, match="unknown TrainConfig field"):
        TrainConfig.from_preset("cifar", learning_rate=0.1)


def test_paper_init_he_for_convs_xavier_for_classifier():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.Flatten(),
                        nn.Linear(512, 100))
    init_weights(net)
    conv, bn, fc = net[0], net[1], net[3]
    he_std = math.sqrt(2.0 / (128 * 3 * 3))  # fan_out = C_out * k * k
    assert conv.weight.std().item() == pytest.approx(he_std, rel=0.03)
    bound = math.sqrt(6.0 / (512 + 100))
    assert fc.weight.abs().max().item() <= bound
    assert fc.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert torch.all(fc.bias == 0) and torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    # controls: torch's default init and He with fan_in would both miss the tolerance
    assert nn.Conv2d(64, 128, 3).weight.std().item() != pytest.approx(he_std, rel=0.03)
    fan_in = nn.init.kaiming_normal_(torch.empty(128, 64, 3, 3), mode="fan_in")
    assert fan_in.std().item() != pytest.approx(he_std, rel=0.03)


# ---------------------------------------------------------------- a run, its metrics
def test_training_learns_and_writes_the_metrics_schema(tmp_path):
    torch.manual_seed(0)
    summary = train(_config(tmp_path), dataset=tiny_dataset(), model=tiny_net(True))
    records = read_metrics(tmp_path / "run")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    for record in records:
        for key in REQUIRED_KEYS:
            assert isinstance(record[key], (int, float)) and math.isfinite(record[key]), key
        assert 0 <= record["test_acc"] <= 1 and record["images_per_s"] > 0
    assert records[-1]["test_acc"] > 0.6  # four classes: chance is 0.25
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert summary["final_test_acc"] == records[-1]["test_acc"]
    assert summary["best_test_acc"] == max(r["test_acc"] for r in records)
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["final_test_error"] == pytest.approx(1 - records[-1]["test_acc"])
    state = ckpt.load_state(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 3 and state["step_in_epoch"] == 0 and state["global_step"] == 48


def test_read_metrics_rejects_a_broken_file(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1.0}\n')
    with pytest.raises(OptnetError, match="missing keys"):
        read_metrics(tmp_path)
    with pytest.raises(OptnetError, match="no metrics.jsonl"):
        read_metrics(tmp_path / "nowhere")


class NaNAfter(nn.Module):
    """Wraps a net; from the ``k``-th training forward on, its logits are NaN."""

    def __init__(self, net: nn.Module, k: int):
        super().__init__()
        self.net, self.k, self.calls = net, k, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
        out = self.net(x)
        return out * float("nan") if self.training and self.calls >= self.k else out


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = NaNAfter(tiny_net(True), k=7)
    config = _config(tmp_path, checkpoint_every_steps=2)
    with pytest.raises(TrainingDiverged, match="non-finite training loss in epoch 1") as info:
        train(config, dataset=tiny_dataset(), model=model)
    assert "last finite checkpoint is" in str(info.value) and "(step 6)" in str(info.value)
    state = ckpt.load_state(tmp_path / "run" / "checkpoint.pt")
    assert state["global_step"] == 6  # saved at steps 2, 4, 6; step 7 diverged
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    assert not (tmp_path / "run" / "metrics.jsonl").read_text().strip()  # no epoch finished


# ---------------------------------------------------------------- kill -9 and resume
def _worker(out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(WORKER), str(out), "--epochs", "3", "--num-train", "512",
            "--checkpoint-every", "1", *extra]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return env


def _checkpoint_step(path: Path) -> int:
    try:
        return int(ckpt.load_state(path)["global_step"])
    except OptnetError:
        return -1


def test_sigkill_at_a_random_step_then_resume_gives_identical_weights(tmp_path):
    """Deterministic CPU mode: killed + resumed ends bit-for-bit where an uninterrupted run ends."""
    total = 3 * 512 // 16
    target = random.SystemRandom().randint(3, total // 2)
    reference = tmp_path / "reference"  # in this process, also one thread, deterministic
    expected = run_worker(str(reference), epochs=3, num_train=512, checkpoint_every=1)
    expected = expected.state_dict()

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_worker(killed), env=_env())
    deadline = time.monotonic() + 240
    while _checkpoint_step(killed / "checkpoint.pt") < target and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.005)
    time.sleep(random.SystemRandom().uniform(0, 0.01))  # anywhere inside a step or a save
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    stopped_at = _checkpoint_step(killed / "checkpoint.pt")
    assert target <= stopped_at < total, (target, stopped_at)

    subprocess.run(_worker(killed, "--resume"), env=_env(), check=True, timeout=300)
    resumed = torch.load(killed / "final.pt", weights_only=True)
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(expected[name], resumed[name]), (name, target, stopped_at)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["resumed_from_step"] == stopped_at
    drop = ("images_per_s", "elapsed_s")
    clean = [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(killed)]
    assert clean == [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(reference)]


def _resumed_run(tmp_path: Path, name: str, *, drop_momentum: bool) -> dict:
    """One epoch, then a second one resumed from the epoch-end checkpoint (in process)."""
    fixed = dict(milestone_unit="epoch", lr_milestones=(10.0,), out=str(tmp_path / name))
    torch.manual_seed(0)
    train(_config(tmp_path, epochs=1, **fixed), dataset=tiny_dataset(), model=tiny_net(True))
    torch.manual_seed(0)
    model = tiny_net(True)
    trainer = Trainer(_config(tmp_path, epochs=2, **fixed), setup("cpu"),
                      dataset=tiny_dataset(), model=model)
    assert trainer.resume()
    if drop_momentum:
        trainer.optimizer.state.clear()
    trainer.fit()
    return model.state_dict()


def test_resume_is_exact_and_dropping_state_would_be_caught(tmp_path):
    """In process: resume == uninterrupted; a resume that loses the momentum buffers is not."""
    torch.use_deterministic_algorithms(True)
    fixed = dict(milestone_unit="epoch", lr_milestones=(10.0,), out=str(tmp_path / "straight"))
    torch.manual_seed(0)
    straight = tiny_net(True)
    train(_config(tmp_path, epochs=2, **fixed), dataset=tiny_dataset(), model=straight)
    expected = straight.state_dict()
    good = _resumed_run(tmp_path, "good", drop_momentum=False)
    broken = _resumed_run(tmp_path, "broken", drop_momentum=True)
    assert all(torch.equal(good[k], expected[k]) for k in expected)
    assert not all(torch.equal(broken[k], expected[k]) for k in expected)


def test_resume_refuses_a_different_model_or_batch(tmp_path):
    torch.manual_seed(0)
    train(_config(tmp_path, epochs=1), dataset=tiny_dataset(), model=tiny_net(True))
    with pytest.raises(OptnetError, match="batch_size=16, this run has batch_size=32"):
        train(_config(tmp_path, epochs=2, batch_size=32), dataset=tiny_dataset(),
              model=tiny_net(True), resume=True)


# ---------------------------------------------------------------- the CLI
TINY_DATA = ["--dataset", "synthetic", "--dataset-option", "num_train=64",
             "--dataset-option", "num_test=32", "--dataset-option", "image_size=8",
             "--batch-size", "32", "--threads", "1", "--no-progress"]  # fmt: skip


def test_cli_bad_names_are_one_line_listing_the_choices(capsys):
    assert main(["train", "--model", "resnet21", "--dataset", "synthetic"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "resnet21" in err and "hbnet56" in err
    assert main(["train", "--model", "resnet20", "--dataset", "cifar11"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cifar11" in err and "fashion-mnist" in err


def test_cli_trains_resumes_and_refuses_to_clobber(tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert main(["train", "--model", "resnet20", *TINY_DATA, "--epochs", "1", "--out", out,
                 "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["epochs"] == 1 and first["model"] == "resnet20" and first["steps"] == 2
    # the same command again would overwrite the run: refused
    assert main(["train", "--model", "resnet20", *TINY_DATA, "--epochs", "1", "--out",
                 out]) == 2
    assert "--resume" in capsys.readouterr().err
    # --resume needs only --out; the saved settings are the base, --epochs extends the run
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["epochs"] == 2 and second["resumed_from_step"] == 2 and second["steps"] == 4
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]


# ---------------------------------------------------------------- optnet compare
def _fake_run(root: Path, name: str, accs: list[float]) -> Path:
    from optnet_nets.train.metrics import MetricsLog

    run_dir = root / name
    log = MetricsLog(run_dir, enabled=True)
    for epoch, acc in enumerate(accs, start=1):
        log.write({"epoch": epoch, "train_loss": 1.0 / epoch, "test_loss": 1 - acc,
                   "test_acc": acc, "lr": 0.1, "images_per_s": 100.0})
    log.close()
    (run_dir / "config.json").write_text(json.dumps({"model": name}))
    return run_dir


def test_compare_table_json_and_png(tmp_path, capsys):
    a = _fake_run(tmp_path, "hbnet20", [0.80, 0.91, 0.90])
    b = _fake_run(tmp_path, "resnet20", [0.70, 0.85, 0.88])
    png = tmp_path / "plots" / "curves.png"
    assert main(["compare", str(a), str(b), "--json", "--plot", str(png)]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    assert [r["final_test_error"] for r in rows] == pytest.approx([0.10, 0.12])
    assert [r["best_test_error"] for r in rows] == pytest.approx([0.09, 0.12])
    assert [r["best_epoch"] for r in rows] == [2, 3]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert main(["compare", str(a), str(b)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["run", "epochs", "final"]
    assert "10.00" in table[2] and "9.00" in table[2] and "12.00" in table[3]


def test_compare_errors_are_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing")]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
    run_dir = _fake_run(tmp_path, "r", [0.5])
    assert main(["compare", str(run_dir), "--plot", str(tmp_path / "x.jpg")]) == 2
    assert "PNG" in capsys.readouterr().err


def test_resume_drops_metrics_of_unfinished_epochs_and_torn_lines(tmp_path):
    from optnet_nets.train.metrics import MetricsLog

    record = {"train_loss": 1.0, "test_loss": 1.0, "test_acc": 0.5, "lr": 0.1,
              "images_per_s": 1.0}
    log = MetricsLog(tmp_path, enabled=True)
    for epoch in (1, 2, 3):
        log.write({"epoch": epoch, **record})
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"epoch": 4, "train_lo')  # killed mid-append
    MetricsLog(tmp_path, enabled=True, resume_epoch=2)  # the checkpoint had finished epoch 2
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2]


def test_bf16_autocast_trains_and_differs_from_fp32(tmp_path):
    """--amp bf16 runs the same loop under autocast (on CPU here); its arithmetic is visibly
    different from fp32, so the option is really applied."""
    results = {}
    for amp in ("none", "bf16"):
        torch.manual_seed(0)
        model = tiny_net(True)
        train(_config(tmp_path, epochs=1, amp=amp, out=str(tmp_path / str(amp))),
              dataset=tiny_dataset(), model=model)
        results[amp] = model.state_dict()
        assert all(torch.isfinite(t).all() for t in results[amp].values() if t.is_floating_point())
    assert not all(torch.equal(results["none"][k], results["bf16"][k]) for k in results["none"])
