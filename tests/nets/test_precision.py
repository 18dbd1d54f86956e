"""``--amp auto`` and ``--channels-last``: what they resolve to, that the step uses it, and that
the run records it (optnet_nets/train/precision.py). The CPU's and GPU's capabilities are
mocked both ways, so the tests mean the same on every machine; no timing is asserted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from optnet_nets.cli import main
from optnet_nets.commands import study as study_command
from optnet_nets.commands.study import _check_existing, shared_train_flags
from optnet_nets.data import load_dataset
from optnet_nets.folders.settings import run_setting
from optnet_nets.models import create_model
from optnet_nets.train import TrainConfig, precision, read_metrics, train
from optnet_nets.train import checkpoint as ckpt
from optnet_nets.train.precision import cpu_flags, native_bf16_cpu, resolve_precision
from optnet_theory.errors import OptnetError
from tests.nets.train_worker import tiny_net

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
NO_BF16 = {"avx512_f": True, "amx_bf16": False, "avx512_bf16": False, "amx_tile": True}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _report(monkeypatch: pytest.MonkeyPatch, **flags: bool) -> None:
    """Make torch report this CPU with ``flags`` over a CPU without native bf16."""
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {**NO_BF16, **flags},
                        raising=False)  # fmt: skip


# ---------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("flags", "native"),
    [({}, False), ({"amx_bf16": True}, True), ({"avx512_bf16": True}, True),
     ({"amx_bf16": True, "avx512_bf16": True}, True)],
)  # fmt: skip
def test_auto_is_bf16_exactly_when_the_cpu_reports_native_bf16(monkeypatch, flags, native):
    _report(monkeypatch, **flags)
    assert native_bf16_cpu() is native
    got = resolve_precision("auto", None, CPU, tiny_net(True))
    assert (got.amp, got.dtype, got.channels_last) == (
        ("bf16", torch.bfloat16, True) if native else ("none", None, False)
    )


def test_without_torch_capabilities_the_kernel_flags_decide(monkeypatch, tmp_path):
    monkeypatch.delattr(torch.cpu, "get_capabilities", raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    base = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw"
    cpuinfo.write_text(base + " amx_tile\n")
    assert not native_bf16_cpu()  # AMX tiles without AMX-BF16 are not bf16
    cpuinfo.write_text(base + " amx_bf16 amx_tile\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert native_bf16_cpu()
    cpuinfo.write_text(base + " avx512_bf16\n")
    assert native_bf16_cpu()
    cpuinfo.unlink()
    assert cpu_flags() == frozenset() and not native_bf16_cpu()  # no /proc: fp32


@pytest.mark.skipif(not cpu_flags(), reason="no /proc/cpuinfo flags to check against")
def test_detection_on_this_machine_agrees_with_the_kernel():
    """The real detection (torch's cpuinfo), against the kernel's flags for this CPU."""
    kernel = bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})
    assert native_bf16_cpu() is kernel
    assert resolve_precision("auto", None, CPU, tiny_net(True)).amp == (
        "bf16" if kernel else "none"
    )


@pytest.mark.parametrize(("capability", "amp"), [((8, 0), "bf16"), ((9, 0), "bf16"),
                                                 ((7, 5), "none")])  # fmt: skip
def test_auto_on_cuda_follows_the_gpu_not_the_cpu(monkeypatch, capability, amp):
    _report(monkeypatch, amx_bf16=True)  # the CPU's bf16 must not decide for a GPU
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    got = resolve_precision("auto", None, CUDA, tiny_net(True))
    assert (got.amp, got.channels_last) == (amp, False)  # no auto channels_last on GPUs


def test_the_reversible_hbnet_stays_fp32_under_auto(monkeypatch):
    _report(monkeypatch, amx_bf16=True)
    reversible = create_model("hbnet20", num_classes=4, in_channels=1, reversible=True)
    stored = create_model("hbnet20", num_classes=4, in_channels=1)
    got = resolve_precision("auto", None, CPU, reversible)
    assert (got.amp, got.channels_last) == ("none", False) and "reversible" in got.reason
    assert resolve_precision("auto", None, CPU, stored).amp == "bf16"  # control: same net
    assert resolve_precision("bf16", None, CPU, reversible).amp == "bf16"  # asked for: given


def test_explicit_choices_and_legacy_none_ignore_the_hardware(monkeypatch):
    _report(monkeypatch, amx_bf16=True)
    net = tiny_net(True)
    assert resolve_precision(None, None, CPU, net).amp == "none"  # configs before "auto"
    assert resolve_precision("none", None, CPU, net).amp == "none"
    fp16 = resolve_precision("fp16", None, CPU, net)
    assert (fp16.dtype, fp16.channels_last) == (torch.float16, False)
    assert resolve_precision("none", True, CPU, net).channels_last
    assert not resolve_precision("auto", False, CPU, net).channels_last
    with pytest.raises(OptnetError, match="amp must be one of auto, bf16, fp16, none"):
        resolve_precision("fp8", None, CPU, net)
    with pytest.raises(OptnetError, match="channels_last must be true, false or null"):
        TrainConfig(channels_last="yes").validate()  # type: ignore[arg-type]


# ---------------------------------------------------------------- the step and the record
def _train_recording(tmp_path: Path, name: str, **config) -> tuple[list[tuple], dict]:
    """One epoch of the tiny net on 3-channel images; per step, the first convolution's output
    dtype and whether its input, weight and output are channels_last; the run's config.json."""
    torch.manual_seed(0)
    model = tiny_net(True, channels=3)
    seen: list[tuple] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if module.training:
            cl = torch.channels_last
            seen.append((output.dtype, inputs[0].is_contiguous(memory_format=cl),
                         module.weight.is_contiguous(memory_format=cl),
                         output.is_contiguous(memory_format=cl)))  # fmt: skip

    model[0].register_forward_hook(hook)
    data = load_dataset("synthetic", num_train=64, num_test=32, image_size=8, channels=3,
                        num_classes=4)  # fmt: skip
    out = tmp_path / name
    train(TrainConfig(model="tiny", dataset="synthetic", out=str(out), epochs=1, batch_size=16,
                      lr=0.05, device="cpu", progress=False, eval_batch_size=32, **config),
          dataset=data, model=model)  # fmt: skip
    assert len(seen) == 4  # 64 images, batch 16
    return seen, json.loads((out / "config.json").read_text())


def test_channels_last_on_the_cpu_reaches_the_step(tmp_path):
    seen, saved = _train_recording(tmp_path, "cl", amp="none", channels_last=True)
    assert set(seen) == {(torch.float32, True, True, True)}
    assert (saved["amp_used"], saved["channels_last_used"]) == ("none", True)
    seen, saved = _train_recording(tmp_path, "nchw", amp="none", channels_last=False)
    assert set(seen) == {(torch.float32, False, False, False)}  # control: the layout is the flag's
    assert (saved["amp_used"], saved["channels_last_used"]) == ("none", False)


@pytest.mark.parametrize("native", [True, False])
def test_the_default_auto_runs_and_records_what_it_resolved_to(monkeypatch, tmp_path, native):
    _report(monkeypatch, amx_bf16=native)
    seen, saved = _train_recording(tmp_path, "auto")
    assert set(seen) == ({(torch.bfloat16, True, True, True)} if native else
                         {(torch.float32, False, False, False)})  # fmt: skip
    assert (saved["amp"], saved["channels_last"]) == ("auto", None)  # what was asked
    assert (saved["amp_used"], saved["channels_last_used"]) == (
        ("bf16", True) if native else ("none", False)
    )
    records = read_metrics(tmp_path / "auto")
    assert [r["epoch"] for r in records] == [1] and records[0]["images_per_s"] > 0
    summary = json.loads((tmp_path / "auto" / "summary.json").read_text())
    assert summary["precision"].startswith("bf16 channels_last (auto" if native else "fp32 (auto")


# ---------------------------------------------------------------- old runs, the CLI, studies
TINY_DATA = ["--model", "resnet20", "--dataset", "synthetic", "--dataset-option", "num_train=64",
             "--dataset-option", "num_test=32", "--dataset-option", "image_size=8",
             "--batch-size", "32", "--threads", "1", "--no-progress", "--epochs", "1"]  # fmt: skip


def test_a_checkpoint_from_before_auto_resumes_in_fp32(monkeypatch, tmp_path, capsys):
    _report(monkeypatch, amx_bf16=True)
    old, new = str(tmp_path / "old"), str(tmp_path / "new")
    assert main(["train", *TINY_DATA, "--out", old]) == 0
    assert main(["train", *TINY_DATA, "--out", new]) == 0
    path = Path(old) / ckpt.CHECKPOINT_NAME
    state = ckpt.load_state(path)  # rewrite it as the trainer wrote it before --amp auto
    for key in ("amp_used", "channels_last_used"):
        del state["config"][key]
    state["config"].update(amp=None, channels_last=False)
    ckpt.save_atomic(state, path)
    capsys.readouterr()
    for run in (old, new):
        assert main(["train", "--resume", "--out", run, "--epochs", "2", "--json"]) == 0
    old_summary, new_summary = map(json.loads, capsys.readouterr().out.splitlines())
    assert old_summary["precision"].startswith("fp32 (fp32: a config from before --amp auto")
    assert new_summary["precision"].startswith("bf16 channels_last (auto")  # control
    saved = json.loads((Path(old) / "config.json").read_text())
    assert (saved["amp"], saved["amp_used"], saved["channels_last_used"]) == (None, "none", False)
    assert run_setting(old)["amp"] == "none" and run_setting(new)["amp"] == "bf16"


def test_the_cli_takes_every_amp_and_both_layouts(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *TINY_DATA, "--out", out, "--amp", "bf16", "--no-channels-last",
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["precision"] == "bf16 (--amp bf16 as asked)"
    saved = json.loads((Path(out) / "config.json").read_text())
    assert (saved["amp"], saved["channels_last"], saved["amp_used"]) == ("bf16", False, "bf16")
    with pytest.raises(SystemExit, match="2"):
        main(["train", *TINY_DATA, "--out", out, "--amp", "fp8"])
    assert "--amp: invalid choice: 'fp8'" in capsys.readouterr().err


def test_a_study_passes_the_layout_on_and_reads_old_configs(tmp_path):
    parser = argparse.ArgumentParser()
    study_command.add_arguments(parser)
    base = ["--models", "resnet20", "--baseline", "resnet20", "--dataset", "synthetic",
            "--out", str(tmp_path)]  # fmt: skip
    assert "--channels-last" not in shared_train_flags(parser.parse_args(base))
    flags = shared_train_flags(parser.parse_args([*base, "--no-channels-last", "--amp", "none"]))
    assert flags == ["--amp", "none", "--no-channels-last"]
    assert shared_train_flags(parser.parse_args([*base, "--channels-last"])) == [
        "--channels-last"
    ]
    # a run folder from before --amp auto: its amp=None is fp32, accepted for --amp none only
    old = TrainConfig(amp=None, channels_last=False).to_dict()
    del old["amp_used"], old["channels_last_used"]
    (tmp_path / "config.json").write_text(json.dumps(old))
    _check_existing(TrainConfig(amp="none"), tmp_path)  # channels_last and amp_used are free
    with pytest.raises(OptnetError, match="amp='none', this study asks for amp='auto'"):
        _check_existing(TrainConfig(), tmp_path)
