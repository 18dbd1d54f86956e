"""Lemma 1's energy of an activation: the derivation (:mod:`.derive`), the activation registry
(:mod:`.activations`), untrusted formulas (:mod:`.formula`), special functions
(:mod:`.special`), curvature and slope bounds (:mod:`.curvature`), limits (:mod:`.limits`),
Table 1 (:mod:`.table1`) and plots (:mod:`.plot`).
"""

from typing import TYPE_CHECKING

from optnet_theory.lazy import forward_names

if TYPE_CHECKING:  # pragma: no cover
    from optnet_theory.energy.derive import *  # noqa: F403

__getattr__ = forward_names(__name__, "optnet_theory.energy.derive")
