"""Whether the SDP solvers certificates need are installed (the extra ``certify``)."""

from __future__ import annotations

from typing import Any

from optnet_theory.errors import OptnetError

__all__ = ["SOLVER_EXTRA", "require_solver"]

#: how to install what certificates need.
SOLVER_EXTRA = "pip install 'optnet[certify]'"


def require_solver() -> Any:
    """The Clarabel module, or an :class:`OptnetError` naming the extra to install."""
    try:
        import clarabel
    except ImportError:
        raise OptnetError(
            f"certificates need the SDP solver Clarabel; install the extra: {SOLVER_EXTRA}"
        ) from None
    return clarabel
