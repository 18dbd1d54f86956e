"""What a run of a method costs, estimated from its sizes before anything is computed.

A run of J sub-steps of a method with m state slots on points of R^n keeps its J + 1
coefficient steps (m^2 + 3m numbers each, as Python objects), and, when it returns the whole
trajectory, J + 1 states (m x n), J + 1 points and the outputs; each sub-step costs a few
m x m and m x n products plus the Python overhead of one layer, and the schedule computes
``spec.work(J, N)`` scalar recursion steps (J for every method of this package but OGM-G, whose
theta-tilde runs backwards from the horizon N). The estimate is a lower bound (optimistic
per-operation costs of :mod:`optnet_theory.energy.limits`, the gradient's own cost left out), and
:func:`check_run` refuses a run past half of this machine's memory or an hour of computation,
unless it is made inside ``with forced():`` (the force override: from Python, or a command's
``--force`` reaching the runs deep inside it; the methods' signatures stay as they were).

The package itself stays far below the limits: ``optnet certify`` asks for at most 10,000 steps,
``optnet rates`` at kappa = 10^4 for up to about 830,000 layers of gd (it stops at about 108,000,
when it reaches eps), Table 2 for depths 10 to 40; the time limit is reached at about 3.6e8
sub-steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from optnet_theory.energy.limits import (
    FLOAT_BYTES,
    FLOAT_FLOP_SECONDS,
    LAYER_SECONDS,
    MP_BYTES,
    MP_FLOP_SECONDS,
    Estimate,
    check_resources,
)
from optnet_theory.methods.spec import MethodSpec

__all__ = ["check_run", "forced", "run_estimate"]

#: optimistic seconds of one scalar recursion step (theta of OGM, A_t of ITEM) per arithmetic;
#: exact (SymPy) steps build nested radicals, far slower than this.
SCHEDULE_SECONDS = {"float": 1e-7, "mp": 1e-5, "exact": 1e-4}
#: bytes of one coefficient held in a Step (a float object and its tuple slot), and of the
#: tuples and the Step around m slots.
COEFFICIENT_BYTES = {"float": 32, "mp": MP_BYTES, "exact": MP_BYTES}
STEP_OVERHEAD_BYTES = 64
_FORCED: ContextVar[bool] = ContextVar("forced", default=False)


def run_estimate(
    spec: MethodSpec,
    sub_steps: int,
    horizon: int | None,
    *,
    dim: int = 0,
    arithmetic: str = "float",
    stored: bool = False,
    listed: bool = True,
) -> Estimate:
    """Memory and time of ``sub_steps`` sub-steps of ``spec`` on points of R^``dim``.

    ``stored``: the run keeps its whole trajectory; ``listed``: its coefficient steps are held
    in a list (a streamed run, :meth:`Method.network_outputs`, holds one at a time).
    """
    m, n, count = spec.state_size, dim, sub_steps + 1
    number = FLOAT_BYTES if arithmetic == "float" else MP_BYTES
    flop = FLOAT_FLOP_SECONDS if arithmetic == "float" else MP_FLOP_SECONDS
    step_bytes = (m * m + 3 * m) * COEFFICIENT_BYTES[arithmetic] + STEP_OVERHEAD_BYTES * (m + 5)
    memory = (count if listed else 1) * step_bytes
    if stored:
        memory += count * (m + 1) * n * number + (sub_steps // spec.substeps + 1) * n * number
    work = spec.work(sub_steps, horizon) if spec.work is not None else sub_steps
    seconds = sub_steps * (LAYER_SECONDS + (m * m * n + 2 * m * n) * flop)
    seconds += work * SCHEDULE_SECONDS[arithmetic]
    return Estimate(float(memory), float(seconds))


@contextlib.contextmanager
def forced() -> Iterator[None]:
    """Every run inside the block skips :func:`check_run` (a command given ``--force``)."""
    token = _FORCED.set(True)
    try:
        yield
    finally:
        _FORCED.reset(token)


def check_run(what: str, need: Estimate) -> None:
    """Refuse a run past the limits of :func:`optnet_theory.energy.limits.check_resources`, unless
    inside :func:`forced`."""
    check_resources(what, need, _FORCED.get(),
                    override="run it inside 'with optnet_theory.methods.forced():'")  # fmt: skip
