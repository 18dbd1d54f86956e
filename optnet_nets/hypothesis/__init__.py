"""Sec. 5's hypothesis, "a faster algorithm gives a better network", put to experiments.

* :mod:`.section`: the report section over existing runs (``optnet report``);
* :mod:`.levels`: methods of graded certified speed (family members, certified intervals);
* :mod:`.power`: the power analysis by simulation from a pilot;
* :mod:`.plan`, :mod:`.runner`, :mod:`.summary`: ``optnet hypothesis plan | run | summarize``.
"""


from optnet_nets.hypothesis.section import (
    CERTIFIED_STEPS,
    RATES_KAPPA,
    Correlation,
    Hypothesis,
    format_hypothesis,
    measure_hypothesis,
    rates_variant,
)
from optnet_theory.lazy import computed_names

__all__ = [
    "CERTIFIED_STEPS",
    "RATES_KAPPA",
    "Correlation",
    "Hypothesis",
    "format_hypothesis",
    "measure_hypothesis",
    "rates_variant",
]  # and RATES_VARIANT (computed when read)


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"RATES_VARIANT": rates_variant})
