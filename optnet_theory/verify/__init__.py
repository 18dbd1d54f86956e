"""Numerical checks of Lemma 1 and the unrollings: the claims (:mod:`.claims`), their trial
settings (:mod:`.settings`), the reference networks (:mod:`.networks`) and SPD matrices
(:mod:`.matrices`).
"""

from typing import TYPE_CHECKING

from optnet_theory.lazy import forward_names

if TYPE_CHECKING:  # pragma: no cover
    from optnet_theory.verify.claims import *  # noqa: F403

__getattr__ = forward_names(__name__, "optnet_theory.verify.claims")
