"""``optnet design``: the best N-step method of the dense form (18), found by PEP.

:func:`design` (:mod:`.optimize`) optimises h against the certified worst case with the
envelope gradient of :mod:`.envelope`; the result is a method file
(:mod:`optnet_theory.methods.files`) accepted wherever a method name is.
"""

from typing import Any

from optnet_theory.design.optimize import Design, design, known_references, nearest_registered

__all__ = ["Design", "design", "known_references", "nearest_registered"]  # and KNOWN (computed)


def __getattr__(name: str) -> Any:
    if name == "KNOWN":  # computed when read: the registry may have grown
        return known_references()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
