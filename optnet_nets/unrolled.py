"""Fully connected unrolled networks of Sec. 5: the layer maps (7), (11), (12), (13), (14).

Each layer keeps the paper's basic operation Phi(W x) (sigmoid by default, no bias) and adds the
side paths of its algorithm:

- ``gd``   (7):  x_{k+1} = Phi(W_k x_k)
- ``hb``   (11): x_{k+1} = Phi(W_k x_k) + beta (x_k - x_{k-1}),  beta = 0.3 in Sec. 5.3
- ``agd``  (12): x_{k+1} = Phi(W_k (x_k + beta_k (x_k - x_{k-1}))),  beta_k from theta of (3)
- ``agd2`` (13): x_{k+1} = x_k + sum_{j<=k} h_{k+1,j} (Phi(W_j x_j) - x_j),  h of (5)
- ``admm`` (14): x'_{k+1} = (Phi(W_k x'_k) + x_k - Lambda_k) / 2,
                 x_{k+1}  = (Phi(W_k x_k) + x'_{k+1} + Lambda_k) / 2,
                 Lambda_k = sum_{t=1}^k (x'_t - x_t)

Starting values (the paper is silent): x_{-1} = x_0, x'_0 = x_0, Lambda_0 = 0; the network's
output is x_K (for ADMM the x path). With ``tied=True`` every layer shares one W (Sec. 5.1, the
algorithm itself); otherwise each layer has its own W_k (model (15), Sec. 5.2-5.3).

An :class:`UnrolledEnsemble` holds E independent members (any mix of structures and seeds) and
runs them together: weights have shape (E, depth, d, d) (tied: (E, d, d)), inputs (E, batch, d),
and each layer of each structure is ONE batched matrix product over that structure's members
(all its seeds), taken from views of the weight tensor without copies. Members never interact:
the loss is a sum of per-member losses, so any element-wise optimizer (SGD, Adam) trains them
exactly as if trained alone.

AGD2's sum over all earlier layers is evaluated by default through the recursion that (5)
implies, S_{k+1} = beta_{k+1} (S_k - d_{k-1}) + (1 + beta_{k+1}) d_k with d_j = Phi(W_j x_j) - x_j
and x_{k+1} = x_k + S_{k+1}: the same sum in exact arithmetic at O(1) cost per layer
(``agd2_form="dense"`` evaluates the literal sum of (13), O(k) per layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from optnet_theory.coefficients import h_recursion, nesterov_beta
from optnet_theory.errors import OptnetError
from optnet_theory.paper_values import SIMULATION_HB_BETA

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "PAPER_LABELS",
    "STRUCTURES",
    "UnrolledEnsemble",
    "gemm_flops_per_sample",
]

#: structure name -> the paper's equation, in Table 2's column order.
STRUCTURES: dict[str, str] = {
    "admm": "(14)",
    "gd": "(7)",
    "hb": "(11)",
    "agd": "(12)",
    "agd2": "(13)",
}

#: structure name -> the column label of Table 2 (keys of ``paper_values.TABLE2_MSE``).
PAPER_LABELS: dict[str, str] = {
    "admm": "ADMM (14)",
    "gd": "GD (7)",
    "hb": "HB (11)",
    "agd": "AGD (12)",
    "agd2": "AGD2 (13)",
}

#: activation name -> Phi. Sec. 5.3 uses the sigmoid.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}

#: initialisations of W (the paper does not say which it used).
INITS: tuple[str, ...] = ("uniform", "normal", "orthogonal")

_AGD2_FORMS = ("recursive", "dense")


def gemm_flops_per_sample(structure: str, depth: int, dim: int) -> int:
    """Multiply-add FLOPs of W x products for one sample, forward + backward (weights and input).

    Forward is 2 d^2 per product; backward is twice that (gradient w.r.t. input and w.r.t. W).
    ADMM (14) has two products per layer. Element-wise work is not counted.
    """
    products = 2 if structure == "admm" else 1
    return 3 * 2 * dim * dim * depth * products


@dataclass(frozen=True)
class _Group:
    """A contiguous run of members [start, stop) of one structure."""

    structure: str
    start: int
    stop: int


def _groups(structures: Sequence[str]) -> list[_Group]:
    groups: list[_Group] = []
    start = 0
    for i in range(1, len(structures) + 1):
        if i == len(structures) or structures[i] != structures[start]:
            groups.append(_Group(structures[start], start, i))
            start = i
    return groups


def _init_weight(
    init: str, shape: tuple[int, ...], dim: int, generator: torch.Generator, dtype: torch.dtype
) -> torch.Tensor:
    if init == "uniform":  # torch.nn.Linear's default: U(-1/sqrt(d), 1/sqrt(d))
        bound = 1.0 / math.sqrt(dim)
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * bound
    if init == "normal":  # N(0, 1/d) (Xavier-normal for a square layer)
        return torch.randn(shape, generator=generator, dtype=dtype) / math.sqrt(dim)
    # orthogonal: Q of a Gaussian matrix's QR, sign-fixed (Haar measure)
    flat = torch.randn((math.prod(shape[:-2]), dim, dim), generator=generator, dtype=dtype)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q.reshape(shape)


class UnrolledEnsemble(nn.Module):
    """E independent fully connected unrolled networks run as batched products, eqs. (7)-(14).

    ``structures[e]`` names member e's layer map (see :data:`STRUCTURES`); ``seeds[e]`` seeds
    its weights (members with equal seeds start from equal weights, for paired comparisons).
    ``depths[e]`` (default ``depth`` for all) lets members of one structure have different
    depths and still share each layer's product while they run (deepest first within a run of
    one structure): Table 2's four depths then train as one ensemble. A member of depth K uses
    layers 0..K-1 of its weights; the rest get no gradient.
    ``weight[e, k]`` stores W_k^T (rows times W^T is one plain batched product, the fastest
    layout for ``torch.bmm``); :meth:`matrices` and :meth:`set_matrices` speak the paper's W.
    ``hb_beta`` is beta of (11); ``agd_beta`` is the momentum sequence beta_0..beta_K of (12)
    and, through (5), of h in (13) (default: the theta schedule of (3), Sec. 5.3's choice).
    """

    def __init__(
        self,
        structures: Sequence[str],
        depth: int,
        dim: int,
        *,
        seeds: Sequence[int] | None = None,
        depths: Sequence[int] | None = None,
        tied: bool = False,
        activation: str = "sigmoid",
        hb_beta: float = SIMULATION_HB_BETA,
        agd_beta: Sequence[float] | None = None,
        agd2_form: str = "recursive",
        init: str = "uniform",
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        structures = list(structures)
        if not structures:
            raise OptnetError("an ensemble needs at least one member structure")
        bad = [s for s in structures if s not in STRUCTURES]
        if bad:
            raise OptnetError(f"unknown structure(s) {bad}; choose from {', '.join(STRUCTURES)}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise OptnetError(f"depth must be a positive integer, got {depth!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise OptnetError(f"dim must be a positive integer, got {dim!r}")
        if activation not in ACTIVATIONS:
            raise OptnetError(f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
        if init not in INITS:
            raise OptnetError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
        if agd2_form not in _AGD2_FORMS:
            raise OptnetError(f"agd2_form must be one of {_AGD2_FORMS}, got {agd2_form!r}")
        seeds = list(range(len(structures))) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != len(structures):
            raise OptnetError(f"got {len(seeds)} seeds for {len(structures)} members")
        member_depths = [depth] * len(structures) if depths is None else [int(k) for k in depths]
        if len(member_depths) != len(structures) or not all(
            1 <= k <= depth for k in member_depths
        ):
            raise OptnetError(
                f"depths must give each of the {len(structures)} members a depth in 1..{depth}, "
                f"got {list(depths or [])}"
            )
        beta = list(nesterov_beta(depth) if agd_beta is None else agd_beta)
        if len(beta) != depth + 1:
            raise OptnetError(
                f"agd_beta needs beta_0..beta_K ({depth + 1} values), got {len(beta)}"
            )

        self.structures = structures
        self.seeds = seeds
        self.depth = depth
        self.dim = dim
        self.tied = tied
        self.activation = activation
        self.hb_beta = float(hb_beta)
        self.agd_beta = [float(b) for b in beta]
        self.agd2_form = agd2_form
        self._phi = ACTIVATIONS[activation]
        self.member_depths = member_depths
        self._groups = _groups(structures)
        for g in self._groups:
            dg = member_depths[g.start : g.stop]
            if any(a < b for a, b in zip(dg, dg[1:], strict=False)):
                raise OptnetError(
                    "within a run of one structure, member depths must not increase "
                    f"(deepest first), got {dg} for {g.structure!r}"
                )
        self._h = h_recursion(self.agd_beta) if agd2_form == "dense" else None

        shape = (dim, dim) if tied else (depth, dim, dim)
        weights = []
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            weights.append(_init_weight(init, shape, dim, gen, torch.float64))
        self.weight = nn.Parameter(torch.stack(weights).to(dtype=dtype, device=device))

    @property
    def members(self) -> int:
        return len(self.structures)

    def extra_repr(self) -> str:
        counts = {s: self.structures.count(s) for s in dict.fromkeys(self.structures)}
        return (
            f"members={counts}, depth={self.depth}, dim={self.dim}, tied={self.tied}, "
            f"activation={self.activation}, hb_beta={self.hb_beta}, agd2_form={self.agd2_form}"
        )

    def gemm_flops_per_sample(self) -> int:
        """Forward+backward W x FLOPs of all members for one sample (see module function)."""
        return sum(
            gemm_flops_per_sample(s, k, self.dim)
            for s, k in zip(self.structures, self.member_depths, strict=True)
        )

    def matrices(self) -> torch.Tensor:
        """The paper's W_k: (E, depth, d, d), or (E, d, d) when tied (``weight`` holds W_k^T)."""
        return self.weight.transpose(-1, -2)

    @torch.no_grad()
    def set_matrices(self, W: torch.Tensor) -> None:
        """Load the paper's W_k (same shape as :meth:`matrices`), e.g. to cross-check (7)-(14)."""
        W = torch.as_tensor(W)
        if W.shape != self.weight.shape:
            raise OptnetError(f"W must have shape {tuple(self.weight.shape)}, got {tuple(W.shape)}")
        self.weight.copy_(W.transpose(-1, -2))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """x0: (E, batch, d), or (batch, d) shared by all members. Returns x_K: (E, batch, d)."""
        E, d = self.members, self.dim
        if x0.dim() == 2:
            x0 = x0.unsqueeze(0).expand(E, *x0.shape)
        if x0.dim() != 3 or x0.shape[0] != E or x0.shape[2] != d:
            raise OptnetError(
                f"input must have shape (batch, {d}) or ({E}, batch, {d}), got {tuple(x0.shape)}"
            )
        x0 = x0.to(self.weight.dtype)
        sizes = [g.stop - g.start for g in self._groups]
        # One batched product per structure group and layer, straight from views of the
        # weight: torch.split (not slicing: a slice's backward is zeros + add per piece) and
        # unbind, whose backwards are one cat / stack per step. No per-layer copies.
        group_w = self.weight.split(sizes)
        group_x0 = x0.split(sizes)
        outs = []
        for g, w, x in zip(self._groups, group_w, group_x0, strict=True):
            layer_w = [w] * self.depth if self.tied else list(w.unbind(1))
            st = self._initial_state(g, x)
            dg = self.member_depths[g.start : g.stop]
            finished: list[torch.Tensor] = []  # outputs of shallower members, deepest last
            active = len(dg)
            for k in range(dg[0]):
                n = sum(1 for K in dg if K > k)  # members still running (a prefix)
                if n < active:
                    self._retire(st, n, active, finished)
                    active = n
                wk = layer_w[k] if n == len(dg) else layer_w[k].split([n, len(dg) - n])[0]
                u = self._layer_input(g, st, k)
                s = self._phi(torch.bmm(u, wk))  # Phi(W_k u) for row vectors u
                s2 = self._phi(torch.bmm(st["x"], wk)) if g.structure == "admm" else None
                self._update(g, st, k, s, s2)
            pieces = [st["x"], *reversed(finished)]
            outs.append(torch.cat(pieces) if len(pieces) > 1 else pieces[0])
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    # ----------------------------------------------------------------- layer maps
    def _initial_state(self, g: _Group, x0: torch.Tensor) -> dict[str, Any]:
        st: dict[str, Any] = {"x": x0, "x_prev": x0}  # x_{-1} = x_0
        if g.structure == "admm":
            st["xp"] = x0  # x'_0 = x_0
            st["lam"] = torch.zeros_like(x0)  # Lambda_0 = 0
        if g.structure == "agd2":
            st["S"] = None
            st["d_prev"] = None
            st["d_all"] = []
        return st

    @staticmethod
    def _retire(st: dict[str, Any], n: int, active: int, finished: list[torch.Tensor]) -> None:
        """Members n..active-1 have reached their depth: keep their x_K, drop their state."""
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                keep, done = value.split([n, active - n])
                st[key] = keep
                if key == "x":
                    finished.append(done)
            elif isinstance(value, list):
                st[key] = [v.split([n, active - n])[0] for v in value]

    def _layer_input(self, g: _Group, st: dict, k: int) -> torch.Tensor:
        """The vector layer k multiplies by W_k (the first one, x'_k, for ADMM)."""
        if g.structure == "agd":  # y_k = x_k + beta_k (x_k - x_{k-1}), eq. (12)
            beta = self.agd_beta[k]
            return (
                st["x"] if beta == 0.0 else torch.add(st["x"], st["x"] - st["x_prev"], alpha=beta)
            )
        if g.structure == "admm":
            return st["xp"]
        return st["x"]

    def _update(
        self, g: _Group, st: dict, k: int, s: torch.Tensor, s2: torch.Tensor | None
    ) -> None:
        """Advance x_k -> x_{k+1} given s = Phi(W_k u_k) (and ADMM's s2 = Phi(W_k x_k))."""
        x, x_prev = st["x"], st["x_prev"]
        if g.structure in ("gd", "agd"):  # (7); (12) with y_k already inside s
            new = s
        elif g.structure == "hb":  # (11)
            new = torch.add(s, x - x_prev, alpha=self.hb_beta) if k > 0 else s
        elif g.structure == "agd2":  # (13)
            d_k = s - x
            b = self.agd_beta[k + 1]
            if self._h is not None:  # literal sum of (13) with h_{k+1,j} of (5)
                st["d_all"].append(d_k)
                row = self._h[k + 1]
                S = sum(float(row[j]) * dj for j, dj in enumerate(st["d_all"]))
            elif k == 0:  # S_1 = h_{1,0} d_0
                S = (1.0 + b) * d_k
            else:  # S_{k+1} = beta_{k+1} (S_k - d_{k-1}) + (1 + beta_{k+1}) d_k
                S = torch.add((1.0 + b) * d_k, st["S"] - st["d_prev"], alpha=b)
            st["S"], st["d_prev"] = S, d_k
            new = x + S
        else:  # admm (14): s = Phi(W x'_k), s2 = Phi(W x_k)
            assert s2 is not None
            lam = st["lam"]
            xp_new = 0.5 * (s + x - lam)
            new = 0.5 * (s2 + xp_new + lam)
            st["xp"] = xp_new
            st["lam"] = lam + xp_new - new
        st["x_prev"], st["x"] = x, new
