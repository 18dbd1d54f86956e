#!/usr/bin/env bash
# Reduced Tables 4-5 (issue 13): HB-Net-20 against ResNet-20 and AGD-Net-40 against DenseNet-40,
# 5 seeds each, with paired intervals (`optnet study`). The one definition of this protocol:
# the CPU run here, benchmarks/gpu_check.py on a GPU and users with CIFAR-10 all run this file.
#
#   benchmarks/study_tables45.sh [extra 'optnet study' / 'optnet train' flags]
#
# PROFILE=reduced (default): the Sec. 7.1 recipe (SGD + Nesterov 0.9, wd 1e-4, batch 64, lr 0.1
#   divided by 10 at 50% and 75%, pad-crop/flip, He/Xavier init) scaled to 3 hours of 2 CPU
#   cores: 4 epochs on 10,000 training images (evenly spaced in file order),
#   error on 2,000 test images. The models are the paper's own (densenet40 is the smallest
#   DenseNet of Table 4: no model is shrunk); only data and epochs are reduced.
# PROFILE=short: the same recipe cut to 2 epochs on 5,000 training images (2,000 test images),
#   about 35 min of 2 free cores; the run recorded in benchmarks/RESULTS.md used it, because the
#   session that ran it had under 2 hours of machine time left beside other work.
# PROFILE=paper: the full Sec. 7.1 recipe (300 epochs, every image), for a GPU.
# DATASETS: fashion-mnist (default); fashion-mnist,cifar10 adds CIFAR-10 to the same study
#   (fetch it first with `optnet data fetch cifar10`; it costs about 1.3x Fashion-MNIST).
# SEEDS (default 5), WORKERS (default 2: one run per core), OUT (default
#   runs/study-tables45-PROFILE), MODELS / BASELINES to add the networks of other methods.
# Re-running the same command resumes an interrupted study; finished runs are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
# OPTNET: the command that runs optnet (default: optnet on PATH, else .venv/bin/optnet), e.g.
#   OPTNET="python3 -m optnet_nets.cli"
read -r -a optnet <<< "${OPTNET:-$(command -v optnet || echo .venv/bin/optnet)}"
PROFILE="${PROFILE:-reduced}"
case "$PROFILE" in
  reduced) budget=(--epochs 4 --limit-train 10000 --limit-test 2000 --eval-batch-size 100) ;;
  short) budget=(--epochs 2 --limit-train 5000 --limit-test 2000 --eval-batch-size 100) ;;
  paper) budget=() ;;
  *) echo "study_tables45: PROFILE must be reduced, short or paper, got '$PROFILE'" >&2; exit 2 ;;
esac
exec "${optnet[@]}" study \
  --models "${MODELS:-resnet20,hbnet20,densenet40,agdnet40}" \
  --baseline "${BASELINES:-resnet20,densenet40}" \
  --dataset "${DATASETS:-fashion-mnist}" \
  --seeds "${SEEDS:-5}" \
  --workers "${WORKERS:-2}" \
  --out "${OUT:-runs/study-tables45-$PROFILE}" \
  "${budget[@]}" "$@"
