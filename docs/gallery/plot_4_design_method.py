"""
4. Design a method by PEP and compare it with OGM
=================================================

The paper's dense form (18), x_{k+1} = x_k − Σ_j h_{k,j} ∇f(x_j)/L, is every N-step fixed-step
method. :func:`optnet_theory.design.design` chooses h to minimise the certified worst case of
f(x_N) − f* on L-smooth convex functions (L = 1, ‖x₀ − x*‖ ≤ 1), by L-BFGS-B driven by the
gradient of the PEP value in h (envelope theorem). Here the known optimum, OGM, is left out of
the starts, so the search has to find it from gradient descent, Nesterov's method and a random
point. The answer is then certified like any method, and compared with OGM's proven-optimal
bound L/(2θ_N²) and its dense form.
"""

# %%
# Design
# ------
import matplotlib.pyplot as plt
import numpy as np

from optnet_theory import get_method
from optnet_theory.design import design
from optnet_theory.methods.dense.history import dense_h

N = 3
result = design(N, "smooth-convex", "function-gap", starts=3, known_start=False)
print(f"designed worst case {result.certificate['worst_case']:.8g} "
      f"in [{result.certificate['lower']:.8g}, {result.certificate['upper']:.8g}]")
print(result.optimality)
print("nearest registered:", ", ".join(f"{n['method']} ({n['distance']:.2g})"
                                       for n in result.nearest))

# %%
# Compare h with OGM's dense form
# -------------------------------
ogm = dense_h(get_method("ogm", N=N), N)


def square(h: list[list[float]]) -> np.ndarray:
    out = np.full((N, N), np.nan)
    for k, row in enumerate(h):
        out[k, : len(row)] = row
    return out


fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
top = max(np.nanmax(np.abs(square(result.h))), np.nanmax(np.abs(square(ogm))))
for ax, (title, h) in zip(axes, (("designed", result.h), ("OGM", ogm)), strict=True):
    image = ax.imshow(square(h), cmap="RdBu_r", vmin=-top, vmax=top)
    ax.set(title=f"{title}, N = {N}", xlabel="j (gradient g_j)", ylabel="k (step k → k+1)")
fig.colorbar(image, ax=axes, label="h[k][j] (units of 1/L)")
