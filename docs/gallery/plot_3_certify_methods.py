"""
3. Certify and compare first-order methods
==========================================

Each registered method is data (a linear system in feedback with the gradient), so its exact
worst case over a whole function class can be computed by performance estimation (PEP, through
PEPit; extra ``[certify]``). Here, for N = 1 … 8 iterations:

* on L-smooth convex functions (L = 1), the worst f(x_N) − f* from ‖x₀ − x*‖² ≤ 1 of gradient
  descent (the paper's (1)), heavy ball (2), Nesterov's AGD (3) and OGM (Kim & Fessler), next to
  the published bound where the method has one;
* on L-smooth μ-strongly convex functions (μ = 0.1), the worst ‖x_N − x*‖² of gradient descent
  with step 1/L, the triple momentum method (TMM) and ITEM.

Only ``worst_case`` and ``analytic`` of each :class:`~optnet_theory.certify.Certificate` are used.
"""

# %%
# Certify
# -------
import matplotlib.pyplot as plt

from optnet_theory import get_method
from optnet_theory.certify import certify

steps = range(1, 9)
convex = ("gd", "hb", "agd", "ogm")
strong = ("gd", "tmm", "item")
worst: dict[str, dict[str, list[float]]] = {"convex": {}, "strong": {}}
bound: dict[str, dict[str, list[float | None]]] = {"convex": {}, "strong": {}}
classes = (("convex", convex, 0.0, "function-gap"), ("strong", strong, 0.1, "distance"))
for cls, methods, mu, metric in classes:
    for name in methods:
        certificates = [certify(get_method(name, mu=mu, N=n), n, metric=metric) for n in steps]
        worst[cls][name] = [c.worst_case for c in certificates]
        bound[cls][name] = [c.analytic for c in certificates]
        last = certificates[-1]
        published = "none" if last.analytic is None else f"{last.analytic:.4g}"
        print(f"{cls:>6} {name:>4}: N = {last.steps}, {last.metric}: worst case "
              f"{last.worst_case:.4g}, published bound {published}")

# %%
# Compare
# -------
# Markers: the exact worst case; dashed lines: the published bound (where there is one). A
# method whose worst case lies on its bound has a tight bound.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
titles = {"convex": "L-smooth convex: worst f(x_N) − f*",
          "strong": "μ = 0.1 strongly convex: worst ‖x_N − x*‖²"}
for ax, cls in zip(axes, ("convex", "strong"), strict=True):
    for i, (name, values) in enumerate(worst[cls].items()):
        ax.semilogy(steps, values, "o-", color=f"C{i}", label=name)
        known = [(n, b) for n, b in zip(steps, bound[cls][name], strict=True) if b is not None]
        if known:
            ax.semilogy(*zip(*known, strict=True), "--", color=f"C{i}", lw=1,
                        label=f"{name}, published bound")
    ax.set(xlabel="iterations N", title=titles[cls])
    ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The ranking after 8 iterations, smallest worst case first:
for cls in ("convex", "strong"):
    ranking = sorted(worst[cls], key=lambda name: worst[cls][name][-1])
    print(f"{cls}: {' < '.join(ranking)}")
