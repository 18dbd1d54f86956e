#!/usr/bin/env bash
# Issue #6 acceptance run: resnet20 on Fashion-MNIST, 3 epochs, the paper's recipe (Sec. 7.1:
# SGD + Nesterov 0.9, wd 1e-4, batch 64, lr 0.1 /10 at 50% and 75%), on CPU.
# Prints the summary (test accuracy, training time, images/s) and writes it, with the wall time,
# to $OUT/train_fashion_mnist.json (OUT defaults to benchmarks/out).
# THREADS=1 is advised on a busy machine (oversubscribed OpenMP threads are many times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/out}"
OPTNET="${OPTNET:-$(command -v optnet || echo .venv/bin/optnet)}"
mkdir -p "$OUT"
threads=()
if [ -n "${THREADS:-}" ]; then threads=(--threads "$THREADS"); fi
start=$(date +%s)
"$OPTNET" train --model resnet20 --dataset fashion-mnist --epochs 3 --device cpu \
  --out "$OUT/resnet20-fashion-mnist" --overwrite --json "${threads[@]}" \
  > "$OUT/train_fashion_mnist.summary.json"
end=$(date +%s)
python3 - "$OUT" "$((end - start))" <<'PY'
import json, sys
out, wall = sys.argv[1], int(sys.argv[2])
summary = json.load(open(f"{out}/train_fashion_mnist.summary.json"))
summary["wall_s"] = wall
json.dump(summary, open(f"{out}/train_fashion_mnist.json", "w"), indent=2)
print(f"resnet20 / fashion-mnist / 3 epochs: test accuracy {summary['final_test_acc']:.4f}, "
      f"training {summary['train_time_s']:.0f} s, wall {wall} s, "
      f"{summary['images_per_s']:.0f} img/s")
PY
