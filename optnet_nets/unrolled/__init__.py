"""The tied-weight MLP networks of (7), (11)-(14) unrolled from any method: the forward
(:mod:`.forward`), its plan (:mod:`.plan`), the adjoint (:mod:`.adjoint`, :mod:`.adjoint_plan`)
and the compiled form (:mod:`.compiled`).
"""

from typing import TYPE_CHECKING

from optnet_theory.lazy import forward_names

if TYPE_CHECKING:  # pragma: no cover
    from optnet_nets.unrolled.forward import *  # noqa: F403

__getattr__ = forward_names(__name__, "optnet_nets.unrolled.forward")
