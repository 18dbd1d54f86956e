"""Validation of integer arguments (depths, step counts, sizes, digits), one message for all."""

from __future__ import annotations

from typing import Any

import numpy as np

from optnet_theory.errors import OptnetError


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in [minimum, maximum].

    Otherwise :class:`~optnet_theory.errors.OptnetError` naming ``name`` and the accepted range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise OptnetError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise OptnetError(f"{name} must be an integer <= {maximum}, got {value!r}")
    return int(value)
