"""The settings an experiment can be planned in, and the command lines that run them.

``table2-quick``, ``table2-reduced`` and ``table2-full`` are ``optnet simulate``'s ``--quick``
run, its reduced setting (d = 32, 2,000 pairs, 50 epochs; the setting of
``benchmarks/RESULTS.md``, "Table 2, reduced setting") and the paper's (Sec. 5.3). The quality
of a method is its Table-2 training MSE at the planned depth. ``images`` trains the method's
CNN (``methodnet20``: 9 layers of the method, momentum carried across stages) on
Fashion-MNIST; its quality is the final test error. ``images-reduced`` is the same on 6,000
training images for 2 epochs, with a pilot of 6 evenly spread levels and at most 8 levels in the
main run: (8 levels + the registered methods) x 3 seeds fit in about an hour of 2 cores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from optnet_theory.errors import OptnetError

__all__ = ["SETTINGS", "Setting", "get_setting"]


@dataclass(frozen=True)
class Setting:
    """One setting: where quality comes from and the flags of its runs."""

    name: str
    kind: str  # "table2" or "images"
    depth: int  # the network depth the certified speed is taken at (N = depth)
    endpoint: str
    flags: tuple[str, ...] = ()
    mu: float | None = None  # None: the curvature of the energy (Table 2); images: 1/kappa
    model: str = ""
    epochs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    pilot_levels: int | None = None  # pilot this many levels of the pool (None: all of them)
    max_levels: int | None = None  # the most levels the power analysis may choose (budget)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SETTINGS: dict[str, Setting] = {
    "table2-quick": Setting(
        "table2-quick", "table2", 6,
        "Table-2 training MSE at depth 6 (optnet simulate --quick: d = 24, 1,000 pairs, "
        "8 epochs)", ("--quick",)),
    "table2-reduced": Setting(
        "table2-reduced", "table2", 10,
        "Table-2 training MSE at depth 10 (d = 32, 2,000 pairs, 50 epochs, Adam lr 1e-3, "
        "batch 100)", ("--dim", "32", "--samples", "2000", "--epochs", "50")),
    "table2-full": Setting(
        "table2-full", "table2", 10,
        "Table-2 training MSE at depth 10 (the paper's setting: d = 100, 10,000 pairs, "
        "1,000 epochs)", ()),
    "images": Setting(
        "images", "images", 9,
        "final test error of methodnet20 (9 layers of the method) on Fashion-MNIST, the full "
        "training set", mu=0.1, model="methodnet20", epochs=3,
        extra={"dataset": "fashion-mnist"}),
    "images-reduced": Setting(
        "images-reduced", "images", 9,
        "final test error (10,000 test images) of methodnet20 (9 layers of the method) on "
        "Fashion-MNIST after 2 epochs on 6,000 training images (evenly spread)",
        ("--limit-train", "6000"), mu=0.1, model="methodnet20", epochs=2,
        extra={"dataset": "fashion-mnist"}, pilot_levels=6, max_levels=8),
}


def get_setting(name: str) -> Setting:
    if name not in SETTINGS:
        raise OptnetError(f"unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
    return SETTINGS[name]
