"""Model (15)'s loss and its gradient for the unrolled networks, without autograd.

Training Table 2 means 10^5 Adam steps of small products (batch 100, d = 100). Under autograd
the per-operation bookkeeping and the separate element-wise passes of the side paths cost as
much as the products themselves. :class:`ExplicitGradient` computes the same loss and the same
gradient with respect to every W_k of an :class:`~optnet_nets.unrolled.UnrolledEnsemble` by
running the group's generated program (:mod:`optnet_nets.unrolled.plan`) forward and its adjoint
backward, for any registered method: for the system

    y_j = C_j xi_j,   s_j = Phi(y_j W_k^T),   xi_{j+1} = A'_j xi_j - B_j s_j,

the adjoint of each value is the combination, with the same coefficients, of the adjoints of
the values that use it; through a product, gP = g_s * Phi'(s), dL/dW_k^T = sum_j y_j^T gP_j over
the layer's sub-steps, and g_y = gP W_k. Tensors are allocated once: values that backward reads
(every y_j and s_j) are kept, the rest share a small pool of buffers by lifetime, and where a
layer's products are stacked (ADMM (14)) one product serves all its sub-steps, forward and back.

Row vectors throughout: ``weight[e, k]`` holds W_k^T, so a layer is ``y @ weight[e, k]``. The
gradients equal autograd's (``tests/nets/test_unrolled_backward.py``: float64 to 1e-12 for every
registered method, with perturbed-coefficient negative controls). Supported: untied weights,
every member at the ensemble's full depth, sigmoid or tanh; :func:`unsupported_reason` names
what else a model uses, and the caller falls back to autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch

from optnet_nets.unrolled import UnrolledEnsemble
from optnet_nets.unrolled.adjoint_plan import AdjointPlan, AdjointProduct, adjoint_plan
from optnet_nets.unrolled.plan import Lin, Op, Plan, Product

__all__ = ["ExplicitGradient", "unsupported_reason"]

Tensor = torch.Tensor
Call = Callable[[], object]

# Phi'(P) expressed through s = Phi(P), written into ``out``: g * Phi'(P).
_PHI_BACKWARD: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "sigmoid": lambda g, s, out: torch.ops.aten.sigmoid_backward.grad_input(g, s, grad_input=out),
    "tanh": lambda g, s, out: torch.ops.aten.tanh_backward.grad_input(g, s, grad_input=out),
}
_PHI_INPLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid_,
    "tanh": torch.tanh_,
}


def unsupported_reason(model: UnrolledEnsemble) -> str | None:
    """Why :class:`ExplicitGradient` cannot train ``model`` (None when it can)."""
    if model.tied:
        return "tied weights (Sec. 5.1 algorithms) are not trained"
    if any(k != model.depth for k in model.member_depths):
        return "members of different depths in one ensemble"
    if model.activation not in _PHI_BACKWARD:
        return f"activation {model.activation!r}"
    return None


class ExplicitGradient:
    """Loss of model (15) per member and d(sum of losses)/d weight, without autograd.

    ``grad = ExplicitGradient(model, batch)``; then ``losses = grad(x0, f)`` with x0, f of shape
    (E, batch, d) returns the E per-member mean squared errors and leaves the gradient of their
    sum in ``model.weight.grad`` (overwritten, not accumulated), ready for ``optimizer.step()``.
    Views of ``model.weight`` are taken once: load new weights in place (``load_state_dict``,
    ``set_matrices``, an optimizer step), never by assigning a new Parameter.
    """

    def __init__(self, model: UnrolledEnsemble, batch: int) -> None:
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(f"ExplicitGradient does not support {reason}; use autograd")
        self.model = model
        self.batch = batch
        w = model.weight
        self._weight = w
        self._grad = torch.zeros_like(w)
        self._groups: list[_Program] = []
        for g, plan in zip(model._groups, model._plans, strict=True):
            n = g.stop - g.start

            def make(rows: int, n: int = n) -> Tensor:
                return torch.empty(n, rows, model.dim, dtype=w.dtype, device=w.device)

            self._groups.append(
                _Program(
                    plan,
                    g.start,
                    g.stop,
                    batch,
                    list(w.detach()[g.start : g.stop].unbind(1)),
                    list(self._grad[g.start : g.stop].unbind(1)),
                    make,
                    _PHI_INPLACE[model.activation],
                    _PHI_BACKWARD[model.activation],
                )
            )

    def __call__(self, x0: Tensor, f: Tensor) -> Tensor:
        if self.model.weight is not self._weight:
            raise RuntimeError("model.weight was replaced; build a new ExplicitGradient")
        want = (self.model.members, self.batch, self.model.dim)
        if tuple(x0.shape) != want or tuple(f.shape) != want:
            raise ValueError(
                f"x0 and f must both have shape {want} (members, batch, d), "
                f"got {tuple(x0.shape)} and {tuple(f.shape)}"
            )
        scale = 2.0 / (x0.shape[1] * x0.shape[2])  # d mean((x_K - f)^2) / d x_K = scale (x_K - f)
        losses = []
        for prog in self._groups:
            lo, hi = prog.start, prog.stop
            r = torch.sub(prog.forward(x0[lo:hi]), f[lo:hi], out=prog.seed)
            losses.append(r.square().mean(dim=(1, 2)))
            r.mul_(scale)
            prog.backward()
        self.model.weight.grad = self._grad
        return torch.cat(losses)

    def calls(self) -> tuple[list[Call], list[Call]]:
        """Every group's bound torch calls, (forward, backward), in order: what one call of
        this object runs besides the loss (``benchmarks/bench_simulate.py --breakdown`` times
        them by kind)."""
        forward = [c for prog in self._groups for c in prog._forward_calls]
        backward = [c for prog in self._groups for c in prog._backward_calls]
        return forward, backward


def _const(value: float, like: Tensor) -> Tensor:
    """A 0-dim tensor: multiplying by it skips the per-call wrapping of a Python float."""
    return torch.tensor(value, dtype=like.dtype, device=like.device)


def _lin_calls(ops: Sequence[Op], out: Tensor, value: Callable[[int], Tensor]) -> list[Call]:
    """The torch calls of one combination (see :func:`~optnet_nets.unrolled.plan.synthesize`)
    writing into ``out``, bound to their tensors."""
    calls: list[Call] = []
    for op in ops:
        v = [value(i) for i in op.values]
        if op.kind == "copy":
            calls.append(partial(out.copy_, v[0]))
        elif op.kind == "zero":
            calls.append(out.zero_)
        elif op.kind == "mul":
            calls.append(partial(torch.mul, v[0], _const(op.c, out), out=out))
        elif op.kind == "add":
            calls.append(partial(torch.add, v[0], v[1], alpha=op.c, out=out))
        elif op.kind == "lerp":
            calls.append(partial(torch.lerp, v[0], v[1], op.c, out=out))
        elif op.kind == "iadd":
            calls.append(partial(out.add_, v[0], alpha=op.c))
        elif op.kind == "ilerp":
            calls.append(partial(out.lerp_, v[0], op.c))
        else:  # "imul"
            calls.append(partial(out.mul_, _const(op.c, out)))
    return calls


class _Pool:
    """Work tensors by row count, reused once every value living in one has been read."""

    def __init__(self, make: Callable[[int], Tensor]) -> None:
        self.make = make
        self.free: dict[int, list[Tensor]] = {}
        self.holders: dict[int, int] = {}  # id(tensor) -> values living in it

    def take(self, rows: int, holders: int = 1) -> Tensor:
        spare = self.free.get(rows)
        t = spare.pop() if spare else self.make(rows)
        self.holders[id(t)] = holders
        return t

    def drop(self, t: Tensor) -> None:
        self.holders[id(t)] -= 1
        if self.holders[id(t)] == 0:
            self.free.setdefault(t.shape[1], []).append(t)


def _last_uses(inputs: Sequence[Sequence[int]]) -> dict[int, int]:
    last: dict[int, int] = {}
    for i, used in enumerate(inputs):
        for v in used:
            last[v] = i
    return last


class _Program:
    """One group's forward program and its adjoint, bound to tensors allocated once.

    ``w[k]`` and ``grad[k]`` are (n, d, d) views of W_k^T and of its gradient; ``make(rows)``
    gives a fresh (n, rows, d) tensor. ``seed`` receives dL/d(output) before :meth:`backward`.
    """

    def __init__(
        self,
        plan: Plan,
        start: int,
        stop: int,
        batch: int,
        w: list[Tensor],
        grad: list[Tensor],
        make: Callable[[int], Tensor],
        phi: Callable[[Tensor], Tensor],
        phi_backward: Callable[[Tensor, Tensor, Tensor], Tensor],
    ) -> None:
        self.start, self.stop, self.batch = start, stop, batch
        self.w, self.grad, self.make = w, grad, make
        self.phi, self.phi_backward = phi, phi_backward
        adjoint = adjoint_plan(plan)
        self.tensors: dict[int, Tensor] = {}  # value id -> its tensor (forward and adjoint)
        self._forward_calls = self._build_forward(plan, adjoint.live)
        self.output = self.tensors[plan.output]
        self._backward_calls = self._build_backward(adjoint)

    # ------------------------------------------------------------------ forward
    def _rows(self, block: Tensor, count: int) -> list[Tensor]:
        return list(block.split(self.batch, 1)) if count > 1 else [block]

    def _build_forward(self, plan: Plan, live: frozenset[int]) -> list[Call]:
        T, B = self.tensors, self.batch
        stmts = [st for st in plan.statements if isinstance(st, Product) or st.out in live]
        self._stacks: dict[int, tuple[Tensor, Tensor]] = {}  # statement index -> (Y, S)
        for i, st in enumerate(stmts):  # kept: every product's inputs and outputs
            if isinstance(st, Product):
                S = self.make(len(st.ss) * B)
                T.update(zip(st.ss, self._rows(S, len(st.ss)), strict=True))
                if len(st.ys) > 1:  # stacked: its inputs are computed into views of Y
                    Y = self.make(len(st.ys) * B)
                    T.update(zip(st.ys, self._rows(Y, len(st.ys)), strict=True))
                else:
                    if st.ys[0] not in T:
                        T[st.ys[0]] = self.make(B)
                    Y = T[st.ys[0]]
                self._stacks[i] = (Y, S)
        self._x0 = T.setdefault(0, self.make(B))
        inputs = [st.ys if isinstance(st, Product) else [v for _, v in st.terms] for st in stmts]
        last = _last_uses([*inputs, [plan.output]])
        pool, pooled = _Pool(self.make), set()
        calls: list[Call] = []
        for i, st in enumerate(stmts):
            if isinstance(st, Product):
                Y, S = self._stacks[i]
                calls.append(partial(torch.bmm, Y, self.w[st.layer], out=S))
                calls.append(partial(self.phi, S))
                continue
            if st.out not in T:
                T[st.out] = pool.take(B)
                pooled.add(st.out)
            calls += _lin_calls(st.ops, T[st.out], T.__getitem__)
            for v in set(inputs[i]):
                if v in pooled and last[v] == i:
                    pool.drop(T[v])
        self._forward_stmts = stmts
        return calls

    def forward(self, x0: Tensor) -> Tensor:
        """Runs the layers on x0 (n, batch, d), keeping what :meth:`backward` needs."""
        self._x0.copy_(x0)
        for call in self._forward_calls:
            call()
        return self.output

    # ------------------------------------------------------------------ backward
    def _build_backward(self, adjoint: AdjointPlan) -> list[Call]:
        T, B = self.tensors, self.batch
        stmts = adjoint.statements
        inputs = [
            [v for _, v in st.terms] if isinstance(st, Lin) else [g for g in st.gs if g is not None]
            for st in stmts
        ]
        last = _last_uses(inputs)
        pool = _Pool(self.make)
        home: dict[int, Tensor] = {}  # adjoint value -> the pooled tensor it lives in
        self.seed = home[adjoint.seed] = T[adjoint.seed] = pool.take(B)
        calls: list[Call] = []
        for i, st in enumerate(stmts):
            defined: list[int] = []
            if isinstance(st, Lin):
                home[st.out] = T[st.out] = pool.take(B)
                calls += _lin_calls(st.ops, T[st.out], T.__getitem__)
                defined.append(st.out)
            else:
                calls += self._product_backward(st, pool, home, last, i)
                defined += [g for g in st.gys if g is not None]
            for v in [*set(inputs[i]), *defined]:
                if last.get(v, i) == i:
                    pool.drop(home[v])
        return calls

    def _product_backward(
        self,
        st: AdjointProduct,
        pool: _Pool,
        home: dict[int, Tensor],
        last: dict[int, int],
        i: int,
    ) -> list[Call]:
        T, B = self.tensors, self.batch
        fwd = st.forward
        count = len(fwd.ss)
        Y, S = self._stack_of(fwd)
        g0 = st.gs[0]
        in_place = (
            count == 1 and g0 is not None and last[g0] == i and pool.holders[id(home[g0])] == 1
        )
        if in_place:  # g_s is read here for the last time: gP overwrites it
            assert g0 is not None
            gP = home[g0]
            pool.holders[id(gP)] += 1
        else:
            gP = pool.take(count * B)
        calls: list[Call] = []
        for g, s, gp in zip(st.gs, self._rows(S, count), self._rows(gP, count), strict=True):
            call = gp.zero_ if g is None else partial(self.phi_backward, T[g], s, gp)
            calls.append(call)
        yT, grad = Y.transpose(1, 2), self.grad[fwd.layer]
        if st.accumulate:
            calls.append(partial(grad.baddbmm_, yT, gP, alpha=st.alpha))
        elif st.alpha == 1.0:
            calls.append(partial(torch.bmm, yT, gP, out=grad))
        else:
            calls.append(partial(torch.baddbmm, grad, yT, gP, beta=0.0, alpha=st.alpha, out=grad))
        wanted = [g for g in st.gys if g is not None]
        if wanted:
            gY = pool.take(count * B, holders=len(wanted))
            calls.append(partial(torch.bmm, gP, self.w[fwd.layer].transpose(1, 2), out=gY))
            for g, view in zip(st.gys, self._rows(gY, count), strict=True):
                if g is not None:
                    home[g], T[g] = gY, view
        pool.drop(gP)
        return calls

    def _stack_of(self, fwd: Product) -> tuple[Tensor, Tensor]:
        for i, st in enumerate(self._forward_stmts):
            if st is fwd:
                return self._stacks[i]
        raise AssertionError("product not in the forward program")

    def backward(self) -> None:
        """dL/d(output) is in ``seed``; writes dL/d(W_k^T) into ``grad[k]``."""
        for call in self._backward_calls:
            call()
