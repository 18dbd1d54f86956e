"""Sec. 5's hypothesis, "a faster algorithm gives a better network", put to experiments.

* :mod:`.section`: the report section over existing runs (``optnet report``);
* :mod:`.levels`: methods of graded certified speed (family members, certified intervals);
* :mod:`.power`: the power analysis by simulation from a pilot;
* :mod:`.plan`, :mod:`.runner`, :mod:`.summary`: ``optnet hypothesis plan | run | summarize``.
"""

from typing import Any

from optnet_nets.hypothesis.section import (
    CERTIFIED_STEPS,
    RATES_KAPPA,
    Correlation,
    Hypothesis,
    format_hypothesis,
    measure_hypothesis,
    rates_variant,
)

__all__ = [
    "CERTIFIED_STEPS",
    "RATES_KAPPA",
    "Correlation",
    "Hypothesis",
    "format_hypothesis",
    "measure_hypothesis",
    "rates_variant",
]  # and RATES_VARIANT (computed when read)


def __getattr__(name: str) -> Any:
    if name == "RATES_VARIANT":  # computed when read: the registry may have grown
        return rates_variant()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
