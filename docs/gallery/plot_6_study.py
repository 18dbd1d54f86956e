"""
6. A study over seeds and its plot
==================================

One training run says little: the error of a small network moves by points from seed to seed.
``optnet study`` trains models × datasets × seeds, each run an ``optnet train`` in its own
folder (resumable: run the same command again after an interruption), and compares each model
with its baseline **paired by seed**, with a t interval and a bootstrap interval of the
differences. Here: ResNet-20 and HB-Net-20, three seeds each, on tiny synthetic images, two runs
at a time. The same command takes ``--executor slurm --slurm-time MIN`` to submit every run as a
SLURM job instead (extra ``[cluster]``).
"""

# %%
# Run the study
# -------------
# Exactly what one would type in a shell, run from Python here.
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.image import imread

out = Path(tempfile.mkdtemp()) / "study"
command = ["optnet", "study", "--models", "resnet20,hbnet20", "--baseline", "resnet20",
           "--dataset", "synthetic", "--seeds", "3", "--epochs", "2", "--batch-size", "32",
           "--dataset-option", "num_train=256", "--dataset-option", "num_test=128",
           "--dataset-option", "image_size=8", "--dataset-option", "num_classes=4",
           "--workers", "2", "--out", str(out), "--json"]  # fmt: skip
print("$", shlex.join(command))
done = subprocess.run([sys.executable, "-m", "optnet_nets.cli", *command[1:]],
                      capture_output=True, text=True, check=True)  # fmt: skip
print(done.stderr)  # one line per finished run
summary = json.loads(done.stdout)

# %%
# The table (``study.md``)
# ------------------------
print((out / "study.md").read_text())

# %%
# The paired differences, from ``study.json``
# -------------------------------------------
paired = summary["models"]["synthetic"]["hbnet20"]["paired"]["final"]
print(f"seeds {paired['seeds']}: hbnet20 - resnet20 final error differences "
      f"{[round(100 * d, 2) for d in paired['differences']]} (points); mean "
      f"{100 * paired['mean']:.2f}, 95% t interval {[round(100 * c, 2) for c in paired['ci']]}, "
      f"verdict: {paired['verdict']}")

# %%
# The plot (``study.png``, as the study wrote it)
# -----------------------------------------------
fig, ax = plt.subplots(figsize=(12, 4))
ax.imshow(imread(out / "study.png"))
ax.set_axis_off()
fig.tight_layout()
