"""hbnet56 bit for bit against the code before the one-builder rework (issue 23, item 1).

Two checks of the same run (:func:`tests.nets.hbnet_reference.reference_run`: outputs in eval
and train mode, the state_dict after one SGD step, the output after it):

* against the saved fixture ``hbnet56_reference.pt`` (torch.equal on the outputs and every small
  tensor, SHA-256 of the bytes of every tensor); only on the platform it was saved on, as CPU
  kernels of another torch or instruction set may round differently;
* against the old code itself, rebuilt from git (``git archive`` of :data:`REFERENCE_REV`) and
  run in a subprocess on this machine: torch.equal on every tensor.

Negative control: hbnet56 with beta1 moved by one float32 ulp gives other bits.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from optnet_nets.models import create_model
from tests.nets.hbnet_reference import REFERENCE_REV, digest, platform, reference_run

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).with_name("hbnet56_reference.pt")


def test_hbnet56_equals_the_saved_reference_bit_for_bit() -> None:
    saved = torch.load(FIXTURE, weights_only=True)
    if saved["platform"] != platform():
        pytest.skip(f"fixture saved on {saved['platform']}; this is {platform()}")
    run = reference_run(create_model)
    assert set(run) == set(saved["digests"])
    for key, value in saved["full"].items():
        assert torch.equal(run[key], value), key
    assert {k: digest(v) for k, v in run.items()} == saved["digests"]


def test_a_moved_coefficient_is_caught() -> None:
    """Negative control: beta1 = 1 + 2^-23 (one ulp above 1 in float32) changes the bits."""
    saved = torch.load(FIXTURE, weights_only=True)
    if saved["platform"] != platform():
        pytest.skip(f"fixture saved on {saved['platform']}; this is {platform()}")
    run = reference_run(lambda name: create_model(name, beta1=1.0 + 2.0**-23))
    assert not torch.equal(run["out.eval"], saved["full"]["out.eval"])
    assert digest(run["state.fc.weight"]) != saved["digests"]["state.fc.weight"]


def _old_code(tmp_path: Path) -> Path:
    """The packages at REFERENCE_REV, unpacked under ``tmp_path`` (skips without git)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and the project's history")
    probe = subprocess.run([git, "-C", str(ROOT), "cat-file", "-e", f"{REFERENCE_REV}^{{commit}}"],
                           capture_output=True)
    if probe.returncode:
        pytest.skip(f"commit {REFERENCE_REV[:10]} is not in this clone")
    archive = subprocess.run(
        [git, "-C", str(ROOT), "archive", "--format=tar", REFERENCE_REV, "optnet_nets",
         "optnet_theory"], capture_output=True, check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path


def test_hbnet56_equals_the_old_code_bit_for_bit(tmp_path: Path) -> None:
    old = _old_code(tmp_path / "old")
    out = tmp_path / "old.pt"
    script = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "import torch, optnet_nets\n"
        "assert optnet_nets.__file__.startswith(sys.argv[1]), optnet_nets.__file__\n"
        "from optnet_nets.models import create_model\n"
        "from tests.nets.hbnet_reference import reference_run\n"
        "torch.save(reference_run(create_model), sys.argv[2])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(old), str(out)], cwd=ROOT, check=True)
    want = torch.load(out, weights_only=True)
    got = reference_run(create_model)
    assert set(got) == set(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
