"""Model (15)'s loss and gradient for the unrolled networks as ONE compiled function.

:class:`~optnet_nets.unrolled.adjoint.ExplicitGradient` runs the generated forward program and
its adjoint as ~55 small torch calls per layer of Table 2's five structures (d = 100, batch 100:
10^4 elements each): a tenth of a step is per-call dispatch, a quarter the element-wise work
(Phi, Phi', the side paths of (11)-(14)) (``benchmarks/bench_simulate.py --breakdown``).
:func:`adjoint_function` writes the same two programs (:mod:`optnet_nets.unrolled.plan`) as one
pure function of (x_0, f, W^T); :class:`CompiledGradient` hands it to ``torch.compile``
(inductor, with its C++ wrapper), which fuses each run of element-wise work between two
products into one loop and calls the products and the loops from generated C++, without Python
in between. The products are the same BLAS calls; the fused loops round differently from the
separate passes, so the gradient equals ExplicitGradient's and autograd's up to rounding
(float64: 1e-12, ``tests/nets/test_unrolled_compiled.py``). Compiling takes minutes at depth 40
(once per process): worth it for a full Table 2 run (1.06-1.20x the step at depth 40,
``benchmarks/RESULTS.md``), not for a test.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from optnet_nets.unrolled import UnrolledEnsemble, run_ops
from optnet_nets.unrolled.adjoint import unsupported_reason
from optnet_nets.unrolled.adjoint_plan import AdjointPlan, adjoint_plan
from optnet_nets.unrolled.plan import Lin, Plan

__all__ = ["CompiledGradient", "adjoint_function"]

Tensor = torch.Tensor
Function = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]

# Phi and g * Phi'(P) through s = Phi(P)
_PHI: dict[str, Callable[[Tensor], Tensor]] = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}
_PHI_BACKWARD: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "sigmoid": torch.ops.aten.sigmoid_backward,
    "tanh": torch.ops.aten.tanh_backward,
}


def _rows(t: Tensor, count: int, batch: int) -> tuple[Tensor, ...]:
    return t.split(batch, 1) if count > 1 else (t,)


def _stack(parts: list[Tensor]) -> Tensor:
    return torch.cat(parts, 1) if len(parts) > 1 else parts[0]


def adjoint_function(model: UnrolledEnsemble, batch: int) -> Function:
    """``(x0, f, weight) -> (losses, grad)``: the per-member losses of model (15) and the
    gradient of their sum with respect to ``weight`` (W_k^T, as ``model.weight``), by the
    forward program of each structure group and its adjoint; no autograd, no in-place work."""
    reason = unsupported_reason(model)
    if reason is not None:
        raise ValueError(f"adjoint_function does not support {reason}; use autograd")
    phi, phi_backward = _PHI[model.activation], _PHI_BACKWARD[model.activation]
    groups = [(g.start, g.stop, p, adjoint_plan(p)) for g, p in zip(model._groups, model._plans,
                                                                     strict=True)]

    def group(plan: Plan, adj: AdjointPlan, w: tuple[Tensor, ...], x0: Tensor, f: Tensor
              ) -> tuple[Tensor, Tensor]:
        T = {0: x0}
        for st in plan.statements:
            if isinstance(st, Lin):
                if st.out in adj.live:
                    T[st.out] = run_ops(st.ops, T.__getitem__, x0)
                continue
            s = phi(torch.bmm(_stack([T[v] for v in st.ys]), w[st.layer]))  # Phi(W_k y)
            T.update(zip(st.ss, _rows(s, len(st.ss), batch), strict=True))
        r = T[plan.output] - f
        T[adj.seed] = r * (2.0 / (r.shape[1] * r.shape[2]))  # d mean((x_K - f)^2) / d x_K
        grads: list[Tensor | None] = [None] * len(w)
        for ad in adj.statements:
            if isinstance(ad, Lin):
                T[ad.out] = run_ops(ad.ops, T.__getitem__, x0)
                continue
            fwd = ad.forward
            gP = _stack([torch.zeros_like(T[s]) if g is None else phi_backward(T[g], T[s])
                         for g, s in zip(ad.gs, fwd.ss, strict=True)])
            d = torch.bmm(_stack([T[v] for v in fwd.ys]).transpose(1, 2), gP)
            d = d if ad.alpha == 1.0 else d * ad.alpha
            k = fwd.layer
            before = grads[k]
            grads[k] = d if before is None else before + d
            if any(g is not None for g in ad.gys):
                gY = torch.bmm(gP, w[k].transpose(1, 2))
                for g, part in zip(ad.gys, _rows(gY, len(ad.gys), batch), strict=True):
                    if g is not None:
                        T[g] = part
        full = [torch.zeros_like(w[0]) if g is None else g for g in grads]
        return r.square().mean(dim=(1, 2)), torch.stack(full, 1)

    def function(x0: Tensor, f: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
        out = [group(p, a, weight[lo:hi].unbind(1), x0[lo:hi], f[lo:hi])
               for lo, hi, p, a in groups]
        return torch.cat([lo for lo, _ in out]), torch.cat([g for _, g in out])

    return function


class CompiledGradient:
    """:class:`~optnet_nets.unrolled.adjoint.ExplicitGradient`'s interface on the compiled
    :func:`adjoint_function`: ``losses = grad(x0, f)`` returns the per-member losses and sets
    ``model.weight.grad``. ``compile=False`` runs the same function eagerly (for tests)."""

    def __init__(self, model: UnrolledEnsemble, batch: int, *, compile: bool = True) -> None:
        self.model = model
        self.batch = batch
        function = adjoint_function(model, batch)
        self._function: Function = (
            torch.compile(function, fullgraph=True, options={"cpp_wrapper": True})
            if compile else function
        )

    def __call__(self, x0: Tensor, f: Tensor) -> Tensor:
        want = (self.model.members, self.batch, self.model.dim)
        if tuple(x0.shape) != want or tuple(f.shape) != want:
            raise ValueError(
                f"x0 and f must both have shape {want} (members, batch, d), "
                f"got {tuple(x0.shape)} and {tuple(f.shape)}"
            )
        with torch.no_grad():
            losses, grad = self._function(x0, f, self.model.weight.detach())
        self.model.weight.grad = grad
        return losses
