"""One-GPU check of the training pipeline (run by benchmarks/gpu_check.sh, < 8 minutes on an H100).

Sections, each measured in this one run and written to ``$OUT/gpu_check.json`` and
``$OUT/gpu_check.md`` (``$OUT`` defaults to ``benchmarks/out``):

1. **agreement**: resnet20 and hbnet20 (same weights) on 256 Fashion-MNIST test images, CPU
   float32 vs GPU float32 with TF32 off: max |logit difference| relative to max |logit|, argmax
   agreement, and the same for the parameter gradients of one training batch. With TF32 on the
   difference is reported too (informational: TF32 rounds matmul inputs to 10 mantissa bits).
2. **throughput**: HB-Net-56 against ResNet-56 (CIFAR shape 3x32x32, batch 128, SGD step of
   Sec. 7.1), fp32 and bf16 autocast, images/s and the ratio HB/ResNet measured back to back.
3. **training runs** through ``optnet train`` on Fashion-MNIST: fp32 (``--amp none``),
   ``--amp bf16``, ``--amp fp16`` (GradScaler) and ``--amp bf16 --channels-last --compile``;
   final test accuracy and the images/s of the last epoch (the first one of a compiled run pays
   for compilation).
4. **table2**: Table 2's training step (five structures, one seed, d = 100, batch 100, Adam) on
   the device at each depth, with the explicit gradients of ``optnet simulate`` and with
   autograd; their gradients' relative difference; and the full one-seed table's training time
   projected from the measured steps (10^5 steps per depth), in minutes.
5. **study**: the reduced Tables 4-5 study, ``benchmarks/study_tables45.sh`` (the same
   definition as on CPU), on the device with ``--amp bf16 --channels-last``, 8 runs at a time,
   cut after ``STUDY_SECONDS`` (default 180, less if the check's 450 s are nearly spent; the
   study resumes where it stopped when the check is run again); its table from the runs that
   finished, and training images/s per run and for all runs together.

Environment: ``PYTHON`` (interpreter), ``FMNIST_DIR`` (Fashion-MNIST IDX files), ``EPOCHS``
(training-run epochs, default 2), ``STUDY_SECONDS``, ``DEVICE`` (default cuda; ``cpu`` with
``QUICK=1`` is a smoke test of the script itself, without the GPU-only sections' meaning).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optnet_nets.data import load_dataset  # noqa: E402
from optnet_nets.models import create_model  # noqa: E402
from optnet_nets.models.layers import init_weights  # noqa: E402
from optnet_nets.train import read_metrics  # noqa: E402
from optnet_nets.unrolled import STRUCTURES, UnrolledEnsemble  # noqa: E402
from optnet_nets.unrolled.adjoint import ExplicitGradient  # noqa: E402

QUICK = os.environ.get("QUICK") == "1"
DEVICE = os.environ.get("DEVICE", "cuda")
EPOCHS = int(os.environ.get("EPOCHS", "1" if QUICK else "2"))
OUT = Path(os.environ.get("OUT") or ROOT / "benchmarks" / "out")
CANDIDATES = [os.environ.get("FMNIST_DIR"), str(ROOT / "shared" / "fashion-mnist"),
              str(ROOT / "data" / "fashion-mnist"), "/usr/share/datasets/fashion-mnist"]


def fashion_dir() -> str:
    for candidate in CANDIDATES:
        if candidate and list(Path(candidate).glob("train-images*")):
            return candidate
    raise SystemExit(f"gpu_check: no Fashion-MNIST IDX files in {CANDIDATES}; set FMNIST_DIR")


def log(text: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {text}", flush=True)


# ---------------------------------------------------------------- 1. agreement
def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


def agreement(data_dir: str) -> dict[str, Any]:
    if DEVICE != "cuda":
        return {"skipped": "no GPU device (DEVICE != cuda)"}
    data = load_dataset("fashion-mnist", data_dir, device="cpu", limit_test=256)
    images, labels = next(iter(data.test_batches(256)))
    results: dict[str, Any] = {}
    for name in ("resnet20", "hbnet20"):
        torch.manual_seed(0)
        cpu_model = create_model(name, num_classes=10, in_channels=1)
        init_weights(cpu_model)
        gpu_model = create_model(name, num_classes=10, in_channels=1).cuda()
        gpu_model.load_state_dict(cpu_model.state_dict())
        entry: dict[str, Any] = {}
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            cpu_model.eval()
            gpu_model.eval()
            with torch.no_grad():
                out_cpu = cpu_model(images)
                out_gpu = gpu_model(images.cuda()).cpu()
            key = "tf32" if tf32 else "fp32"
            entry[f"logits_rel_diff_{key}"] = _rel(out_gpu, out_cpu)
            same = out_gpu.argmax(1) == out_cpu.argmax(1)
            entry[f"argmax_agree_{key}"] = same.float().mean().item()
            cpu_model.train()
            gpu_model.train()
            cpu_model.zero_grad()
            gpu_model.zero_grad()
            F.cross_entropy(cpu_model(images[:64]), labels[:64]).backward()
            F.cross_entropy(gpu_model(images[:64].cuda()), labels[:64].cuda()).backward()
            grads = [
                _rel(pg.grad.cpu(), pc.grad)
                for pc, pg in zip(cpu_model.parameters(), gpu_model.parameters(), strict=True)
                if pc.grad is not None and pc.grad.abs().max() > 0
            ]
            entry[f"grad_max_rel_diff_{key}"] = max(grads)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        entry["pass_fp32"] = (
            entry["logits_rel_diff_fp32"] < 1e-4 and entry["argmax_agree_fp32"] == 1.0
        )
        results[name] = entry
        log(f"agreement {name}: {entry}")
    return results


# ---------------------------------------------------------------- 2. training runs
RUNS = {
    "fp32": ["--amp", "none"],  # the default is --amp auto: bf16 on a GPU with native bf16
    "bf16": ["--amp", "bf16"],
    "fp16": ["--amp", "fp16"],
    "bf16_channels_last_compile": ["--amp", "bf16", "--channels-last", "--compile"],
}


def training_runs(data_dir: str) -> dict[str, Any]:
    python = os.environ.get("PYTHON", sys.executable)
    results: dict[str, Any] = {}
    limits = ["--limit-train", "256", "--limit-test", "128"] if QUICK else []
    if DEVICE == "cpu":
        limits += ["--threads", "1"]
    for name, flags in RUNS.items():
        if DEVICE == "cpu" and name not in ("fp32", "bf16"):
            results[name] = {"skipped": "GPU-only variant"}
            continue
        out = OUT / "runs" / name
        command = [python, "-m", "optnet_nets.cli", "train", "--model", "resnet20", "--dataset",
                   "fashion-mnist", "--data-dir", data_dir, "--epochs", str(EPOCHS), "--device",
                   DEVICE, "--out", str(out), "--overwrite", "--no-progress", "--json",
                   *limits, *flags]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))  # fmt: skip
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            results[name] = {"error": proc.stderr.strip().splitlines()[-1:], "wall_s": wall}
            log(f"run {name}: FAILED {results[name]}")
            continue
        summary = json.loads(proc.stdout)
        records = read_metrics(out)
        results[name] = {
            "final_test_acc": summary["final_test_acc"],
            "last_epoch_images_per_s": records[-1]["images_per_s"],
            "train_time_s": summary["train_time_s"],
            "wall_s": wall,
            "flags": " ".join(flags),
        }
        log(f"run {name}: {results[name]}")
    return results


# ---------------------------------------------------------------- 3. throughput
def _images_per_s(name: str, amp: bool, steps: int, warmup: int, batch: int) -> float:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_channels=3)
    init_weights(model)
    model = model.to(DEVICE)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)  # fmt: skip
    x = torch.randn(batch, 3, 32, 32, device=DEVICE)
    y = torch.randint(0, 10, (batch,), device=DEVICE)
    model.train()

    def step() -> None:
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def throughput() -> dict[str, Any]:
    steps, warmup, batch = (3, 1, 16) if QUICK else (150, 30, 128)
    results: dict[str, Any] = {}
    for amp in (False, True):
        key = "bf16" if amp else "fp32"
        rates = {}
        for _ in range(2):  # alternate twice so clock/thermal drift hits both models alike
            for name in ("resnet56", "hbnet56"):
                rates.setdefault(name, []).append(_images_per_s(name, amp, steps, warmup, batch))
        best = {name: max(values) for name, values in rates.items()}
        results[key] = {
            "resnet56_images_per_s": best["resnet56"],
            "hbnet56_images_per_s": best["hbnet56"],
            "hb_over_resnet": best["hbnet56"] / best["resnet56"],
            "batch": batch,
            "timed_steps": steps,
        }
        log(f"throughput {key}: {results[key]}")
    return results


def _table2_depth(depth: int, steps: int) -> dict[str, Any]:
    model = UnrolledEnsemble(list(STRUCTURES), depth, 100, seeds=[0] * 5, device=DEVICE)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 100, 100, generator=gen).to(DEVICE)
    f = torch.randn(5, 100, 100, generator=gen).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    explicit = ExplicitGradient(model, 100)

    def autograd_step() -> None:
        opt.zero_grad(set_to_none=True)
        (model(x) - f).square().mean(dim=(1, 2)).sum().backward()

    autograd_step()
    want = model.weight.grad.clone()
    explicit(x, f)
    entry: dict[str, Any] = {
        "grad_rel_diff": ((model.weight.grad - want).abs().max() / want.abs().max()).item()
    }
    for name, grad_step in (("explicit", lambda: explicit(x, f)), ("autograd", autograd_step)):
        for _ in range(2):
            grad_step()
            opt.step()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            grad_step()
            opt.step()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        entry[f"{name}_ms_per_step"] = (time.perf_counter() - t0) / steps * 1e3
    return entry


def table2() -> dict[str, Any]:
    """Table 2 step times on the device, explicit vs autograd, and the projected table time."""
    steps = 3 if QUICK else 50
    results: dict[str, Any] = {}
    for depth in (10, 20, 30, 40):
        results[str(depth)] = _table2_depth(depth, steps)
        log(f"table2 depth {depth}: {results[str(depth)]}")
    results["projected_table_minutes"] = {  # 1,000 epochs x 100 steps per depth
        name: sum(results[str(k)][f"{name}_ms_per_step"] for k in (10, 20, 30, 40)) * 1e5 / 6e4
        for name in ("explicit", "autograd")
    }
    return results


# ---------------------------------------------------------------- 5. the reduced Tables 4-5 study
STUDY_SCRIPT = ROOT / "benchmarks" / "study_tables45.sh"
#: seconds the study may train (it is cut there, resumable); the whole check must stay < 470 s
STUDY_SECONDS = int(os.environ.get("STUDY_SECONDS", "180"))
CHECK_SECONDS = 450  # gpu_check.sh kills the check at 470 s; keep 20 s for the summary


def study(data_dir: str, started: float) -> dict[str, Any]:
    """The study of benchmarks/study_tables45.sh on the device (bf16 + channels_last on CUDA),
    cut after ``STUDY_SECONDS`` (or the check's time left), then summarised from the runs that
    finished: its table, and images/s per run and for all runs together."""
    budget = min(STUDY_SECONDS, CHECK_SECONDS - (time.perf_counter() - started) - 20)
    if budget < 45:
        return {"skipped": f"only {budget:.0f} s of the check's time left"}
    out = OUT / "study"
    flags = ["--device", DEVICE, "--data-dir", data_dir]
    if DEVICE == "cuda":
        flags += ["--amp", "bf16", "--channels-last"]
    if QUICK:  # the smoke test: two models, two seeds, a few batches
        flags += ["--epochs", "1", "--limit-train", "256", "--limit-test", "128", "--threads", "1"]
    workers = "8" if DEVICE == "cuda" else "2"  # small models leave a GPU idle between kernels
    python = os.environ.get("PYTHON", sys.executable)
    env = dict(os.environ, OUT=str(out), WORKERS=workers, PYTHONPATH=str(ROOT),
               OPTNET=f"{python} -m optnet_nets.cli")  # fmt: skip
    if QUICK:
        env.update(MODELS="resnet20,hbnet20", BASELINES="resnet20", SEEDS="2")
    t0 = time.perf_counter()
    proc = subprocess.Popen(["bash", str(STUDY_SCRIPT), *flags], cwd=ROOT, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        proc.wait(timeout=budget)
        cut = False
    except subprocess.TimeoutExpired:  # SIGTERM: the study stops its runs (they resume later)
        cut = True
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
    wall = time.perf_counter() - t0
    done = subprocess.run(["bash", str(STUDY_SCRIPT), *flags, "--summarize-only", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:], "wall_s": wall, "cut": cut}
    summary = json.loads(done.stdout)
    finished = [r for r in summary["runs"] if r["finished"]]
    trained = sum(r["images_per_s"] * r["train_time_s"] for r in finished)
    log(f"study: {summary['finished']}/{summary['total']} runs in {wall:.0f} s"
        f"{' (cut at the time limit)' if cut else ''}")  # fmt: skip
    return {
        "wall_s": wall,
        "cut": cut,
        "exit": proc.returncode,
        "workers": int(workers),
        "flags": " ".join(flags),
        "finished": summary["finished"],
        "total": summary["total"],
        "images_per_s_all_runs": trained / wall,
        "images_per_s_per_run": {m: e["images_per_s"] for m, e in
                                 next(iter(summary["models"].values())).items()},
        "table_md": (out / "study.md").read_text().split("\n", 2)[2],
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if DEVICE == "cpu":
        torch.set_num_threads(1)  # the CPU smoke test runs on shared machines
    started = time.perf_counter()
    report: dict[str, Any] = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu",
        "quick": QUICK,
        "epochs": EPOCHS,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if DEVICE == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: DEVICE=cuda but torch sees no GPU")
    data_dir = fashion_dir()
    for section, fn in (("agreement", lambda: agreement(data_dir)),
                        ("throughput", throughput),
                        ("training_runs", lambda: training_runs(data_dir)),
                        ("table2", table2),
                        ("study", lambda: study(data_dir, started))):  # fmt: skip
        t0 = time.perf_counter()
        try:
            report[section] = fn()
        except Exception:  # a failed section is reported, the others still run
            report[section] = {"error": traceback.format_exc(limit=3)}
            log(f"{section}: FAILED\n{report[section]['error']}")
        report[f"{section}_s"] = time.perf_counter() - t0
        report["total_s"] = time.perf_counter() - started
        # written after every section, so a run cut short still leaves its figures
        (OUT / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# gpu_check on {report['device']} (torch {report['torch']}, {report['date']})", ""]
    agree = report.get("agreement", {})
    lines += ["## CPU vs GPU agreement (fp32, TF32 off)", ""]
    for name, entry in agree.items():
        if isinstance(entry, dict):
            lines.append(f"- {name}: logits rel diff {entry['logits_rel_diff_fp32']:.2e}, argmax "
                         f"agreement {entry['argmax_agree_fp32']:.3f}, grad rel diff "
                         f"{entry['grad_max_rel_diff_fp32']:.2e}; with TF32: logits "
                         f"{entry['logits_rel_diff_tf32']:.2e}")
        else:
            lines.append(f"- {name}: {entry}")
    lines += ["", f"## resnet20 on Fashion-MNIST, {report['epochs']} epoch(s)", "",
              "| run | test acc | img/s (last epoch) | wall s |", "|---|---|---|---|"]
    for name, entry in report.get("training_runs", {}).items():
        if isinstance(entry, dict) and "final_test_acc" in entry:
            lines.append(f"| {name} | {entry['final_test_acc']:.4f} | "
                         f"{entry['last_epoch_images_per_s']:.0f} | {entry['wall_s']:.0f} |")
        else:
            lines.append(f"| {name} | {entry} | | |")
    lines += ["", "## HB-Net-56 vs ResNet-56 training throughput (3x32x32)", "",
              "| precision | ResNet-56 img/s | HB-Net-56 img/s | HB / ResNet |",
              "|---|---|---|---|"]
    for key, entry in report.get("throughput", {}).items():
        if isinstance(entry, dict) and "hb_over_resnet" in entry:
            lines.append(f"| {key} | {entry['resnet56_images_per_s']:.0f} | "
                         f"{entry['hbnet56_images_per_s']:.0f} | {entry['hb_over_resnet']:.3f} |")
        else:
            lines.append(f"| {key} | {entry} | | |")
    t2 = report.get("table2", {})
    lines += ["", "## Table 2 training step (5 structures, 1 seed, d=100, batch 100)", "",
              "| depth | explicit ms/step | autograd ms/step | grad rel diff |",
              "|---|---|---|---|"]
    for depth in ("10", "20", "30", "40"):
        entry = t2.get(depth)
        if isinstance(entry, dict):
            lines.append(f"| {depth} | {entry['explicit_ms_per_step']:.2f} | "
                         f"{entry['autograd_ms_per_step']:.2f} | {entry['grad_rel_diff']:.1e} |")
    if "projected_table_minutes" in t2:
        m = t2["projected_table_minutes"]
        lines.append(f"\nFull one-seed table projected from these steps: {m['explicit']:.1f} min "
                     f"explicit, {m['autograd']:.1f} min autograd.")
    elif t2:
        lines.append(f"table2: {t2}")
    entry = report.get("study", {})
    lines += ["", "## Reduced Tables 4-5 (benchmarks/study_tables45.sh) on the device", ""]
    if "table_md" in entry:
        per_run = ", ".join(f"{m} {v:.0f}" for m, v in entry["images_per_s_per_run"].items()
                            if v is not None)  # fmt: skip
        cut = " (cut at its time limit; rerun to resume)" if entry["cut"] else ""
        lines += [f"{entry['finished']} of {entry['total']} runs finished in "
                  f"{entry['wall_s']:.0f} s{cut}, {entry['workers']} runs at a time, flags "
                  f"`{entry['flags']}`. Training images/s: {entry['images_per_s_all_runs']:.0f} "
                  f"for all runs together; per run: {per_run}.", "", entry["table_md"]]  # fmt: skip
    else:
        lines.append(f"study: {entry}")
    lines += ["", f"total {report.get('total_s', 0):.0f} s", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
