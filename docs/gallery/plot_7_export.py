"""
7. Export a trained network
===========================

A run folder holds everything needed to rebuild its network: the config and the checkpoint.
:func:`optnet_nets.export.export_run` (or ``optnet export RUN_DIR``) writes the trained network
as a ``torch.export`` program (``.pt2``, runnable without optnet's code) or as ONNX (``.onnx``,
extra ``[onnx]``), with a dynamic batch size. Here a small HB-Net is trained for one epoch on
synthetic data, exported both ways, and the exported files are run on the test images next to
the original network.
"""

# %%
# A trained run to export
# -----------------------
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from optnet_nets.data import load_dataset
from optnet_nets.export import export_run, load_trained, run_exported
from optnet_nets.train import TrainConfig, train

data = {"num_train": 256, "num_test": 64, "image_size": 12, "channels": 1, "num_classes": 4}
run = Path(tempfile.mkdtemp()) / "hbnet20"
config = TrainConfig.from_preset("cifar", model="hbnet20", dataset="synthetic", out=str(run),
                                 epochs=1, batch_size=32, device="cpu", progress=False,
                                 dataset_options=data)  # fmt: skip
summary = train(config)

# %%
# Export
# ------
# torch's ONNX exporter warns about its own internal use of a deprecated pytree API (a torch
# matter, printed with the path of the local Python); it does not concern the export itself.
warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
files = {fmt: export_run(run, fmt).path for fmt in ("pt2", "onnx")}
for fmt, path in files.items():
    print(f"{fmt}: {path.name}, {path.stat().st_size / 1e6:.2f} MB")

# %%
# Run the exports beside the original
# -----------------------------------
# The test images, normalised as in training (the exported network expects what the model saw);
# the ONNX file runs in onnxruntime, the program in torch.
model, _ = load_trained(run)
dataset = load_dataset("synthetic", **data)
images, labels = next(iter(dataset.test_batches(64)))
with torch.no_grad():
    original = model(images)
outputs = {fmt: run_exported(path, images) for fmt, path in files.items()}
print(f"original network: test accuracy {float((original.argmax(1) == labels).float().mean()):.3f} "
      f"(training summary: {1 - summary['final_test_error']:.3f})")
for fmt, got in outputs.items():
    same = bool(torch.equal(got.argmax(1), original.argmax(1)))
    print(f"{fmt}: max |exported - original| = {float((got - original).abs().max()):.2e}, "
          f"same predictions: {same}")

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
line = np.array([float(original.min()), float(original.max())])
for ax, (fmt, got) in zip(axes, outputs.items(), strict=True):
    ax.plot(line, line, color="0.7", lw=1)
    ax.scatter(original.flatten(), got.flatten(), s=8)
    ax.set(xlabel="original network's logits", ylabel=f"{fmt} logits", title=f"{fmt} export")
fig.tight_layout()
