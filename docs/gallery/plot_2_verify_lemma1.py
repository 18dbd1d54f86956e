"""
2. Verify Lemma 1 on your own W
===============================

Lemma 1: for a symmetric positive definite W = UUᵀ (U = W^½ here), one gradient-descent step of
step 1 on the energy (8), z ↦ z − ∇f(z) = UΦ(Uᵀz), is one layer x ↦ Φ(Wx) of the feedforward
network (7), read in the coordinates x = U⁻¹z. This example builds its own W, runs both sides
by hand, then lets :func:`optnet_theory.verify_claim` check the same W against its round-off
bound, shows that a W which is not SPD is refused, and that a slightly wrong network is caught.
"""

# %%
# A W of our own: a path-graph Laplacian, shifted and scaled to be SPD
# --------------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from optnet_theory import OptnetError, derive_energy, verify_claim

n, depth = 6, 15
laplacian = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
W = 0.2 * laplacian + 0.3 * np.eye(n)
x0 = np.linspace(-1.0, 1.0, n)
eigenvalues, vectors = np.linalg.eigh(W)
U = vectors @ np.diag(np.sqrt(eigenvalues)) @ vectors.T  # the symmetric square root of W
print(f"eigenvalues of W: {np.round(eigenvalues, 4)}; SPD: {bool(np.all(eigenvalues > 0))}")

# %%
# Both sides by hand
# ------------------
# The network feeds Φ(Wx) forward; gradient descent runs on f with the energy's own gradient
# (9), from z₀ = Ux₀, and is read back as x = U⁻¹z.
energy = derive_energy("softplus")
gradient = energy.gradient_fn(U)
network, descent = [x0], [U @ x0]
for _ in range(depth):
    network.append(energy.phi_fn(W @ network[-1]))
    descent.append(descent[-1] - gradient(descent[-1]))
read_back = [np.linalg.solve(U, z) for z in descent]
gaps = [np.max(np.abs(a - b)) for a, b in zip(network, read_back, strict=True)]
print(f"largest difference over {depth} layers: {max(gaps):.2e}")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
layers = np.arange(depth + 1)
for i in range(n):
    left.plot(layers, [x[i] for x in network], "o", ms=4, color=f"C{i}")
    left.plot(layers, [x[i] for x in read_back], "-", lw=1, color=f"C{i}")
left.set(xlabel="layer k", ylabel="state", title="network (dots) and GD read back (lines)")
right.semilogy(layers[1:], np.maximum(gaps[1:], np.finfo(float).tiny), "k.-")
right.set(xlabel="layer k", ylabel="max |x_k − U⁻¹z_k|", title="difference (float64 round-off)")
fig.tight_layout()

# %%
# The library's check on the same W
# ---------------------------------
# ``verify_claim`` compares the two sides layer by layer against a bound on float64 round-off
# that grows with the depth and the condition number of U.
result = verify_claim("lemma1", energy, W=W, x0=x0, depth=depth, trials=1)
print(f"passed: {result.passed}; max relative error {result.max_rel_error:.2e} <= "
      f"tolerance {result.tolerance:.2e}; cond(W) = {result.cond:.2f}")

# %%
# A W that is not SPD is refused with the reason
# ----------------------------------------------
try:
    verify_claim("lemma1", energy, W=laplacian - np.eye(n), x0=x0, depth=depth, trials=1)
except OptnetError as exc:
    print(f"refused: {exc}")


# %%
# The check can fail: a network with a 1e-6 slip in every layer is caught
# -----------------------------------------------------------------------
def slipped(phi, W, x0, K):
    states = [x0]
    for _ in range(K):
        states.append(phi(W @ states[-1]) + 1e-6)
    return states


wrong = verify_claim("lemma1", energy, W=W, x0=x0, depth=depth, trials=1, network=slipped)
print(f"slipped network passed: {wrong.passed} (relative error {wrong.max_rel_error:.1e})")
