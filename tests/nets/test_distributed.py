"""``torchrun --nproc_per_node=2`` (gloo, CPU) matches one process with the same global batch.

The tiny net has no batch norm here: with batch norm each rank would normalise its own half of
the global batch (ordinary, unsynchronised BN, as in the paper's 4-GPU ImageNet runs), which is a
different computation from one process seeing the whole batch. Without it, data-parallel SGD
on two shards of each global batch is the same algorithm as SGD on the global batch: DDP averages
the two shard-mean gradients, which equals the global-mean gradient. What remains is float32
summation order, so weights agree to ~1e-7 (2e-7 measured); the tolerance 1e-4 is far below the
1e-1 difference a wrong global batch makes (the negative control).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optnet_nets.train import read_metrics
from tests.nets.train_worker import run as run_worker

WORKER = Path(__file__).with_name("train_worker.py")
ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-4
ARGS = dict(epochs=2, batch_size=16, num_train=256, batch_norm=False)


def _max_diff(a: dict, b: dict) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(False)


def test_torchrun_two_ranks_matches_one_process(tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(WORKER), str(out), "--epochs", str(ARGS["epochs"]), "--batch-size",
        str(ARGS["batch_size"]), "--num-train", str(ARGS["num_train"]), "--no-bn",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(out / "final.pt", weights_only=True)

    single = run_worker(str(tmp_path / "single"), **ARGS).state_dict()
    diff = _max_diff(ddp, single)
    print(f"max |w_ddp - w_single| = {diff:.3e}")
    assert diff < TOLERANCE

    # rank 0 alone wrote the run: one metrics line per epoch, metrics reduced over both ranks
    ddp_metrics, single_metrics = read_metrics(out), read_metrics(tmp_path / "single")
    assert [r["epoch"] for r in ddp_metrics] == [1, 2]
    for a, b in zip(ddp_metrics, single_metrics, strict=True):
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=1.5 / 64)  # <= 1 image of 64
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)

    # negative control: the per-rank batch taken as the global batch is caught
    wrong = run_worker(str(tmp_path / "wrong"), **{**ARGS, "batch_size": 8}).state_dict()
    wrong_diff = _max_diff(wrong, single)
    print(f"max |w_batch8 - w_single| = {wrong_diff:.3e}")
    assert wrong_diff > 100 * TOLERANCE
