"""``optnet verify --matrix W --x0 x0``: the user's W and x_0 are used, recorded, or refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_theory.arrayfile import load_array
from optnet_theory.errors import OptnetError
from optnet_theory.verify import verify_claim

W = np.array([[0.5, 0.1, 0.0], [0.1, 0.4, 0.05], [0.0, 0.05, 0.3]])
X0 = np.array([1.0, -2.0, 0.5])


def _verify_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main(["verify", "lemma1", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("suffix", [".npy", ".txt", ".csv"])
def test_the_users_matrix_and_start_are_used_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture, suffix: str
) -> None:
    w_file, x_file = tmp_path / f"W{suffix}", tmp_path / f"x0{suffix}"
    if suffix == ".npy":
        np.save(w_file, W)
        np.save(x_file, X0)
    else:
        sep = "," if suffix == ".csv" else " "
        np.savetxt(w_file, W, delimiter=sep, fmt="%.17g")
        np.savetxt(x_file, X0, delimiter=sep, fmt="%.17g")
    record = _verify_json(capsys, "--matrix", str(w_file), "--x0", str(x_file))
    assert record["dim"] == 3 and record["cond"] == pytest.approx(np.linalg.cond(W))
    expected = verify_claim("lemma1", W=W, x0=X0, trials=1)
    assert record["max_abs_error"] == expected.max_abs_error and record["passed"]
    assert record["matrix_source"] == {
        "source": "file", "path": str(w_file),
        "sha256": hashlib.sha256(w_file.read_bytes()).hexdigest(),
    }  # fmt: skip
    assert record["x0_source"]["sha256"] == hashlib.sha256(x_file.read_bytes()).hexdigest()


def test_a_drawn_matrix_is_recorded_as_drawn(capsys: pytest.CaptureFixture) -> None:
    record = _verify_json(capsys, "--dim", "4", "--seed", "3", "--cond", "20")
    assert record["matrix_source"] == {"source": "drawn", "seed": 3, "cond": 20.0}
    assert record["dim"] == 4


def test_another_start_changes_the_trajectory() -> None:
    """Negative control: x0 really reaches the check (a different x0, different errors)."""
    a = verify_claim("lemma1", W=W, x0=X0, trials=1)
    b = verify_claim("lemma1", W=W, x0=3 * X0 + 1, trials=1)
    assert a.max_abs_error != b.max_abs_error or a.max_rel_error != b.max_rel_error


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (np.array([[1.0, 2.0], [2.0, 1.0]]), "not positive definite (smallest eigenvalue -1"),
        (np.array([[1.0, 0.5], [0.0, 1.0]]), "not symmetric"),
    ],
)
def test_a_matrix_that_is_not_spd_is_refused_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture, bad: np.ndarray, reason: str
) -> None:
    path = tmp_path / "W.npy"
    np.save(path, bad)
    assert main(["verify", "lemma1", "--matrix", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and reason in err and "Lemma 1 needs U = sqrt(W)" in err


def test_a_non_symmetric_matrix_runs_with_general_w(tmp_path: Path, capsys) -> None:
    path = tmp_path / "W.npy"
    np.save(path, np.array([[0.5, 0.2], [-0.1, 0.4]]))
    assert _verify_json(capsys, "--matrix", str(path), "--general-w")["general_w"] is True


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("W.npz", b"", "unknown file type '.npz'; accepted: .npy, .txt, .csv"),
        ("W.txt", b"1 2\n3 x\n", "not a whitespace-separated numbers file"),
        ("W.csv", b"1,nan\n2,3\n", "not finite"),
    ],
)
def test_bad_matrix_files_are_one_line_errors(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(OptnetError, match="--matrix"):
        try:
            load_array(path, "--matrix", ndim=2)
        except OptnetError as exc:
            assert message in str(exc) and "\n" not in str(exc)
            raise


def test_pickled_npy_files_are_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "W.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(OptnetError, match="allow_pickle=False"):
        load_array(path, "--matrix", ndim=2)


def test_a_matrix_given_as_x0_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "W.npy"
    np.save(path, W)
    assert main(["verify", "lemma1", "--x0", str(path)]) == 2
    assert "expected a vector (1-D array), got shape (3, 3)" in capsys.readouterr().err
