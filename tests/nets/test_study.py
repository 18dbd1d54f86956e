"""optnet study: the grid, kill-and-restart, the seed statistics against a direct computation."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from optnet_nets.cli import main
from optnet_nets.commands import train as train_command
from optnet_nets.folders.lock import LOCK_NAME
from optnet_nets.study import statistics
from optnet_nets.study.grid import Cell, pair_baselines, run_dir
from optnet_theory.errors import OptnetError

ROOT = Path(__file__).resolve().parents[2]
MODELS, SEEDS = ("resnet20", "hbnet20"), (0, 1, 2)
#: 2 models x 3 seeds x 1 epoch of 8 steps on 8x8 synthetic images: about a second a run.
FLAGS = ["--models", ",".join(MODELS), "--baseline", "resnet20", "--dataset", "synthetic",
         "--seeds", str(len(SEEDS)), "--epochs", "1", "--batch-size", "16", "--threads", "1",
         "--dataset-option", "num_train=128", "--dataset-option", "num_test=64",
         "--dataset-option", "image_size=8", "--dataset-option", "num_classes=4"]  # fmt: skip


def _study(*args: str) -> tuple[int, str]:
    """``optnet study FLAGS args`` in this process; exit status and stdout."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["study", *FLAGS, *args])
    return status, buffer.getvalue()


def _summaries(out: Path) -> dict[Path, int]:
    return {p.parent: p.stat().st_mtime_ns for p in out.glob("*/*/seed*/summary.json")}


def _one_complete_summary(out: Path) -> bool:
    """Whether a run has written its whole summary (the trainer writes it in one go)."""
    for path in out.glob("*/*/seed*/summary.json"):
        with contextlib.suppress(ValueError):  # created, not yet written
            return bool(json.loads(path.read_text()))
    return False


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study killed (SIGKILL, with its run) once its first run has finished, then restarted."""
    out = tmp_path_factory.mktemp("study") / "s"
    command = [sys.executable, "-m", "optnet_nets.cli", "study", *FLAGS, "--out", str(out)]
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 300
    while not _one_complete_summary(out):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the study ended before its first run did: {proc.stderr.read()!r}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the study and the run it had started
    proc.wait()
    proc.stderr.close()
    before = _summaries(out)
    status, text = _study("--out", str(out), "--workers", "2", "--json")
    assert status == 0
    return out, before, json.loads(text)


def _errors(out: Path) -> dict[tuple[str, int], tuple[float, float]]:
    """(model, seed) -> (final, best) test error, read directly from each metrics.jsonl."""
    found = {}
    for model in MODELS:
        for seed in SEEDS:
            lines = (run_dir(out, Cell(model, "synthetic", seed)) / "metrics.jsonl").read_text()
            accs = [json.loads(line)["test_acc"] for line in lines.splitlines()]
            found[model, seed] = (1 - accs[-1], 1 - max(accs))
    return found


def _t(values: list[float]) -> list[float]:
    x = np.asarray(values)
    return list(stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x)))


# ---------------------------------------------------------------- resumable
def test_killed_study_restarts_without_redoing_finished_runs(study):
    out, before, result = study
    assert before  # the kill came after at least one run had finished
    assert all(_summaries(out)[run] == mtime for run, mtime in before.items())
    assert {Path(p) for p in result["skipped"]} == set(before)
    assert len(result["ran"]) == len(MODELS) * len(SEEDS) - len(before)
    assert result["finished"] == result["total"] == 6 and not result["missing"]
    # the run that the kill cut short carries on in its own folder, nothing else is there
    folders = {p.parent for p in out.glob("*/*/seed*/config.json")}
    assert folders == {run_dir(out, Cell(m, "synthetic", s)) for m in MODELS for s in SEEDS}


def test_interrupted_run_resumes_from_its_checkpoint(study, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(study[0], out, ignore=shutil.ignore_patterns(LOCK_NAME))
    victim = run_dir(out, Cell("hbnet20", "synthetic", 2))
    (victim / "summary.json").unlink()  # as if killed after its last checkpoint
    before = _summaries(out)
    status, text = _study("--out", str(out), "--json")
    assert status == 0
    result = json.loads(text)
    assert [Path(p) for p in result["ran"]] == [victim]
    resumed = json.loads((victim / "summary.json").read_text())
    assert resumed["resumed_from_step"] == resumed["steps"] == 8  # resumed, trained nothing more
    assert _summaries(out) == {**before, victim: _summaries(out)[victim]}


def test_study_holds_a_lock_against_a_second_study(tmp_path, capsys):
    """A study alive in another process refuses a second one in one line naming it; once that
    process is gone (killed), its lock no longer blocks (negative control)."""
    code = ("import sys, time; from optnet_nets.study.runner import study_lock; "
            "from pathlib import Path\nwith study_lock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(600)")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(["study", *FLAGS, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert f"in use by optnet study (pid {holder.pid} on host" in err, err
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    from optnet_nets.study.runner import study_lock

    with study_lock(tmp_path):  # the dead holder's lock is taken over
        assert (tmp_path / LOCK_NAME).is_file()
    assert "no longer running" in capsys.readouterr().err


# ---------------------------------------------------------------- statistics from the run files
def test_summary_statistics_equal_a_direct_computation(study):
    out, _, result = study
    errors = _errors(out)
    table = result["models"]["synthetic"]
    for model in MODELS:
        for k, metric in enumerate(("final", "best")):
            values = [errors[model, s][k] for s in SEEDS]
            entry = table[model][metric]
            assert entry["n"] == 3
            assert entry["mean"] == pytest.approx(np.mean(values))
            assert entry["std"] == pytest.approx(np.std(values, ddof=1))
            assert entry["ci"] == pytest.approx(_t(values))
    assert "paired" not in table["resnet20"] and table["hbnet20"]["baseline"] == "resnet20"
    for k, metric in enumerate(("final", "best")):
        diffs = [errors["hbnet20", s][k] - errors["resnet20", s][k] for s in SEEDS]
        paired = table["hbnet20"]["paired"][metric]
        assert paired["seeds"] == list(SEEDS)
        assert paired["differences"] == pytest.approx(diffs)
        assert paired["ci"] == pytest.approx(_t(diffs))
        # with 3 pairs, 1/27 of the resamples repeat the smallest difference (> 2.5 %): the
        # percentile bootstrap interval is exactly [min, max]
        assert paired["bootstrap_ci"] == pytest.approx([min(diffs), max(diffs)])
        ci = paired["ci"]
        resolved = not ci[0] <= 0 <= ci[1]
        assert (paired["verdict"] == statistics.NOT_RESOLVED) is not resolved
    # negative control: pairing the seeds wrongly (shifted by one) changes the paired interval
    finals = [errors["hbnet20", s][0] for s in SEEDS]
    base = [errors["resnet20", s][0] for s in SEEDS]
    assert np.std(finals) > 0 and np.std(base) > 0  # the seeds do differ, or nothing is tested
    shifted = [a - b for a, b in zip(finals, np.roll(base, 1), strict=True)]
    assert table["hbnet20"]["paired"]["final"]["ci"] != pytest.approx(_t(shifted))


def test_outputs_and_summarize_only(study, tmp_path, capsys):
    out, _, result = study
    assert set(result["files"]) == {"json", "md", "png"}
    assert (out / "study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "study.md").read_text()
    assert "| hbnet20 | resnet20 | final | 3 |" in table and "| resnet20 | 3 |" in table
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(LOCK_NAME))
    gone = run_dir(copy, Cell("resnet20", "synthetic", 1))
    (gone / "summary.json").unlink()
    status, text = _study("--out", str(copy), "--summarize-only", "--json")
    assert status == 0
    partial = json.loads(text)
    assert not (gone / "summary.json").exists()  # nothing was trained
    assert partial["missing"] == [str(gone)] and partial["finished"] == 5
    assert partial["models"]["synthetic"]["resnet20"]["n"] == 2
    assert partial["models"]["synthetic"]["hbnet20"]["paired"]["final"]["seeds"] == [0, 2]
    # optnet report finds the study and recomputes it from the run files
    report = tmp_path / "report" / "report.md"
    assert main(["report", "--skip", "table1", "table2", "rates", "proofs", "--runs-dir",
                 str(tmp_path), "--out", str(report)]) == 0  # fmt: skip
    assert "studies ok" in capsys.readouterr().out
    text = report.read_text()
    assert f"Study 1: {copy}" in text and "| resnet20 | 2 |" in text
    assert (report.parent / "study-1.png").is_file()


# ---------------------------------------------------------------- commands for a scheduler
def test_print_commands_are_train_commands_that_parse(tmp_path):
    status, text = _study("--out", str(tmp_path / "s"), "--print-commands")
    assert status == 0
    lines = text.splitlines()
    assert len(lines) == 6
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    cells = set()
    for line in lines:
        argv = shlex.split(line)
        assert argv[:2] == ["optnet", "train"]
        args = parser.parse_args(argv[2:])
        assert args.resume_or_start and args.threads == 1 and args.epochs == 1
        assert args.out == str(run_dir(tmp_path / "s", Cell(args.model, args.dataset, args.seed)))
        cells.add((args.model, args.seed))
    assert cells == {(m, s) for m in MODELS for s in SEEDS}
    assert not (tmp_path / "s").exists()  # printing trains nothing
    status, text = _study("--out", str(tmp_path / "s"), "--print-commands", "--launcher",
                          "torchrun --nproc_per_node=2")  # fmt: skip
    assert shlex.split(text.splitlines()[0])[:5] == [
        "torchrun", "--nproc_per_node=2", "-m", "optnet_nets.cli", "train"]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(("extra", "message"), [
    (["--baseline", "densenet40"], "baseline 'densenet40' is not in --models"),
    (["--seeds", "0"], "--seeds must be a positive integer"),
    (["--models", "resnet20,resnet21"], "unknown model 'resnet21'"),
    (["--models", "resnet20,resnet20"], "distinct comma-separated names"),
    (["--lr", "-1"], "lr must be a finite number > 0"),
])  # fmt: skip
def test_bad_input_is_one_line(tmp_path, capsys, extra, message):
    assert main(["study", *FLAGS, *extra, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_run_with_other_settings_is_refused(study, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(study[0], out, ignore=shutil.ignore_patterns(LOCK_NAME))
    assert main(["study", *FLAGS, "--lr", "0.05", "--out", str(out), "--summarize-only"]) == 2
    err = capsys.readouterr().err
    assert "was trained with lr=0.1, this study asks for lr=0.05" in err


def test_pairing_uses_the_zoo_baseline_when_several_are_given():
    zoo = {"hbnet20": "resnet20", "agdnet40": "densenet40", "admmnet20": "dmrnet20"}
    models = ("resnet20", "hbnet20", "densenet40", "agdnet40")
    assert pair_baselines(models, ("resnet20", "densenet40"), zoo) == {
        "hbnet20": "resnet20", "agdnet40": "densenet40"}
    assert pair_baselines(("resnet20", "admmnet20"), ("resnet20",), zoo) == {
        "admmnet20": "resnet20"}
    with pytest.raises(OptnetError, match="its zoo baseline 'dmrnet20' is not among"):
        pair_baselines(("resnet20", "admmnet20", "densenet40"), ("resnet20", "densenet40"), zoo)
    with pytest.raises(OptnetError, match="'vgg': it has no zoo baseline among"):
        pair_baselines(("resnet20", "vgg", "densenet40"), ("resnet20", "densenet40"), zoo)


# ---------------------------------------------------------------- statistics on known numbers
def test_intervals_on_known_numbers():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    low, high = statistics.t_interval(values)
    half = 2.7764451051977987 * np.sqrt(2.5) / np.sqrt(5)  # t_{0.975, 4}: a published constant
    assert (low, high) == pytest.approx((3 - half, 3 + half))
    assert statistics.t_interval([1.0]) is None and statistics.bootstrap_interval([1.0]) is None
    boot = statistics.bootstrap_interval(values)
    assert 1.0 < boot[0] < 3.0 < boot[1] < 5.0 and boot == statistics.bootstrap_interval(values)
    better = statistics.paired({0: 0.10, 1: 0.11, 2: 0.12}, {0: 0.12, 1: 0.14, 2: 0.15})
    assert better["verdict"] == "lower error than the baseline" and better["ci"][1] < 0
    mixed = statistics.paired({0: 0.10, 1: 0.15, 2: 0.12}, {0: 0.12, 1: 0.14, 2: 0.12})
    assert mixed["verdict"] == statistics.NOT_RESOLVED
    lone = statistics.paired({0: 0.10, 5: 0.2}, {0: 0.12, 1: 0.3})
    assert lone["seeds"] == [0] and lone["ci"] is None
    assert lone["verdict"] == statistics.NOT_RESOLVED
