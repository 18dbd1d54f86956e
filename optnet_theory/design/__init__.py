"""``optnet design``: the best N-step method of the dense form (18), found by PEP.

:func:`design` (:mod:`.optimize`) optimises h against the certified worst case with the
envelope gradient of :mod:`.envelope`; the result is a method file
(:mod:`optnet_theory.methods.dense.files`) accepted wherever a method name is.
"""


from optnet_theory.design.optimize import Design, design, known_references, nearest_registered
from optnet_theory.lazy import computed_names

__all__ = ["Design", "design", "known_references", "nearest_registered"]  # and KNOWN (computed)


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"KNOWN": known_references})
