"""optnet study --executor: submitit's jobs give the local runner's runs; kills leave no job.

A 2 x 2 study (resnet20, hbnet20; seeds 0, 1) on synthetic data runs once with the local
executor and once with submitit's local executor, killed (SIGTERM) once its first run has
finished and then rerun. The per-run metrics (everything but timings) and the study's
statistics must be equal; the kill must leave no process behind, and the rerun must not train
the finished runs again. A driver killed outright (SIGKILL) leaves its job running; the next
driver must wait for that job instead of starting a second one on the same run folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optnet_nets.cli import main
from optnet_nets.executors import ExecutorOptions, add_executor_arguments, executor_options
from optnet_theory.errors import OptnetError

pytest.importorskip("submitit")

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--models", "resnet20,hbnet20", "--baseline", "resnet20", "--dataset", "synthetic",
         "--seeds", "2", "--epochs", "1", "--batch-size", "16", "--threads", "1",
         "--dataset-option", "num_train=128", "--dataset-option", "num_test=64",
         "--dataset-option", "image_size=8", "--dataset-option", "num_classes=4"]  # fmt: skip
RUNS = [f"{m}/synthetic/seed{s}" for s in (0, 1) for m in ("resnet20", "hbnet20")]
#: metrics.jsonl and study.json fields that measure speed, not what was computed
TIMINGS = {"images_per_s", "elapsed_s", "train_time_s", "dir"}


def _study(*args: str) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["study", *FLAGS, *args])
    return status, buffer.getvalue()


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "optnet_nets.cli", "study", *FLAGS, "--out", str(out), *extra]


def _processes_of(folder: Path) -> list[str]:
    """Command lines of the live processes that name ``folder`` (drivers, controllers, jobs)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if str(folder) in text and state != "Z":
                found.append(text)
    return found


def _descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(p) for p in (task / "children").read_text().split()]
    return [p for child in children for p in (child, *_descendants(child))]


def _metrics(out: Path) -> dict[str, list[dict]]:
    """Run -> its metrics.jsonl records without timings."""
    found = {}
    for run in RUNS:
        lines = (out / run / "metrics.jsonl").read_text().splitlines()
        found[run] = [{k: v for k, v in json.loads(x).items() if k not in TIMINGS} for x in lines]
    return found


def _statistics(summary: dict) -> dict:
    """The study's numbers without timings and folders."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in TIMINGS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip({"models": summary["models"], "runs": summary["runs"]})


def _finished(out: Path) -> dict[str, int]:
    return {run: (out / run / "summary.json").stat().st_mtime_ns for run in RUNS
            if (out / run / "summary.json").is_file()}  # fmt: skip


def _wait_for(condition, what: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the study ended (or stalled) before {what}")
        time.sleep(0.02)


def _complete(path: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return bool(json.loads(path.read_text()))
    return False


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "s"
    status, text = _study("--out", str(out), "--workers", "2", "--json")
    assert status == 0
    return out, json.loads(text)


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A submitit-local study stopped by SIGTERM after its first run, then run again."""
    out = tmp_path_factory.mktemp("submitit") / "s"
    log = out.parent / "first.err"
    with log.open("w") as err:
        proc = subprocess.Popen(_command(out, "--executor", "submitit-local", "--workers", "2"),
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        _wait_for(lambda: any(_complete(out / r / "summary.json") for r in RUNS),
                  "its first run finished", proc)  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=120)
    left = _processes_of(out)
    record = (out / ".jobs.json").is_file()
    before = _finished(out)
    status2, text = _study("--out", str(out), "--executor", "submitit-local", "--json")
    return {"out": out, "status": status, "left": left, "record": record, "before": before,
            "stderr": log.read_text(), "rerun": (status2, json.loads(text))}  # fmt: skip


def test_submitit_local_gives_the_local_runners_metrics_and_summary(local, killed):
    out, summary = local
    status, again = killed["rerun"]
    assert status == 0 and again["executor"] == "submitit-local"
    assert summary["finished"] == again["finished"] == 4
    assert _metrics(killed["out"]) == _metrics(out)
    assert _statistics(again) == _statistics(summary)
    # negative control: the comparison sees a difference where there is one (another seed)
    theirs = _metrics(out)
    assert theirs["hbnet20/synthetic/seed0"] != theirs["hbnet20/synthetic/seed1"]


def test_jobs_wrote_the_run_logs_through_the_same_entry_point(killed):
    log = (killed["out"] / "hbnet20/synthetic/seed1/train.log").read_text()
    assert "$ optnet train --model hbnet20 --dataset synthetic --seed 1" in log
    assert "(submitit job)" in log and "final test accuracy" in log


def test_a_killed_study_stops_its_jobs_and_resumes_without_redoing_runs(killed):
    assert killed["status"] == 130, killed["stderr"]  # interrupted, not crashed
    assert "optnet study: interrupted" in killed["stderr"]
    assert killed["left"] == []  # no driver, controller or job outlived the kill
    assert not killed["record"]  # and none is recorded as in flight
    before = killed["before"]
    assert 1 <= len(before) < len(RUNS)  # the kill came midway
    status, result = killed["rerun"]
    out = killed["out"]
    skipped = {Path(p) for p in result["skipped"]}
    assert skipped == {out / run for run in before}
    assert {Path(p) for p in result["ran"]} == {out / run for run in RUNS} - skipped
    assert all(_finished(out)[run] == mtime for run, mtime in before.items())
    assert result["adopted"] == [] and _processes_of(out) == []


def test_a_job_of_a_driver_killed_outright_is_waited_for_not_duplicated(tmp_path):
    """SIGKILL leaves the job running; the rerun adopts it (frozen meanwhile, to be sure)."""
    out = tmp_path / "s"
    first = _command(out, "--executor", "submitit-local", "--seeds", "1")
    proc = subprocess.Popen(first, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    record = out / ".jobs.json"

    def job_started() -> bool:
        with contextlib.suppress(OSError, ValueError):
            return "resnet20/synthetic/seed0" in json.loads(record.read_text())
        return False

    _wait_for(job_started, "its first job started", proc)
    pid = int(json.loads(record.read_text())["resnet20/synthetic/seed0"]["job_id"])
    frozen = [pid, *_descendants(pid)]
    for p in frozen:
        os.kill(p, signal.SIGSTOP)  # the job cannot finish before the rerun looks at it
    proc.kill()
    proc.wait()
    assert any("submitit.local._local" in c for c in _processes_of(out))  # an orphan exists
    err = tmp_path / "rerun.err"
    with err.open("w") as sink:
        rerun = subprocess.Popen([*first, "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=sink, text=True)  # fmt: skip
        _wait_for(lambda: f"waiting for submitit-local job {pid}" in err.read_text(),
                  "it adopted the job", rerun)  # fmt: skip
        for p in frozen:
            os.kill(p, signal.SIGCONT)
        stdout, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.read_text()
    result = json.loads(stdout)
    assert result["adopted"] == [str(out / "resnet20/synthetic/seed0")]
    assert result["ran"] == [str(out / "resnet20/synthetic/seed0"),
                             str(out / "hbnet20/synthetic/seed0")]  # fmt: skip
    log = (out / "resnet20/synthetic/seed0/train.log").read_text()
    assert log.count("$ optnet train") == 1  # trained by the first driver's job only
    assert result["finished"] == 2 and _processes_of(out) == [] and not record.exists()


def test_a_failed_job_is_one_line_naming_the_run_and_its_reason(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["study", "--models", "resnet20", "--baseline", "resnet20", "--dataset",
                 "fashion-mnist", "--data-dir", str(tmp_path / "nowhere"), "--seeds", "1",
                 "--epochs", "1", "--out", str(out), "--executor", "submitit-local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"optnet study: error: run {out}/resnet20/fashion-mnist/seed0 failed: "
                          "submitit-local job ")  # fmt: skip
    assert "does not exist" in err and not (out / ".jobs.json").exists()


# ---------------------------------------------------------------- SLURM, through a fake sbatch
FAKE_SLURM = {
    "sbatch": """#!/bin/bash
n=$(( $(cat "$FAKE_SLURM/next" 2>/dev/null || echo 100) + 1 )); echo $n > "$FAKE_SLURM/next"
cp "${@: -1}" "$FAKE_SLURM/job$n.sh"
SLURM_JOB_ID=$n SLURM_NTASKS=1 SLURM_JOB_NUM_NODES=1 SLURM_NODEID=0 SLURM_PROCID=0 \\
  SLURM_LOCALID=0 SLURM_JOB_NODELIST=localhost setsid bash "${@: -1}" >/dev/null 2>&1 &
echo "Submitted batch job $n"
""",
    "srun": """#!/bin/bash
while [[ $1 == --* ]]; do
  case $1 in
    --output) out=${2//%j/$SLURM_JOB_ID}; shift;;
    --error) err=${2//%j/$SLURM_JOB_ID}; shift;;
  esac
  shift
done
exec "$@" >>"${out//%t/0}" 2>>"${err//%t/0}"
""",
    "sacct": "#!/bin/bash\necho 'JobID|State|NodeList'\n",
    "scancel": "#!/bin/bash\nexit 0\n",
}


def test_slurm_jobs_carry_the_options_and_train_the_runs(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, text in FAKE_SLURM.items():
        (fake / name).write_text(text)
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(fake))
    out = tmp_path / "s"
    status, text = _study("--out", str(out), "--seeds", "1", "--executor", "slurm",
                          "--slurm-partition", "gpu", "--slurm-time", "90",
                          "--slurm-gpus-per-task", "1", "--slurm-option", "account=abc", "--json")
    assert status == 0
    result = json.loads(text)
    assert result["finished"] == 2 and result["executor"] == "slurm"
    scripts = sorted(fake.glob("job*.sh"))
    assert len(scripts) == 2  # one job per run, both submitted at once
    header = scripts[0].read_text()
    for line in ("--partition=gpu", "--time=90", "--gpus-per-task=1", "--account=abc",
                 "--nodes=1", "--ntasks-per-node=1"):  # fmt: skip
        assert f"#SBATCH {line}\n" in header
    # a job is done when its result is written; its shell exits a moment later
    deadline = time.monotonic() + 60
    while _processes_of(out) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_of(out) == []


def test_a_refused_submission_is_one_line_with_sbatchs_reason(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, text in {**FAKE_SLURM, "sbatch": "#!/bin/bash\necho 'sbatch: error: invalid "
                       "partition specified: gpu' >&2\nexit 1\n"}.items():  # fmt: skip
        (fake / name).write_text(text)
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    assert main(["study", *FLAGS, "--out", str(tmp_path / "s"), "--executor", "slurm",
                 "--slurm-partition", "gpu", "--slurm-time", "5"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("optnet study: error: --executor slurm: cannot submit "
                       "resnet20/synthetic/seed0: sbatch: error: invalid partition specified: gpu")
    assert not [line for line in err if line.startswith("sbatch")]  # said once, in that line


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(("extra", "message"), [
    (["--executor", "slurm"], "--executor slurm needs --slurm-time MIN"),
    (["--executor", "slurm", "--slurm-time", "0"], "--slurm-time takes whole minutes from 1"),
    (["--executor", "slurm", "--slurm-time", "1.5"], "got '1.5'"),
    (["--executor", "slurm", "--slurm-time", "9", "--slurm-gpus-per-task", "-1"],
     "--slurm-gpus-per-task takes a GPU count from 0"),
    (["--executor", "slurm", "--slurm-time", "9", "--slurm-option", "account"],
     "--slurm-option takes KEY=VALUE"),
    (["--slurm-partition", "gpu"], "--slurm-partition applies to --executor slurm only"),
    (["--executor", "submitit-local", "--launcher", "torchrun"], "--launcher applies to"),
    (["--workers", "0"], "--workers must be a positive integer"),
])  # fmt: skip
def test_bad_executor_options_are_one_line(tmp_path, capsys, extra, message):
    assert main(["study", *FLAGS, *extra, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "s").exists()  # refused before anything was written


def test_slurm_without_submitit_or_slurm_names_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    assert main(["study", *FLAGS, "--executor", "slurm", "--slurm-time", "9", "--out",
                 str(tmp_path / "s")]) == 2  # fmt: skip
    assert "no SLURM on this machine ('sbatch' or 'srun' not found)" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if the extra were not installed
    assert main(["study", *FLAGS, "--executor", "slurm", "--slurm-time", "9", "--out",
                 str(tmp_path / "s")]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.endswith("needs submitit: pip install 'optnet[cluster]'")
    assert len(err.splitlines()) == 1


def test_options_default_to_one_local_run_at_a_time_and_every_slurm_job_at_once():
    parser = argparse.ArgumentParser()
    add_executor_arguments(parser)
    assert executor_options(parser.parse_args([])) == ExecutorOptions()
    assert ExecutorOptions().in_flight(6) == 1
    assert ExecutorOptions("slurm", slurm_time=5).in_flight(6) == 6
    assert ExecutorOptions("slurm", workers=2, slurm_time=5).in_flight(6) == 2
    with pytest.raises(OptnetError, match="applies to --executor slurm only"):
        executor_options(parser.parse_args(["--slurm-time", "5"]))
