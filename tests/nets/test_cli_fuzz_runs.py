"""Generated command lines for ``optnet train``, ``simulate`` and ``compare`` (issue 15): every
outcome is a success (exit 0) or one error line with exit 2, never a traceback.

Values mix sensible, tiny and hostile ones (NaN, inf, negatives, huge sizes, impossible output
places), on budgets small enough (8x8 synthetic images, d <= 4) that a success takes a second.
The CI profile runs a few dozen command lines; ``-m slow`` a longer exploration.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optnet_nets.cli import main

HOSTILE_FLOATS = ["nan", "inf", "-inf", "-1", "0", "1e-3", "3", "1e308", "abc"]
HOSTILE_INTS = ["-1", "0", "1", "2", "1000000000000", "x"]


def _maybe(flag: str, values: list[str]) -> st.SearchStrategy[list[str]]:
    """Absent three times in four, so that some command lines are valid and really run."""
    return st.sampled_from([[]] * (3 * len(values)) + [[flag, v] for v in values])


def _switch(flag: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[], [], [], [flag]])


def _argv(parts: list[st.SearchStrategy[list[str]]]) -> st.SearchStrategy[list[str]]:
    return st.tuples(*parts).map(lambda groups: [a for g in groups for a in g])


TRAIN = _argv([
    _maybe("--model", ["resnet20", "hbnet20", "nonet"]),
    _maybe("--epochs", ["-1", "0", "1"]),
    _maybe("--batch-size", ["0", "-3", "16", "1000000000000"]),
    _maybe("--lr", HOSTILE_FLOATS),
    _maybe("--momentum", ["-1", "0", "0.9", "1", "nan"]),
    _maybe("--weight-decay", ["-1", "0", "nan", "inf"]),
    _maybe("--warmup-epochs", ["-1", "0.5", "nan"]),
    _maybe("--lr-milestones", ["", "a,b", "0.5", "nan", "-1"]),
    _maybe("--checkpoint-every", ["-1", "0", "1"]),
    _maybe("--seed", ["-1", "0", "1000000000000000000000000"]),
    _maybe("--dataset-option", ["num_train=0", "num_train=-5", "image_size=0", "foo=1",
                                "num_classes=1", "num_train=8"]),
    _maybe("--model-option", ["x=1", "bad", "=1"]),
    _switch("--resume"),
    _switch("--resume-or-start"),
    _switch("--overwrite"),
])  # fmt: skip

SIMULATE = _argv([
    _maybe("--depths", ["0", "-1", "1", "2", "1000000000"]),
    _maybe("--epochs", HOSTILE_INTS),
    _maybe("--seeds", ["0", "-1", "1", "1000000000"]),
    _maybe("--samples", ["0", "10", "100", "1000000000000"]),
    _maybe("--batch-size", ["0", "10", "50", "1000"]),
    _maybe("--lr", HOSTILE_FLOATS),
    _maybe("--workers", ["0", "1", "-2"]),
    _maybe("--threads", ["0", "1"]),
    _maybe("--checkpoint-seconds", ["-5", "nan", "0", "inf"]),
    _maybe("--structures", ["gd", "hb", "nope"]),
    _switch("--batch-depths"),
])  # fmt: skip


def _outputs(root: Path) -> dict[str, Path]:
    a_file = root / "a_file"
    a_file.write_text("x")
    return {"fresh": root / "fresh", "proc": Path("/proc/optnet-fuzz"), "under_file": a_file / "x",
            "file": a_file}


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage, then one 'error:' line, exit 2
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1 and err.strip().endswith(errors[0]), (argv, err)


def _fuzz(tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
          command: str, flags: list[str], out: str) -> None:
    root = tmp_path_factory.mktemp(command)
    place = str(_outputs(root)[out])
    if command == "train":
        argv = ["train", "--model", "resnet20", "--dataset", "synthetic",
                "--dataset-option", "num_train=16", "--dataset-option", "num_test=8",
                "--dataset-option", "image_size=8",
                "--epochs", "1", "--batch-size", "8", "--threads", "1", "--no-progress",
                *flags, "--out", place]
    else:
        argv = ["simulate", "--quick", "--epochs", "1", "--samples", "40", "--dim", "3",
                "--depths", "1", "--seeds", "1", "--batch-size", "20", "--json", *flags,
                "--out", place]
    _check(argv, capsys)


OUTS = st.sampled_from(["fresh", "fresh", "proc", "under_file", "file"])
#: capsys is read (and so emptied) after every command line; fresh folders come from the factory.
RELAXED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
           HealthCheck.data_too_large]


@settings(max_examples=40, suppress_health_check=RELAXED)
@given(flags=TRAIN, out=OUTS)
def test_train_command_lines(tmp_path_factory, capsys, flags, out):
    _fuzz(tmp_path_factory, capsys, "train", flags, out)


@settings(max_examples=40, suppress_health_check=RELAXED)
@given(flags=SIMULATE, out=OUTS)
def test_simulate_command_lines(tmp_path_factory, capsys, flags, out):
    _fuzz(tmp_path_factory, capsys, "simulate", flags, out)


METRICS = st.sampled_from([
    '{"epoch": 1, "train_loss": 1, "test_loss": 1, "test_acc": 0.5, "lr": 0.1, '
    '"images_per_s": 1}',
    "", "5", "[1]", '{"epoch": 1}', "{", '{"epoch": 1, "train_loss": "x", "test_loss": 1, '
    '"test_acc": 0.5, "lr": 0.1, "images_per_s": 1}',
])  # fmt: skip


@settings(max_examples=60, suppress_health_check=RELAXED)
@given(lines=st.lists(METRICS, max_size=3), binary=st.booleans(), plot=st.sampled_from(
    [None, "fresh", "proc", "under_file", "file", "jpg"]), missing=st.booleans())
def test_compare_command_lines(tmp_path_factory, capsys, lines, binary, plot, missing):
    root = tmp_path_factory.mktemp("compare")
    run_dir = root / "run"
    run_dir.mkdir()
    metrics = run_dir / "metrics.jsonl"
    metrics.write_bytes(b"\xff\xfe\x00" if binary else "\n".join(lines).encode())
    argv = ["compare", str(run_dir)] + ([str(root / "missing")] if missing else [])
    if plot == "jpg":
        argv += ["--plot", str(root / "c.jpg")]
    elif plot is not None:
        argv += ["--plot", str(_outputs(root)[plot] / "c.png")]
    _check(argv, capsys)


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=RELAXED)
@given(flags=TRAIN, out=OUTS)
def test_train_command_lines_long(tmp_path_factory, capsys, flags, out):
    _fuzz(tmp_path_factory, capsys, "train", flags, out)


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=RELAXED)
@given(flags=SIMULATE, out=OUTS)
def test_simulate_command_lines_long(tmp_path_factory, capsys, flags, out):
    _fuzz(tmp_path_factory, capsys, "simulate", flags, out)
