"""Issue 15, training and runs side: run directories are the truth, divergence keeps a finite
checkpoint, one-line errors for unusable outputs and damaged run files, resource caps."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from optnet_nets import simulate
from optnet_nets.cli import main
from optnet_nets.simulate import SimulateConfig, load_results, run_simulation
from optnet_nets.simulate.budget import estimate
from optnet_nets.train import Trainer, TrainingDiverged, train
from optnet_nets.train import checkpoint as ckpt
from optnet_nets.train.config import TrainConfig
from optnet_nets.train.distributed import setup
from optnet_theory.errors import OptnetError
from tests.nets.train_worker import tiny_dataset, tiny_net


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_DATA = ["--dataset", "synthetic", "--dataset-option", "num_train=64",
             "--dataset-option", "num_test=32", "--dataset-option", "image_size=8",
             "--batch-size", "32", "--threads", "1", "--no-progress"]  # fmt: skip
TINY_SIM = dict(depths=(2,), seeds=(0,), epochs=2, samples=100, dim=6, batch_size=50)


def _one_line_error(capsys, code: int) -> str:
    """The command's stderr, checked to be exactly one 'error:' line with exit status 2."""
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "error:" in err and "Traceback" not in err, err
    return err


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def _config(tmp_path: Path, **overrides) -> TrainConfig:
    values = dict(model="tiny", dataset="synthetic", out=str(tmp_path / "run"), epochs=1,
                  batch_size=16, lr=0.05, device="cpu", progress=False, eval_batch_size=32)
    values.update(overrides)
    return TrainConfig(**values)


# ---------------------------------------------------------------- run directories are the truth
def test_resuming_a_copy_writes_only_the_copy(tmp_path, capsys):
    original, copy = tmp_path / "a", tmp_path / "b"
    assert main(["train", "--model", "resnet20", *TINY_DATA, "--epochs", "1",
                 "--out", str(original)]) == 0
    shutil.copytree(original, copy)
    before = _files(original)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(copy), "--epochs", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(copy) and summary["resumed_from_step"] == 2
    assert _files(original) == before  # the original run is untouched
    assert json.loads((copy / "summary.json").read_text())["epochs"] == 2
    assert json.loads((copy / "config.json").read_text())["out"] == str(copy)


def test_resuming_a_moved_run_continues_it(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    assert main(["train", "--model", "resnet20", *TINY_DATA, "--epochs", "1",
                 "--out", str(old)]) == 0
    old.rename(new)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(new), "--epochs", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed_from_step"] == 2 and summary["steps"] == 4  # not from scratch
    assert not old.exists()


def test_resume_without_a_checkpoint_is_an_error_unless_asked_to_start(tmp_path, capsys):
    out = str(tmp_path / "empty")
    err = _one_line_error(capsys, main(["train", "--resume", "--out", out, "--model",
                                        "resnet20", *TINY_DATA, "--epochs", "1"]))
    assert "cannot resume" in err and "--resume-or-start" in err
    assert not Path(out, "checkpoint.pt").exists()
    err = _one_line_error(capsys, main(["train", "--resume", "--overwrite", "--out", out]))
    assert "choose one" in err
    assert main(["train", "--resume-or-start", "--out", out, "--model", "resnet20", *TINY_DATA,
                 "--epochs", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resumed_from_step"] is None
    assert main(["train", "--resume-or-start", "--out", out, "--epochs", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resumed_from_step"] == 2
    with pytest.raises(OptnetError, match="no checkpoint.pt"):  # the library, too
        train(_config(tmp_path, out=str(tmp_path / "lib")), dataset=tiny_dataset(),
              model=tiny_net(True), resume=True)


def test_a_resume_uses_the_learning_rate_it_is_given(tmp_path):
    fixed = dict(milestone_unit="epoch", lr_milestones=(10.0,))  # no lr drop in 2 epochs
    torch.manual_seed(0)
    train(_config(tmp_path, **fixed), dataset=tiny_dataset(), model=tiny_net(True))
    saved = ckpt.load_state(tmp_path / "run" / "checkpoint.pt")["optimizer"]["param_groups"]
    assert saved[0]["lr"] == pytest.approx(0.05)  # control: the state brings the old lr along
    trainer = Trainer(_config(tmp_path, epochs=2, lr=0.005, **fixed), setup("cpu"),
                      dataset=tiny_dataset(), model=tiny_net(True))
    assert trainer.resume()
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [pytest.approx(0.005)]
    trainer.scheduler.step()
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)


# ---------------------------------------------------------------- divergence
class PoisonAfter(nn.Module):
    """Sets a running statistic to inf in the k-th training forward (as lr=3 does to hbnet20's
    batch-norm variances): that step's loss is finite, the state after it is not."""

    def __init__(self, net: nn.Module, k: int):
        super().__init__()
        self.net, self.k, self.calls = net, k, 0
        self.register_buffer("running_stat", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.calls == self.k:
                self.running_stat.fill_(float("inf"))
        return out


def _poisoned_run(tmp_path: Path, k: int) -> TrainingDiverged:
    torch.manual_seed(0)
    config = _config(tmp_path, checkpoint_every_steps=2)
    with pytest.raises(TrainingDiverged) as info:
        train(config, dataset=tiny_dataset(), model=PoisonAfter(tiny_net(True), k))
    return info.value


def test_non_finite_weights_are_never_saved(tmp_path, monkeypatch):
    error = str(_poisoned_run(tmp_path / "checked", k=5))
    assert "model.running_stat" in error and "(step 4)" in error and "--lr 0.005" in error
    state = ckpt.load_state(tmp_path / "checked" / "run" / "checkpoint.pt")
    assert state["global_step"] == 4
    assert ckpt.non_finite({"model": state["model"], "optimizer": state["optimizer"]}) == []
    # control: without the check the step-6 checkpoint would hold the infinite weight
    monkeypatch.setattr(Trainer, "check_state_finite", lambda self: None)
    torch.manual_seed(0)
    unchecked = _config(tmp_path / "unchecked", checkpoint_every_steps=2)
    train(unchecked, dataset=tiny_dataset(), model=PoisonAfter(tiny_net(True), 5))
    bad = ckpt.load_state(tmp_path / "unchecked" / "run" / "checkpoint.pt")
    assert ckpt.non_finite(bad["model"]) != []


def test_divergence_before_the_first_save_says_there_is_no_checkpoint(tmp_path):
    error = str(_poisoned_run(tmp_path, k=1))
    assert "No checkpoint of this run was written" in error and "--lr 0.005" in error
    assert "kept at" not in error
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_lr_3_divergence_keeps_a_finite_checkpoint_and_suggests_a_lower_lr(tmp_path, capsys):
    out = tmp_path / "div"
    code = main(["train", "--model", "hbnet20", "--dataset", "synthetic", "--dataset-option",
                 "num_train=256", "--dataset-option", "num_test=32", "--dataset-option",
                 "image_size=8", "--batch-size", "16", "--threads", "1", "--no-progress",
                 "--epochs", "2", "--checkpoint-every", "5", "--lr", "3", "--out", str(out)])
    err = _one_line_error(capsys, code)
    assert "non-finite" in err and "--lr 0.3" in err and "none was written" not in err
    state = ckpt.load_state(out / "checkpoint.pt")
    assert ckpt.non_finite({"model": state["model"], "optimizer": state["optimizer"]}) == []
    assert f"(step {state['global_step']})" in err


def test_a_non_finite_checkpoint_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    train(_config(tmp_path), dataset=tiny_dataset(), model=tiny_net(True))
    path = tmp_path / "run" / "checkpoint.pt"
    state = ckpt.load_state(path)
    next(iter(state["model"].values())).fill_(float("nan"))
    ckpt.save_atomic(state, path)  # as an older version could leave it
    with pytest.raises(OptnetError, match="non-finite values .*--overwrite"):
        train(_config(tmp_path, epochs=2), dataset=tiny_dataset(), model=tiny_net(True),
              resume=True)


# ---------------------------------------------------------------- unsafe checkpoints
class _Payload:
    def __reduce__(self):
        return (print, ("this would run at load time",))


def test_an_unsafe_checkpoint_is_refused_in_our_words(tmp_path, capsys):
    run_dir = tmp_path / "evil"
    run_dir.mkdir()
    torch.save({"format": ckpt.FORMAT_VERSION, "payload": _Payload()}, run_dir / "checkpoint.pt")
    err = _one_line_error(capsys, main(["train", "--resume", "--out", str(run_dir)]))
    assert "(print)" in err and "weights_only=True" in err
    assert "weights_only=False" not in err and "\x1b" not in err
    assert "would run" not in capsys.readouterr().out


# ---------------------------------------------------------------- unusable output places
def _blocked_places(tmp_path: Path) -> list[Path]:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    places = [Path("/proc/optnet-test"), a_file / "sub", a_file]
    if Path("/sys").is_dir() and not os.access("/sys", os.W_OK):
        places.append(Path("/sys/optnet-test"))
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if not os.access(read_only, os.W_OK):  # as root every folder is writable
        places.append(read_only)
    return places


@pytest.mark.parametrize("command", ["train", "compare", "simulate", "demo", "report"])
def test_unusable_outputs_are_one_line_errors(tmp_path, capsys, command):
    run_dir = tmp_path / "finished"
    if command == "compare":
        from optnet_nets.train.metrics import MetricsLog

        log = MetricsLog(run_dir, enabled=True)
        log.write({"epoch": 1, "train_loss": 1.0, "test_loss": 1.0, "test_acc": 0.5, "lr": 0.1,
                   "images_per_s": 1.0})
        log.close()
    for place in _blocked_places(tmp_path):
        argv = {
            "train": ["train", "--model", "resnet20", *TINY_DATA, "--epochs", "1",
                      "--out", str(place)],
            "compare": ["compare", str(run_dir), "--plot", str(place / "curves.png")],
            "simulate": ["simulate", "--quick", "--epochs", "1", "--out", str(place)],
            "demo": ["demo", "--quick", "--out", str(place)],
            "report": ["report", "--quick", "--out", str(place / "report.md")],
        }[command]
        err = _one_line_error(capsys, main(argv))
        assert str(place) in err, err


# ---------------------------------------------------------------- damaged simulate run files
@pytest.fixture()
def sim_run(tmp_path) -> tuple[SimulateConfig, Path]:
    cfg = SimulateConfig(**TINY_SIM)
    out = tmp_path / "sim"
    run_simulation(cfg, out, progress=False)
    return cfg, out


@pytest.mark.parametrize("content", [b'{"depth": 2, "se', b"", b"[]", b'{"depth": 2}',
                                     b"\xff\xfe"],
                         ids=["truncated", "empty", "not-an-object", "missing-keys", "binary"])
def test_a_damaged_partial_result_is_named_with_the_way_out(sim_run, content):
    cfg, out = sim_run
    partial = out / "partial" / "depth2_seed0.json"
    partial.write_bytes(content)
    for action in (lambda: run_simulation(cfg, out, progress=False), lambda: load_results(out)):
        with pytest.raises(OptnetError, match="delete it") as info:
            action()
        assert str(partial) in str(info.value) and "\n" not in str(info.value)
    partial.unlink()  # the way out works: that depth is trained again
    again = run_simulation(cfg, out, progress=False)
    assert again.runs[0]["epochs_in_this_process"] == cfg.epochs


def test_a_damaged_config_is_named(sim_run):
    cfg, out = sim_run
    (out / "config.json").write_text('{"depths": [2')
    for action in (lambda: run_simulation(cfg, out, progress=False), lambda: load_results(out)):
        with pytest.raises(OptnetError, match="config.json is damaged"):
            action()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_a_damaged_depth_checkpoint_is_named_with_the_way_out(tmp_path, capsys, damage):
    cfg = SimulateConfig(**TINY_SIM)
    out = tmp_path / "sim"
    run_simulation(cfg, out, progress=False)
    (out / "partial" / "depth2_seed0.json").unlink()
    path = out / "checkpoint_depth2_seed0.pt"
    good = tmp_path / "good.pt"
    ckpt.save_atomic({"seeds": [0], "model": {}, "optimizer": {}, "shufflers": [], "curve": [],
                      "epoch": 1, "seconds": 0.0}, good)
    path.write_bytes({"truncated": good.read_bytes()[:200], "garbage": b"not a checkpoint",
                      "foreign": b""}[damage])
    if damage == "foreign":
        torch.save({"weights": torch.ones(2)}, path)
    argv = ["simulate", "--depths", "2", "--seeds", "1", "--epochs", "2", "--samples", "100",
            "--dim", "6", "--batch-size", "50", "--out", str(out)]
    err = _one_line_error(capsys, main(argv))
    assert str(path) in err and "delete it" in err
    path.unlink()  # the way out works
    assert main(argv) == 0


def test_checkpoints_of_a_depth_in_progress_are_written_atomically(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(simulate.files, "save_atomic", lambda state, path: calls.append(path))
    run_simulation(SimulateConfig(**{**TINY_SIM, "epochs": 3}), tmp_path, progress=False,
                   checkpoint_seconds=0.0)
    assert calls == [tmp_path / "checkpoint_depth2_seed0.pt"] * 2  # after epochs 1 and 2


# ---------------------------------------------------------------- resource caps
@pytest.mark.parametrize("flags, limit", [
    (["--depths", "1000000000"], "GiB"),
    (["--seeds", "1000000000"], "GiB"),
    (["--samples", "1000000000000"], "GiB"),
    (["--dim", "100000000"], "GiB"),
    (["--epochs", "1000000000000"], "days"),
])  # fmt: skip
def test_runs_beyond_the_machine_are_refused_with_the_limit_named(tmp_path, capsys, flags,
                                                                  limit):
    err = _one_line_error(capsys, main(["simulate", "--quick", *flags, "--out",
                                        str(tmp_path)]))
    assert limit in err and "--force" in err
    assert not (tmp_path / "config.json").exists()  # refused before anything was written


def test_force_skips_the_cap(tmp_path, monkeypatch, capsys):
    reached = []
    monkeypatch.setattr(simulate, "run_simulation", lambda cfg, out, **kw: reached.append(cfg))
    monkeypatch.setattr(simulate, "format_table", lambda result: "")
    argv = ["simulate", "--quick", "--depths", "1000000000", "--out", str(tmp_path)]
    assert main(argv) == 2
    capsys.readouterr()
    assert main([*argv, "--force"]) == 0
    assert reached and reached[0].depths == (1000000000,)


def test_the_estimated_work_is_what_the_run_counts(tmp_path):
    cfg = SimulateConfig(**{**TINY_SIM, "depths": (2, 3), "seeds": (0, 1)})
    result = run_simulation(cfg, tmp_path, progress=False)
    per_unit = {r["depth"]: r["ensemble_gemm_flops"] for r in result.runs}
    budget = estimate(cfg.structures, cfg.depths, 2, samples=cfg.samples, dim=cfg.dim,
                      batch_size=cfg.batch_size, epochs=cfg.epochs)
    assert budget.flops == sum(per_unit.values())
    more = estimate(cfg.structures, cfg.depths, 3, samples=cfg.samples, dim=cfg.dim,
                    batch_size=cfg.batch_size, epochs=cfg.epochs)
    assert more.flops != budget.flops and more.bytes > budget.bytes  # control: sizes count


# ---------------------------------------------------------------- smaller items
def test_bad_checkpoint_seconds_are_refused(tmp_path, capsys):
    for value in ("-5", "nan", "inf"):
        err = _one_line_error(capsys, main(["simulate", "--quick", "--checkpoint-seconds",
                                            value, "--out", str(tmp_path)]))
        assert "--checkpoint-seconds" in err


def test_a_data_dir_that_is_a_file_is_called_a_file(tmp_path, capsys):
    a_file = tmp_path / "cifar.tar.gz"
    a_file.write_bytes(b"x")
    err = _one_line_error(capsys, main(["train", "--model", "resnet20", "--dataset", "cifar10",
                                        "--data-dir", str(a_file), "--out",
                                        str(tmp_path / "run")]))
    assert "is a file, not a directory" in err and "does not exist" not in err


@pytest.mark.parametrize("field, value", [("lr", float("inf")), ("weight_decay", float("nan")),
                                          ("warmup_epochs", float("nan")),
                                          ("lr_milestones", (float("nan"),))])
def test_non_finite_recipe_values_are_refused(tmp_path, field, value):
    with pytest.raises(OptnetError, match=field):
        _config(tmp_path, **{field: value}).validate()


@pytest.mark.parametrize("line", ["5", '"text"', '{"epoch": 1, "train_loss": "x", '
                                  '"test_loss": 1, "test_acc": 0.5, "lr": 0.1, '
                                  '"images_per_s": 1}'])
def test_compare_reads_odd_metrics_lines_as_one_line_errors(tmp_path, capsys, line):
    (tmp_path / "metrics.jsonl").write_text(line + "\n")
    err = _one_line_error(capsys, main(["compare", str(tmp_path)]))
    assert "metrics.jsonl:1" in err
