"""A CPU-time limit for SymPy calls that can run for minutes (integrate, simplify).

CPU time of this process (ITIMER_PROF), not wall-clock time, so that results do not depend on
how busy the machine is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


#: CPU seconds after which a swallowed alarm fires again.
_REARM_SECONDS = 0.05


class TimeLimitExceeded(Exception):
    """Raised inside a guarded call when its time is up."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the body after ``seconds`` of CPU time (main thread on POSIX; else no limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _alarm(signum: int, frame: object) -> None:
        # Re-arm first: if the exception lands where Python swallows it (a weakref or GC
        # callback), the alarm fires again shortly instead of leaving the call unlimited.
        signal.setitimer(signal.ITIMER_PROF, _REARM_SECONDS)
        raise TimeLimitExceeded

    previous = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def call_with_limit(seconds: float, fn: Callable[[], T]) -> T | None:
    """``fn()``, or None when it exceeds ``seconds``."""
    try:
        with time_limit(seconds):
            return fn()
    except TimeLimitExceeded:
        return None
