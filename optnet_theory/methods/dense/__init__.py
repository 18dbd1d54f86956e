"""Methods in the dense form (18): computed from any method (:mod:`.form`), given by it
(:mod:`.history`), read from method files (:mod:`.files`) and one-parameter families
(:mod:`.families`).
"""

from typing import TYPE_CHECKING

from optnet_theory.lazy import forward_names

if TYPE_CHECKING:  # pragma: no cover
    from optnet_theory.methods.dense.form import *  # noqa: F403

__getattr__ = forward_names(__name__, "optnet_theory.methods.dense.form")
