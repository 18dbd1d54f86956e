"""
5. Build and train HB-Net on synthetic data
===========================================

HB-Net is the network that the heavy-ball iteration (2) inspires: each block is
x_{k+1} = T(x_k) + β₁x_k + β₂x_{k−1} (16), with the learned β's starting at the paper's values;
with β₂ = 0 and β₁ = 1 it is a ResNet (Table 3). Here HB-Net-20 and ResNet-20 are built with an
activation of our own, ``x*erf(x)`` (its torch function generated from the derived Φ), and
trained side by side with the paper's recipe (Sec. 7.1, SGD with Nesterov momentum, step decay)
on a small synthetic image set that needs no download: 512 training images of 4 classes,
12 × 12, with heavy pixel noise.
"""

# %%
# Build
# -----
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from optnet_nets import create_model
from optnet_nets.train import TrainConfig, read_metrics, train

torch.manual_seed(0)
activation = "x*erf(x)"
for name in ("hbnet20", "resnet20"):
    net = create_model(name, num_classes=4, in_channels=3, activation=activation)
    parameters = sum(p.numel() for p in net.parameters())
    shape = tuple(net(torch.randn(2, 3, 12, 12)).shape)
    print(f"{name}: {parameters:,} parameters; a batch of 2 images gives logits of shape {shape}")

# %%
# Train
# -----
# A run lives in its ``out`` folder (config, per-epoch metrics, checkpoint, summary) and
# resumes from there; here the folders are temporary.
data = {"num_train": 512, "num_test": 256, "image_size": 12, "num_classes": 4, "noise": 96.0}
runs = Path(tempfile.mkdtemp())
summaries = {}
for name in ("hbnet20", "resnet20"):
    config = TrainConfig.from_preset(
        "cifar", model=name, dataset="synthetic", out=str(runs / name), epochs=5,
        batch_size=32, device="cpu", progress=False, dataset_options=data,
        model_options={"activation": activation},
    )  # fmt: skip
    summaries[name] = train(config)
    s = summaries[name]
    print(f"{name}: final test error {100 * s['final_test_error']:.1f}%, best "
          f"{100 * s['best_test_error']:.1f}%, {s['images_per_s']:.0f} images/s")

# %%
# The curves, read back from each run's ``metrics.jsonl``
# -------------------------------------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for name in summaries:
    records = read_metrics(runs / name)
    epochs = [r["epoch"] for r in records]
    left.plot(epochs, [r["train_loss"] for r in records], "o-", label=name)
    right.plot(epochs, [100 * r["test_error"] for r in records], "o-", label=name)
left.set(xlabel="epoch", ylabel="training loss", title="training loss")
right.set(xlabel="epoch", ylabel="test error (%)", title="test error")
for ax in (left, right):
    ax.legend()
fig.tight_layout()
