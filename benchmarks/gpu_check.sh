#!/usr/bin/env bash
# One-GPU check (< 8 minutes on one H100): CPU/GPU agreement, AMP and compile training runs on
# Fashion-MNIST, HB-Net-56 vs ResNet-56 images/s, Table 2 step times and projected table minutes,
# and the reduced Tables 4-5 study (benchmarks/study_tables45.sh) in bf16 + channels_last.
# Results: $OUT/gpu_check.{json,md}
# (OUT defaults to benchmarks/out). Fashion-MNIST: $FMNIST_DIR, else shared/fashion-mnist or
# data/fashion-mnist in the repo, else /usr/share/datasets/fashion-mnist.
# Interpreter: $PYTHON, else .venv/bin/python if present, else python3.
# Smoke test of the script on a CPU-only machine: DEVICE=cpu QUICK=1 benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHON
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
exec timeout 470 "$PYTHON" benchmarks/gpu_check.py
