"""
1. Derive a new activation's energy and plot Ψ
================================================

Lemma 1 of the paper reads a layer x ↦ Φ(Wx) as one gradient step on the energy (8),
f(z) = ‖z‖²/2 − Σᵢ Ψ(Uᵢᵀz), whose Ψ satisfies Ψ′ = Φ. Here Ψ is derived for two activations that
are not in the paper: ``x*erf(x)``, which has a closed form, and Mish,
``x*tanh(log(1 + exp(x)))``, which has none and gets a numeric Ψ with a stated accuracy.
Either way, Ψ′ = Φ is checked at 30 digits before the energy is returned.
"""

# %%
# Derive
# ------
# A formula in ``x`` is parsed by a whitelist (never ``eval``); ``derive_energy`` returns Ψ as
# SymPy when a closed form passes the check, and as float64/mpmath functions either way.
import matplotlib.pyplot as plt
import numpy as np

from optnet_theory import derive_energy
from optnet_theory.energy.curvature import curvature
from optnet_theory.energy.plot import residual

formulas = {"x erf(x)": "x*erf(x)", "Mish": "x*tanh(log(1 + exp(x)))"}
energies = {name: derive_energy(formula) for name, formula in formulas.items()}
for name, energy in energies.items():
    accuracy = "exact" if energy.accuracy is None else f"{energy.accuracy:.1e}"
    print(f"{name}: Phi = {energy.phi}")
    print(f"  Psi = {energy.psi if energy.psi is not None else '(no closed form)'}")
    print(f"  found by: {energy.method}, verified: {energy.verified}, "
          f"max |Psi' - Phi| at 30 digits: {energy.max_check_error:.1e}, accuracy: {accuracy}")

# %%
# Plot Φ, Ψ and how well Ψ′ = Φ holds
# ------------------------------------
# Ψ′ is taken by mpmath's numerical differentiation of the multiprecision Ψ, so the right panel
# shows the check itself, not float64 noise.
x = np.linspace(-5, 5, 401)
xr = np.linspace(-5, 5, 41)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for (name, energy), colour in zip(energies.items(), ("C0", "C1"), strict=True):
    left.plot(x, energy.phi_fn(x), colour, lw=1, ls="--", label=f"Φ, {name}")
    left.plot(x, energy.psi_fn(x), colour, lw=2, label=f"Ψ, {name} ({energy.method})")
    right.semilogy(xr, np.maximum(residual(energy, xr), 1e-80), colour, marker=".", label=name)
left.set(xlabel="x", title="activation Φ and its energy term Ψ")
left.legend(fontsize=8)
right.set(xlabel="x", ylabel="|Ψ′(x) − Φ(x)|", title="the check Ψ′ = Φ (mpmath)")
right.legend(fontsize=8)
fig.tight_layout()

# %%
# The curvature of the energy
# ---------------------------
# For a weight matrix U, the Hessian of (8) is I − U diag(Φ′(Uᵀz)) Uᵀ; the slope bounds
# m ≤ Φ′ ≤ M and the spectrum of W = UUᵀ give its bounds μ and L (a negative μ: f is not convex).
U = np.array([[0.6, 0.2], [0.0, 0.5]])
for name, energy in energies.items():
    c = curvature(energy, U, symbolic=False)
    print(f"{name}: {c.m:.4f} <= Phi' <= {c.M:.4f}; on W = U U^T: mu = {c.mu:.4f}, L = {c.L:.4f}")
