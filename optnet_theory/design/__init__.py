"""``optnet design``: the best N-step method of the dense form (18), found by PEP.

:func:`design` (:mod:`.optimize`) optimises h against the certified worst case with the
envelope gradient of :mod:`.envelope`; the result is a method file
(:mod:`optnet_theory.methods.files`) accepted wherever a method name is.
"""

from optnet_theory.design.optimize import KNOWN, Design, design, nearest_registered

__all__ = ["KNOWN", "Design", "design", "nearest_registered"]
