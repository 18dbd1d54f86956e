"""Model (15)'s loss and its gradient for the unrolled networks (7), (11)-(14), by hand.

Training Table 2 means 10^5 Adam steps of small products (batch 100, d = 100). Under autograd
the per-operation bookkeeping and the separate element-wise passes of the side paths cost as
much as the products themselves. :class:`ExplicitGradient` computes the same loss and the same
gradient with respect to every W_k of an :class:`~optnet_nets.unrolled.UnrolledEnsemble` by
writing out the adjoint (reverse) recursion of each layer map, into buffers allocated once:

- GD (7), x_{k+1} = s_k := Phi(x_k W_k):  g_k = (g_{k+1} * Phi') W_k^T.
- HB (11), x_{k+1} = s_k + beta (x_k - x_{k-1}) for k >= 1:
  g_k = (g_{k+1} * Phi'_k) W_k^T + beta g_{k+1} - beta g_{k+2}.
- AGD (12), y_k = x_k + beta_k (x_k - x_{k-1}), x_{k+1} = Phi(y_k W_k):
  g_{x_k} = (1 + beta_k) g_{y_k} - beta_{k+1} g_{y_{k+1}}.
- AGD2 (13), recursive form S_{k+1} = b (S_k - d_{k-1}) + (1 + b) d_k, x_{k+1} = x_k + S_{k+1},
  d_k = s_k - x_k, b = beta_{k+1}: with T = g_{S_{k+1}} + g_{x_{k+1}},
  g_{d_k} = (1 + b) T - g_{S_{k+1}} (g_{d_k} from layer k+1 is -g_{S_{k+1}}), g_{S_k} = b T,
  g_{x_k} = g_{x_{k+1}} - g_{d_k} + (g_{d_k} * Phi') W_k^T.
- ADMM (14): the two products of a layer share W_k, so x'_k and x_k are stacked into one
  (2 batch, d) block: one product forward, one for W's gradient, one for the inputs'.

Row vectors throughout: ``weight[e, k]`` holds W_k^T, so a layer is ``u @ weight[e, k]``. The
gradients equal autograd's (``tests/nets/test_unrolled_backward.py``: float64 to 1e-12, with
perturbed-coefficient negative controls). Supported: untied weights, every member at the
ensemble's full depth, sigmoid or tanh, AGD2 in its recursive form; :func:`unsupported_reason`
names what else a model uses, and the caller falls back to autograd.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from optnet_nets.unrolled import UnrolledEnsemble

__all__ = ["ExplicitGradient", "unsupported_reason"]

Tensor = torch.Tensor

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
    if model.agd2_form != "recursive":
        return "AGD2's dense form"
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
        d = model.dim
        self._layers: list[_Structure] = []
        for g in model._groups:
            n = g.stop - g.start
            rows = 2 * batch if g.structure == "admm" else batch

            def buf(count: int, rows: int = rows, n: int = n) -> list[Tensor]:
                return list(torch.empty(count, n, rows, d, dtype=w.dtype, device=w.device))

            self._layers.append(
                _STRUCTURES[g.structure](
                    model,
                    g.start,
                    g.stop,
                    list(w.detach()[g.start : g.stop].unbind(1)),
                    list(self._grad[g.start : g.stop].unbind(1)),
                    buf,
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
        for layer in self._layers:
            lo, hi = layer.start, layer.stop
            r = torch.sub(layer.forward(x0[lo:hi]), f[lo:hi])
            losses.append(r.square().mean(dim=(1, 2)))
            layer.backward(r.mul_(scale))
        self.model.weight.grad = self._grad
        return torch.cat(losses)


def _const(value: float, like: Tensor) -> Tensor:
    """A 0-dim tensor: multiplying by it skips the per-call wrapping of a Python float."""
    return torch.tensor(value, dtype=like.dtype, device=like.device)


class _Structure:
    """One run of members of one structure: forward storing what backward needs, then backward.

    ``w[k]`` and ``grad[k]`` are (n, d, d) views of W_k^T and of its gradient; ``buf(c)`` gives
    c fresh (n, rows, d) work tensors.
    """

    def __init__(
        self,
        model: UnrolledEnsemble,
        start: int,
        stop: int,
        w: list[Tensor],
        grad: list[Tensor],
        buf: Callable[[int], list[Tensor]],
    ) -> None:
        self.start, self.stop, self.depth = start, stop, model.depth
        self.w, self.grad = w, grad
        self.phi = _PHI_INPLACE[model.activation]
        self.phi_backward = _PHI_BACKWARD[model.activation]
        self.model = model
        self.allocate(buf)

    def allocate(self, buf: Callable[[int], list[Tensor]]) -> None:
        raise NotImplementedError

    def forward(self, x0: Tensor) -> Tensor:
        """Runs the layers on x0 (n, batch, d), keeping what :meth:`backward` needs; returns x_K."""
        raise NotImplementedError

    def backward(self, g: Tensor) -> None:
        """``g`` = dL/dx_K (overwritten); writes dL/d(W_k^T) into ``grad[k]``."""
        raise NotImplementedError

    def layer_backward(self, k: int, gs: Tensor, s: Tensor, u: Tensor, gu: Tensor | None,
                       gP: Tensor) -> None:
        """Through s = Phi(u W_k^T): gP = gs * Phi', grad[k] = u^T gP, and gu = gP W_k."""
        self.phi_backward(gs, s, gP)
        torch.bmm(u.transpose(1, 2), gP, out=self.grad[k])
        if gu is not None:
            torch.bmm(gP, self.w[k].transpose(1, 2), out=gu)


def _other(buffers: list[Tensor], *used: Tensor | None) -> Tensor:
    """The first of ``buffers`` that is none of ``used`` (by identity)."""
    return next(b for b in buffers if all(b is not u for u in used))


class _GD(_Structure):
    """(7): x_{k+1} = Phi(x_k W_k)."""

    def allocate(self, buf: Callable[[int], list[Tensor]]) -> None:
        self.x = buf(self.depth + 1)
        self.g = buf(2)

    def forward(self, x0: Tensor) -> Tensor:
        x = self.x
        x[0].copy_(x0)
        for k in range(self.depth):
            self.phi(torch.bmm(x[k], self.w[k], out=x[k + 1]))
        return x[self.depth]

    def backward(self, g: Tensor) -> None:
        for k in reversed(range(self.depth)):
            gu = _other(self.g, g) if k > 0 else None
            self.layer_backward(k, g, self.x[k + 1], self.x[k], gu, g)
            if gu is not None:
                g = gu


class _HB(_Structure):
    """(11): x_{k+1} = Phi(x_k W_k) + beta (x_k - x_{k-1}), x_{-1} = x_0."""

    def allocate(self, buf: Callable[[int], list[Tensor]]) -> None:
        self.x = buf(self.depth + 1)
        self.s = buf(self.depth)
        self.g = buf(4)
        self.beta = self.model.hb_beta

    def forward(self, x0: Tensor) -> Tensor:
        x, s, beta = self.x, self.s, self.beta
        x[0].copy_(x0)
        for k in range(self.depth):
            self.phi(torch.bmm(x[k], self.w[k], out=s[k]))
            if k == 0:
                x[1].copy_(s[0])
            else:
                torch.add(s[k], x[k], alpha=beta, out=x[k + 1]).sub_(x[k - 1], alpha=beta)
        return x[self.depth]

    def backward(self, g: Tensor) -> None:
        beta = self.beta
        g1, g2 = g, None  # dL/dx_{k+1}, dL/dx_{k+2}
        for k in reversed(range(self.depth)):
            gP = _other(self.g, g1, g2)
            gk = _other(self.g, g1, g2, gP) if k > 0 else None
            self.layer_backward(k, g1, self.s[k], self.x[k], gk, gP)
            if gk is None:
                break
            gk.add_(g1, alpha=beta)  # x_k inside x_{k+1} (k >= 1)
            if g2 is not None:
                gk.sub_(g2, alpha=beta)  # x_k inside x_{k+2}
            g1, g2 = gk, g1


class _AGD(_Structure):
    """(12): y_k = x_k + beta_k (x_k - x_{k-1}), x_{k+1} = Phi(y_k W_k), x_{-1} = x_0."""

    def allocate(self, buf: Callable[[int], list[Tensor]]) -> None:
        self.x = buf(self.depth + 1)
        self.y = buf(self.depth)
        self.g = buf(3)
        self.beta = self.model.agd_beta
        self.one_plus_beta = [_const(1.0 + b, self.x[0]) for b in self.beta]

    def forward(self, x0: Tensor) -> Tensor:
        x, y, beta = self.x, self.y, self.beta
        x[0].copy_(x0)
        y[0].copy_(x0)
        for k in range(self.depth):
            if k > 0:  # y_k = x_{k-1} + (1 + beta_k)(x_k - x_{k-1})
                torch.lerp(x[k - 1], x[k], 1.0 + beta[k], out=y[k])
            self.phi(torch.bmm(y[k], self.w[k], out=x[k + 1]))
        return x[self.depth]

    def backward(self, g: Tensor) -> None:
        beta = self.beta
        gy_next: Tensor | None = None  # dL/dy_{k+1}
        for k in reversed(range(self.depth)):
            gy = _other(self.g, g, gy_next) if k > 0 else None
            self.layer_backward(k, g, self.x[k + 1], self.y[k], gy, g)
            if gy is None:
                break
            g = _other(self.g, gy, gy_next)
            torch.mul(gy, self.one_plus_beta[k], out=g)  # dL/dx_k = (1 + b_k) g_{y_k}
            if gy_next is not None:
                g.sub_(gy_next, alpha=beta[k + 1])  # - b_{k+1} g_{y_{k+1}}
            gy_next = gy


class _AGD2(_Structure):
    """(13) in its recursive form (see :mod:`optnet_nets.unrolled`)."""

    def allocate(self, buf: Callable[[int], list[Tensor]]) -> None:
        self.x = buf(self.depth + 1)
        self.s = buf(self.depth)
        self.d = buf(2)
        self.S = buf(2)
        self.gx = buf(2)
        self.gS, self.T, self.gd, self.gP = buf(4)
        self.beta = self.model.agd_beta
        self.one_plus_beta = [_const(1.0 + b, self.x[0]) for b in self.beta]
        self.beta_t = [_const(b, self.x[0]) for b in self.beta]

    def forward(self, x0: Tensor) -> Tensor:
        x, s, d, S = self.x, self.s, self.d, self.S
        x[0].copy_(x0)
        for k in range(self.depth):
            self.phi(torch.bmm(x[k], self.w[k], out=s[k]))
            dk, S_new = d[k % 2], S[k % 2]
            torch.sub(s[k], x[k], out=dk)
            if k == 0:  # S_1 = (1 + b_1) d_0
                torch.mul(dk, self.one_plus_beta[1], out=S_new)
            else:  # S_{k+1} = b (S_k - d_{k-1}) + (1 + b) d_k,  b = beta_{k+1}
                torch.sub(S[(k - 1) % 2], d[(k - 1) % 2], out=S_new).mul_(self.beta_t[k + 1])
                S_new.add_(dk, alpha=1.0 + self.beta[k + 1])
            torch.add(x[k], S_new, out=x[k + 1])
        return x[self.depth]

    def backward(self, g: Tensor) -> None:
        gS, gd = self.gS, self.gd
        gx = g  # adjoint of x_{k+1}; gS that of S_{k+1}; that of d_k (from layer k+1) is -gS
        for k in reversed(range(self.depth)):
            if k == self.depth - 1:  # nothing after the last layer: gS = 0
                T = gx
                torch.mul(T, self.one_plus_beta[k + 1], out=gd)
            else:
                T = torch.add(gS, gx, out=self.T)
                torch.mul(T, self.one_plus_beta[k + 1], out=gd).sub_(gS)
            gx_new = _other(self.gx, gx) if k > 0 else None
            self.layer_backward(k, gd, self.s[k], self.x[k], gx_new, self.gP)
            if gx_new is None:
                break
            gx_new.add_(gx).sub_(gd)  # dL/dx_k = gx + (gd Phi') W^T - gd
            torch.mul(T, self.beta_t[k + 1], out=gS)  # dL/dS_k = b T
            gx = gx_new


class _ADMM(_Structure):
    """(14): x'_k and x_k stacked as rows [x'; x] of one (2 batch, d) block per layer."""

    def allocate(self, buf: Callable[[int], list[Tensor]]) -> None:
        self.z = buf(self.depth + 1)  # z_k = [x'_k; x_k]
        self.s = buf(self.depth)  # [Phi(x'_k W_k); Phi(x_k W_k)]
        B = self.z[0].shape[1] // 2
        self.B = B
        self.lam, self.tmp = (t[:, :B] for t in buf(2))
        self.gs, self.gu = buf(2)
        self.aux = buf(2)  # [Lambda's adjoint; x_k's through x'_{k+1}]
        self.half = _const(0.5, self.z[0])

    def forward(self, x0: Tensor) -> Tensor:
        z, s, lam, tmp, B = self.z, self.s, self.lam, self.tmp, self.B
        z[0][:, :B].copy_(x0)
        z[0][:, B:].copy_(x0)
        lam.zero_()
        for k in range(self.depth):
            self.phi(torch.bmm(z[k], self.w[k], out=s[k]))
            s1, s2 = s[k][:, :B], s[k][:, B:]
            x = z[k][:, B:]
            xp_new, x_new = z[k + 1][:, :B], z[k + 1][:, B:]
            torch.lerp(s1, torch.sub(x, lam, out=tmp), 0.5, out=xp_new)  # (s + x - Lambda) / 2
            torch.add(xp_new, lam, out=tmp)
            torch.lerp(s2, tmp, 0.5, out=x_new)  # x_{k+1} = (s2 + x'_{k+1} + Lambda) / 2
            torch.sub(tmp, x_new, out=lam)  # Lambda_{k+1} = Lambda + x'_{k+1} - x_{k+1}
        return z[self.depth][:, B:]

    def backward(self, g: Tensor) -> None:
        B, gs, gu = self.B, self.gs, self.gu
        gs1, gs2 = gs[:, :B], gs[:, B:]
        gx, gxp, glam = g, None, None  # adjoints of x_{k+1}, x'_{k+1}, Lambda_{k+1}
        for k in reversed(range(self.depth)):
            # x_{k+1}'s total adjoint X = gx - glam (Lambda_{k+1} = ... - x_{k+1});
            # x'_{k+1}'s P = gxp + glam + X / 2; then s2 gets X / 2 and s gets P / 2.
            if glam is None:
                torch.mul(gx, self.half, out=gs2)
                torch.mul(gs2, self.half, out=gs1)
            else:
                assert gxp is not None
                torch.sub(gx, glam, out=gs2).mul_(self.half)  # X / 2
                torch.add(gxp, glam, out=gs1).add_(gs2).mul_(self.half)  # P / 2
            if k == 0:
                self.layer_backward(0, gs, self.s[0], self.z[0], None, gs)
                break
            aux = self.aux[k % 2]
            glam_new, gx_side = aux[:, :B], aux[:, B:]
            # Lambda_k's adjoint: glam + X/2 - P/2; x_k's through x'_{k+1}: P/2
            if glam is None:
                torch.sub(gs2, gs1, out=glam_new)
            else:
                torch.add(glam, gs2, out=glam_new).sub_(gs1)
            gx_side.copy_(gs1)
            self.layer_backward(k, gs, self.s[k], self.z[k], gu, gs)
            gu[:, B:].add_(gx_side)  # gu = [x'_k's adjoint; x_k's]
            gxp, gx, glam = gu[:, :B], gu[:, B:], glam_new


_STRUCTURES: dict[str, type[_Structure]] = {
    "gd": _GD,
    "hb": _HB,
    "agd": _AGD,
    "agd2": _AGD2,
    "admm": _ADMM,
}
