"""Resource caps of the theory commands (verify, rates): refuse before allocating anything.

A command estimates from its sizes the peak memory (bytes) and the time (seconds, from
deliberately optimistic per-operation costs, so the estimate is a lower bound) of a run, and
:func:`check_resources` refuses it in one line, naming the limit, when either exceeds what
this machine can give: half of its physical memory, and ``MAX_SECONDS`` of computation.
``--force`` skips the check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from optnet_theory.errors import OptnetError

__all__ = ["MAX_SECONDS", "Estimate", "check_resources", "memory_limit"]

#: the longest run accepted without ``--force`` (estimated from the sizes).
MAX_SECONDS = 3600.0
#: optimistic costs of one operation: a float64 multiply-add in a NumPy product, an mpmath
#: multiply-add at up to 50 digits, and the Python overhead of one layer of one claim.
FLOAT_FLOP_SECONDS = 1e-10
MP_FLOP_SECONDS = 1e-6
LAYER_SECONDS = 1e-5
#: bytes of one float64 and of one mpmath number in an object array.
FLOAT_BYTES = 8
MP_BYTES = 100


@dataclass(frozen=True)
class Estimate:
    """Peak memory in bytes and time in seconds that a run needs (lower bounds)."""

    bytes: float
    seconds: float


def memory_limit() -> float:
    """Half of this machine's physical memory, in bytes (8 GiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2
    except (ValueError, OSError, AttributeError):
        return 8.0 * 2**30


def check_resources(
    what: str, need: Estimate, force: bool = False, *, override: str = "--force"
) -> None:
    """Raise :class:`OptnetError` when ``need`` exceeds the limits (unless ``force``);
    ``override`` names the way to skip the check (``--force`` on the CLI, ``force=True`` in
    Python)."""
    if force:
        return
    limit = memory_limit()
    if need.bytes > limit:
        raise OptnetError(
            f"{what} needs about {need.bytes / 2**30:.3g} GiB of memory, over the limit of "
            f"{limit / 2**30:.3g} GiB (half of this machine's); use smaller sizes, or {override}"
        )
    if need.seconds > MAX_SECONDS:
        raise OptnetError(
            f"{what} would take at least {need.seconds / 3600:.3g} hours, over the limit of "
            f"{MAX_SECONDS / 3600:g} hour(s); use smaller sizes, or {override}"
        )
