"""Issue 24's probes on runs, export and bounded inputs, each beside its negative control.

Item 1 (products as network activations), item 2 (one writer per run folder; export never
overwrites, writes atomically and nothing on a failed check), item 5 (study --seeds, export
--image-size, CIFAR pickles, model options, constant activations) and item 6 (one line for
export --out into /proc or under a file, and for damaged checkpoints).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from optnet_nets.cli import main
from optnet_nets.data.base import DatasetError
from optnet_nets.folders.lock import LOCK_NAME, folder_lock, holder
from optnet_nets.models import create_model
from optnet_nets.train import checkpoint as ckpt
from optnet_theory.errors import OptnetError
from tests.nets.data_files import write_cifar10

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "synthetic", "--dataset-option", "num_train=64", "--dataset-option",
        "num_test=32", "--dataset-option", "image_size=8", "--batch-size", "32", "--threads",
        "1", "--no-progress"]  # fmt: skip


def _one_line(capsys, code: int, needle: str, command: str | None = None) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert needle in err, err
    if command:
        assert err.startswith(f"optnet {command}: error:"), err
    return err


def _train(out: Path, *extra: str) -> int:
    return main(["train", "--model", "resnet20", *TINY, "--epochs", "1", "--out", str(out),
                 *extra])  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("probe") / "run"
    assert _train(out) == 0
    return out


# ------------------------------------------------------------------ item 2: one writer per run
def _start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "optnet_nets.cli", *argv], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_lock(folder: Path, proc: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + 120
    while (record := holder(folder)) is None:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        time.sleep(0.05)
    return record


def test_a_second_training_into_one_folder_is_refused_naming_the_first(tmp_path, capsys):
    out = tmp_path / "run"
    first = _start(["train", "--model", "resnet20", *TINY, "--epochs", "500", "--seed", "0",
                    "--out", str(out)])  # fmt: skip
    try:
        record = _wait_for_lock(out, first)
        assert record["pid"] == first.pid and record["command"] == "optnet train"
        for extra in ([], ["--overwrite"], ["--resume"]):
            code = _train(out, "--seed", "1", *extra)
            _one_line(capsys, code, f"in use by optnet train (pid {first.pid} on host "
                                    f"{socket.gethostname()}", "train")  # fmt: skip
    finally:
        os.kill(first.pid, signal.SIGKILL)  # killed: its lock stays behind, stale
        first.wait()
        first.stderr.close()
    lines = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() \
        else []  # fmt: skip
    assert all(json.loads(line)["epoch"] == i + 1 for i, line in enumerate(lines))  # one writer
    # negative control: once the first is gone, its stale lock does not block
    assert _train(out, "--seed", "1", "--overwrite") == 0
    assert "no longer running" in capsys.readouterr().err and holder(out) is None


def test_the_python_api_takes_the_lock_too(tmp_path):
    from optnet_nets.train import TrainConfig, train

    config = TrainConfig.from_preset("cifar", model="resnet20", dataset="synthetic", epochs=1,
                                     out=str(tmp_path / "run"), progress=False, batch_size=32,
                                     dataset_options={"num_train": 64, "num_test": 32,
                                                      "image_size": 8})  # fmt: skip
    code = ("import sys, time; from optnet_nets.folders.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], 'a cluster job'):\n"
            "    print('held', flush=True); time.sleep(600)")  # fmt: skip
    job = subprocess.Popen([sys.executable, "-c", code, config.out], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert job.stdout is not None and job.stdout.readline().strip() == "held"
        with pytest.raises(OptnetError, match=f"in use by a cluster job \\(pid {job.pid}"):
            train(config)
    finally:
        job.kill()
        job.wait()
        job.stdout.close()
    assert train(config)["epochs"] == 1  # control: the holder gone, the run goes


def _lock_record(folder: Path, **fields) -> None:
    record = {"host": socket.gethostname(), "pid": os.getpid(), "start": None,
              "command": "optnet train", "since": "then", **fields}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps(record))


def test_a_lock_from_another_host_is_never_broken(tmp_path):
    _lock_record(tmp_path, host="node-17.cluster", pid=4242)
    with pytest.raises(OptnetError) as info, folder_lock(tmp_path, "optnet train"):
        pass
    message = str(info.value)
    assert "pid 4242 on host node-17.cluster" in message and "remove" in message
    assert holder(tmp_path)["host"] == "node-17.cluster"  # left as it was


def test_a_dead_or_reused_pid_on_this_host_is_stale(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock_record(tmp_path, pid=dead.pid)  # this host, a pid that has exited
    with folder_lock(tmp_path, "optnet train"):
        assert holder(tmp_path)["pid"] == os.getpid()
    _lock_record(tmp_path, pid=os.getppid(), start="1")  # alive, but not the process that locked
    with folder_lock(tmp_path, "optnet train"):
        assert holder(tmp_path)["pid"] == os.getpid()
    assert holder(tmp_path) is None


def test_one_thread_re_enters_another_waits(tmp_path):
    order: list[str] = []
    with folder_lock(tmp_path, "optnet train"):
        with folder_lock(tmp_path, "optnet train"):  # re-entered by the same thread
            pass
        assert holder(tmp_path)["pid"] == os.getpid()  # still held after the inner exit
        waiter = threading.Thread(target=_take_and_note, args=(tmp_path, order))
        waiter.start()
        time.sleep(1.0)  # the waiter polls every 0.5 s: had it not waited, it would be done
        order.append("released")
    waiter.join(30)
    assert order == ["released", "waited"]
    with folder_lock(tmp_path, "first"):  # without wait=, another thread is refused at once
        with pytest.raises(OptnetError, match="in use by first"):
            _take_in_thread(tmp_path)


def _take_and_note(folder: Path, order: list[str]) -> None:
    with folder_lock(folder, "waiter", wait=30):
        order.append("waited")


def _take_in_thread(folder: Path) -> None:
    failure: list[BaseException] = []

    def take() -> None:
        try:
            with folder_lock(folder, "second"):
                pass
        except OptnetError as exc:
            failure.append(exc)

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(10)
    raise failure[0]


# ------------------------------------------------------------------ item 2: export
def _export(run: Path, *extra: str) -> int:
    return main(["export", str(run), *extra, "--json"])


def test_export_never_overwrites_without_force(run_dir, tmp_path, capsys):
    target = tmp_path / "net.pt2"
    target.write_bytes(b"somebody else's file")
    _one_line(capsys, _export(run_dir, "--out", str(target)), "pass --force", "export")
    assert target.read_bytes() == b"somebody else's file"
    assert _export(run_dir, "--out", str(target), "--force") == 0  # control: replaced
    assert json.loads(capsys.readouterr().out)["written"] is True
    assert target.read_bytes() != b"somebody else's file"
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt2"]  # no temporary left


def test_a_failed_check_writes_nothing(run_dir, tmp_path, capsys, monkeypatch):
    import optnet_nets.export as export

    target = tmp_path / "net.pt2"
    monkeypatch.setattr(export, "check_export", lambda model, path, size: 1.0)  # a bad file
    assert _export(run_dir, "--out", str(target)) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False and result["written"] is False
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()  # control: the true check passes and the file is there
    assert _export(run_dir, "--out", str(target)) == 0 and target.is_file()


def test_export_into_a_run_folder_in_use_is_refused(run_dir, tmp_path, capsys):
    code = ("import sys, time; from optnet_nets.folders.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], 'optnet train'):\n"
            "    print('held', flush=True); time.sleep(600)")  # fmt: skip
    trainer = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert trainer.stdout is not None and trainer.stdout.readline().strip() == "held"
        _one_line(capsys, _export(run_dir, "--force"), f"pid {trainer.pid}", "export")
        assert _export(run_dir, "--out", str(tmp_path / "elsewhere.pt2")) == 0  # control
    finally:
        trainer.kill()
        trainer.wait()
        trainer.stdout.close()


@pytest.mark.parametrize("place", ["/proc/optnet-probe/net.pt2", "FILE/net.pt2"])
def test_export_out_where_nothing_can_be_written_is_one_line(run_dir, tmp_path, capsys, place):
    blocker = tmp_path / "FILE"
    blocker.write_text("x")
    out = place.replace("FILE", str(blocker))
    _one_line(capsys, _export(run_dir, "--out", out), "cannot write", "export")
    assert _export(run_dir, "--out", str(tmp_path / "ok.pt2")) == 0  # control


def test_export_image_size_is_capped(run_dir, tmp_path, capsys):
    from optnet_nets.export import MAX_IMAGE_SIDE

    big = str(MAX_IMAGE_SIDE + 1)
    _one_line(capsys, _export(run_dir, "--out", str(tmp_path / "a.pt2"), "--image-size", big,
                              "8"), f"1..{MAX_IMAGE_SIDE}", "export")  # fmt: skip
    _one_line(capsys, _export(run_dir, "--out", str(tmp_path / "a.pt2"), "--image-size", "0",
                              "8"), "two sides", "export")  # fmt: skip
    assert _export(run_dir, "--out", str(tmp_path / "a.pt2"), "--image-size", "12", "12") == 0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda s: s.pop("model"), "has no 'model' entry"),
        (lambda s: s.pop("config"), "has no 'config' entry"),
        (lambda s: s.update(config="resnet20"), "its 'config' entry is a str"),
        (lambda s: s.update(model=[1, 2]), "its 'model' entry is a list"),
        (lambda s: s["config"].update(model=7), "its 'config' entry is a dict, expected"),
    ],
)
def test_a_damaged_checkpoint_is_one_line(run_dir, tmp_path, capsys, change, needle):
    copy = tmp_path / "run"
    copy.mkdir()
    state = ckpt.load_state(run_dir / ckpt.CHECKPOINT_NAME)
    torch.save(state, copy / ckpt.CHECKPOINT_NAME)
    assert _export(copy, "--out", str(tmp_path / "ok.pt2")) == 0  # control: the intact copy
    capsys.readouterr()
    change(state)
    torch.save(state, copy / ckpt.CHECKPOINT_NAME)
    _one_line(capsys, _export(copy, "--out", str(tmp_path / "x.pt2")), needle, "export")
    _one_line(capsys, main(["train", "--resume", "--out", str(copy), "--no-progress"]), needle,
              "train")  # fmt: skip


# ------------------------------------------------------------------ item 5: bounded inputs
def test_study_seeds_are_capped_unless_forced(tmp_path, capsys):
    from optnet_nets.commands.study import MAX_SEEDS

    argv = ["study", "--models", "resnet20", "--baseline", "resnet20", "--dataset", "synthetic",
            "--out", str(tmp_path / "s"), "--print-commands", "--json"]  # fmt: skip
    _one_line(capsys, main([*argv, "--seeds", str(10**9)]), "pass --force", "study")
    assert main([*argv, "--seeds", str(MAX_SEEDS + 1), "--force"]) == 0  # control
    assert len(json.loads(capsys.readouterr().out)["commands"]) == MAX_SEEDS + 1


def _huge_array_pickle(path: Path) -> None:
    class Huge:
        def __reduce__(self):
            return (np._core.multiarray._reconstruct, (np.ndarray, (10**13,), b"b"))

    path.write_bytes(pickle.dumps({b"data": Huge(), b"labels": [0]}, protocol=2))


def test_a_cifar_pickle_asking_for_1e13_bytes_is_refused_before_allocating(tmp_path):
    from optnet_nets.data import load_dataset

    write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    good = batch.read_bytes()
    _huge_array_pickle(batch)
    with pytest.raises(DatasetError, match="larger than any CIFAR array"):
        load_dataset("cifar10", tmp_path)
    batch.unlink()
    os.mkfifo(batch)  # a fifo is refused, not waited on
    with pytest.raises(DatasetError, match="not a regular file"):
        load_dataset("cifar10", tmp_path)
    batch.unlink()
    batch.write_bytes(good)  # control: the genuine file loads
    assert load_dataset("cifar10", tmp_path).test_size == 7


@pytest.mark.parametrize("value", ["1e308", "NaN", "-Infinity", "101"])
def test_unbounded_model_options_are_refused(tmp_path, capsys, value):
    code = _train(tmp_path / "run", "--model", "hbnet20", "--model-option", f"beta1={value}")
    assert code == 2 and "accepted: a real number in [-100, 100]" in capsys.readouterr().err
    assert create_model("hbnet20", beta1=0.9) is not None  # control


def test_a_constant_activation_is_one_line(tmp_path, capsys):
    code = main(["simulate", "--quick", "--activation", "0*x", "--out", str(tmp_path / "s")])
    _one_line(capsys, code, "is the constant 0", "simulate")
    _one_line(capsys, _train(tmp_path / "r", "--activation", "3"), "is the constant 3", "train")
    assert create_model("resnet20", activation="0*x + tanh(x)") is not None  # control


# ------------------------------------------------------------------ item 1: products as activations
@pytest.mark.parametrize(
    "flag", [["--activation", "x*softplus(x)"], ["--model-option", "activation=x**2*sigmoid(x)"]]
)
def test_a_product_activation_trains_and_records_its_energy(tmp_path, flag):
    out = tmp_path / "run"
    assert _train(out, "--model", "hbnet20", *flag) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 1
    from optnet_nets.models.activation import make_activation

    record = make_activation(flag[1].removeprefix("activation=")).record()
    assert record["method"] == "closed-form" and record["verified"] and "polylog" in record["psi"]
