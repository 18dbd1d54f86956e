"""Checkpoints: atomic writes that survive a crash mid-write, safe weights_only loads, RNGs."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from optnet_nets.train import checkpoint as ckpt
from optnet_theory.errors import OptnetError


def _state(value: float) -> dict:
    return {"format": ckpt.FORMAT_VERSION, "weights": torch.full((64,), value), "step": 1}


def test_round_trip(tmp_path):
    path = ckpt.save_atomic(_state(1.5), tmp_path / "checkpoint.pt")
    loaded = ckpt.load_state(path)
    assert torch.equal(loaded["weights"], torch.full((64,), 1.5))
    assert loaded["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left


def test_exception_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    ckpt.save_atomic(_state(1.0), path)

    def half_write(obj, handle):
        handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", half_write)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_atomic(_state(2.0), path)
    assert torch.equal(ckpt.load_state(path)["weights"], torch.full((64,), 1.0))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_sigkill_mid_write_keeps_previous_checkpoint(tmp_path):
    """A process killed while writing leaves the previous checkpoint whole and loadable."""
    path = tmp_path / "checkpoint.pt"
    script = textwrap.dedent(
        f"""
        import os, signal, torch
        from optnet_nets.train import checkpoint as ckpt
        ckpt.save_atomic({{"format": 1, "weights": torch.full((64,), 1.0), "step": 1}},
                         {str(path)!r})
        real_save = torch.save
        def dying_save(obj, handle):
            real_save(obj, handle)  # the whole payload is in the temp file ...
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before the rename
        ckpt.torch.save = dying_save
        ckpt.save_atomic({{"format": 1, "weights": torch.full((64,), 2.0), "step": 2}},
                         {str(path)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "checkpoint.pt"]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # the interrupted write
    state = ckpt.load_state(path)
    assert state["step"] == 1 and torch.equal(state["weights"], torch.full((64,), 1.0))


def test_non_atomic_write_would_be_caught(tmp_path):
    """Negative control: writing in place and dying mid-write leaves an unloadable file."""
    path = tmp_path / "checkpoint.pt"
    ckpt.save_atomic(_state(1.0), path)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])  # what an in-place write cut short leaves
    with pytest.raises(OptnetError, match="cannot be loaded"):
        ckpt.load_state(path)


class Payload:
    """An arbitrary class: unpickling it must be refused."""

    def __reduce__(self):
        return (print, ("this would run at load time",))


def test_load_refuses_arbitrary_objects(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": ckpt.FORMAT_VERSION, "payload": Payload()}, path)
    with pytest.raises(OptnetError, match="weights_only=True"):
        ckpt.load_state(path)
    assert "would run" not in capsys.readouterr().out
    # control: an unrestricted load really does run the payload
    torch.load(path, weights_only=False)
    assert "this would run at load time" in capsys.readouterr().out


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(OptnetError, match="no checkpoint"):
        ckpt.load_state(tmp_path / "absent.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    with pytest.raises(OptnetError, match="not an optnet checkpoint"):
        ckpt.load_state(tmp_path / "foreign.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a zip file at all")
    with pytest.raises(OptnetError, match="cannot be loaded"):
        ckpt.load_state(tmp_path / "garbage.pt")


def _draws() -> tuple:
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random())


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # leave a cached Gaussian in NumPy's state
    state = {"format": ckpt.FORMAT_VERSION, "rng": ckpt.rng_state()}
    expected = _draws()
    assert _draws() != expected  # control: the streams moved on
    ckpt.save_atomic(state, tmp_path / "checkpoint.pt")
    ckpt.set_rng_state(ckpt.load_state(tmp_path / "checkpoint.pt")["rng"])
    assert _draws() == expected
