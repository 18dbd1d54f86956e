"""What a Table 2 run computes (Sec. 5.3): the settings, and the method parameters they imply.

Sec. 5.3 gives the structures (7), (11) with beta = 0.3, (12), (13), (14), the sigmoid, model
(15), 10,000 pairs in dimension 100, depths 10-40 and 1,000 epochs. It does not state the
optimizer, batch size, learning rate or initialisation: :class:`SimulateConfig` holds our choices
(documented in ``docs/paper-map.md``), each a flag of ``optnet simulate``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from optnet_nets.unrolled import INITS, STRUCTURES, init_weight
from optnet_theory.errors import OptnetError
from optnet_theory.paper_values import (
    SIMULATION_DIM,
    SIMULATION_EPOCHS,
    SIMULATION_HB_BETA,
    SIMULATION_SAMPLES,
    TABLE2_DEPTHS,
)
from optnet_theory.validation import check_int

__all__ = [
    "ENGINES",
    "OPTIMIZERS",
    "SimulateConfig",
    "curvature_mu",
    "method_arguments",
    "quick_config",
]

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
#: how gradients are computed: by the generated adjoint (:mod:`optnet_nets.unrolled.adjoint`)
#: or by autograd.
ENGINES: tuple[str, ...] = ("explicit", "autograd")


@dataclass(frozen=True)
class SimulateConfig:
    """Everything that determines the results (the paper's values where it gives them)."""

    depths: tuple[int, ...] = TABLE2_DEPTHS
    structures: tuple[str, ...] = tuple(STRUCTURES)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = SIMULATION_EPOCHS
    samples: int = SIMULATION_SAMPLES
    dim: int = SIMULATION_DIM
    hb_beta: float = SIMULATION_HB_BETA
    # --- not given by the paper: our choices ---
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    batch_size: int = 100
    init: str = "uniform"
    mu: float | None = None  # for tmm/item; None: curvature_mu(init, dim, activation)
    activation: str = "sigmoid"  # Sec. 5.3's Phi; any registry name or formula

    def validate(self) -> None:
        """Raise :class:`OptnetError` naming the first setting that cannot run."""
        for name in ("epochs", "samples", "dim", "batch_size"):
            check_int(getattr(self, name), name, 1)
        if not self.depths or not self.structures or not self.seeds:
            raise OptnetError("depths, structures and seeds must each name at least one value")
        for depth in self.depths:
            check_int(depth, "each depth", 1)
        for seed in self.seeds:
            check_int(seed, "each seed", 0)
        if len(set(self.depths)) != len(self.depths) or len(set(self.seeds)) != len(self.seeds):
            raise OptnetError("depths and seeds must not repeat")
        from optnet_theory.methods import get_spec

        if len(set(self.structures)) != len(self.structures):
            raise OptnetError(f"structures must be distinct, got {list(self.structures)}")
        for s in self.structures:
            get_spec(s)  # the one name grammar: an unknown name is a one-line error
        if self.mu is not None and not (math.isfinite(self.mu) and 0 <= self.mu < 1):
            raise OptnetError(
                f"mu must be a number in [0, 1) (Sec. 5's instances have L = 1), got {self.mu!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise OptnetError(f"unknown optimizer {self.optimizer!r}; choose from {OPTIMIZERS}")
        if self.init not in INITS:
            raise OptnetError(f"unknown init {self.init!r}; choose from {', '.join(INITS)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise OptnetError(f"lr must be a positive number, got {self.lr!r}")
        if self.batch_size > self.samples:
            raise OptnetError(f"batch size {self.batch_size} exceeds samples {self.samples}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def quick_config(**overrides: Any) -> SimulateConfig:
    """A reduced Table 2 (small d, few samples and epochs) that runs in seconds."""
    base = dict(
        depths=(3, 6), seeds=(0, 1), epochs=8, samples=1000, dim=24, batch_size=100, lr=3e-3
    )
    base.update(overrides)
    return SimulateConfig(**base)  # type: ignore[arg-type]


def curvature_mu(init: str, dim: int, activation: str = "sigmoid") -> float:
    """mu of the energy (8) for seed 0's initial first-layer W (L = 1, the run's Phi): our
    choice of mu for tmm and item when none is given.

    A trained W is neither symmetric nor fixed, so "the" mu of a network does not exist. We take
    the PSD matrix with W's singular values, (W W^T)^{1/2} = U U^T, and Phi's slope
    bounds m <= Phi' <= M: :func:`optnet_theory.energy.curvature.curvature` gives
    mu = 1 - M sigma_max(W) and L = 1 (footnote 3). Depends on (init, d) only, so a run and its
    resumption agree.
    """
    import numpy as np

    from optnet_theory.energy import derive_energy
    from optnet_theory.energy.curvature import curvature

    W = init_weight(init, (dim, dim), dim, torch.Generator().manual_seed(0), torch.float64)
    V, sv, _ = np.linalg.svd(W.numpy().T)
    c = curvature(derive_energy(activation), (V * np.sqrt(sv)) @ V.T)
    if not 0 < c.mu < 1:
        raise OptnetError(
            f"the energy of the initial W (init {init}, d={dim}) is not strongly convex "
            f"(mu = {c.mu:.4g}); pass mu in (0, 1)"
        )
    return c.mu


def method_arguments(cfg: SimulateConfig) -> tuple[dict[str, dict[str, Any]], str]:
    """Per-structure method parameters for ``cfg``'s ensemble and where mu came from.

    hb gets ``cfg.hb_beta`` (Sec. 5.3's 0.3); methods for mu-strongly convex f (tmm, item) get
    ``cfg.mu``, else :func:`curvature_mu`; the others need no mu.
    """
    from optnet_theory.methods import get_spec
    from optnet_theory.methods.catalogue.paper import HB

    methods: dict[str, dict[str, Any]] = {s: {} for s in cfg.structures}
    if HB.name in methods:
        methods[HB.name]["beta"] = cfg.hb_beta
    needs_mu = [s for s in cfg.structures if get_spec(s).function_class == "smooth-strongly-convex"]
    if not needs_mu:
        return methods, "not needed"
    if cfg.mu is not None:
        mu, source = cfg.mu, "given"
    else:
        mu = curvature_mu(cfg.init, cfg.dim, cfg.activation)
        source = (
            f"curvature of the energy (8) for seed 0's initial W ({cfg.init}, d={cfg.dim}): "
            "1 - max Phi' * sigma_max(W), with L = 1"
        )
    for s in needs_mu:
        methods[s]["mu"] = mu
    return methods, source
