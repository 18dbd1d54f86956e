"""
8. The reversible HB-Net's memory
=================================

Backpropagation normally stores every layer's activations. The heavy-ball block (16) with
β₁ = −β₂ = β can be run backwards, x_{k−1} = (T(x_k) + (1 + β)x_k − x_{k+1}) / β, so the
reversible HB-Net (``reversible=True``, Sec. 6.1, as in momentumnet) rebuilds the states during
the backward pass and keeps two states per stage, whatever the depth. Here the memory that
autograd saves for backward (:class:`optnet_nets.train.memory.SavedTensorBytes`, every distinct
storage counted once, parameters included) is measured for HB-Nets of growing depth, both ways,
and the two backward passes are compared.
"""

# %%
# Measure
# -------
import matplotlib.pyplot as plt
import torch

from optnet_nets import create_model
from optnet_nets.train.memory import SavedTensorBytes

torch.manual_seed(0)
images = torch.randn(8, 3, 32, 32)
labels = torch.randint(0, 10, (8,))
depths = (20, 32, 56, 110)
saved: dict[bool, list[float]] = {False: [], True: []}
for depth in depths:
    grads = {}
    for reversible in (False, True):
        torch.manual_seed(depth)  # the same weights both ways
        net = create_model(f"hbnet{depth}", reversible=reversible).train()
        with SavedTensorBytes() as counter:
            loss = torch.nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        saved[reversible].append(counter.nbytes / 2**20)
        grads[reversible] = torch.cat([p.grad.flatten() for p in net.parameters()])
    gap = float((grads[True] - grads[False]).abs().max() / grads[False].abs().max())
    print(f"hbnet{depth}: saved for backward {saved[False][-1]:.1f} MiB stored, "
          f"{saved[True][-1]:.1f} MiB reversible; gradients differ by {gap:.1e} (relative)")

# %%
# Plot
# ----
# Stored activations grow with the depth; what the reversible network saves does not depend on
# it. The price is arithmetic: every state is rebuilt from the two after it, dividing by β, so
# float32 round-off in the rebuilt states grows with the depth (the relative gradient gaps
# printed above). ``tests/nets/test_reversible.py`` checks the reversible backward in float64,
# where it matches the stored one to a relative 1e-10.
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(depths, saved[False], "o-", label="stored activations")
ax.plot(depths, saved[True], "s-", label="reversible=True")
ax.set(xlabel="depth (layers)", ylabel="saved for backward (MiB)",
       title="HB-Net, batch of 8 images 32 × 32")
ax.set_xticks(depths)
ax.legend()
fig.tight_layout()
