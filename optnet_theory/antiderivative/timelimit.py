"""A CPU-time limit for calls that can run for minutes (SymPy's integrate and simplify, mpmath).

The call runs in a forked child process that arms its own CPU timer (ITIMER_PROF); the caller's
process never has a timer armed or a signal handler changed, so the alarm can never fire inside
the caller's unrelated code (a GC callback, a test framework) and be swallowed there. The
result comes back pickled; an exception raised by the call is re-raised in the caller. CPU
time, not wall-clock time, so that results do not depend on how busy the machine is; a
wall-clock backstop (``BACKSTOP_FACTOR`` times the limit, plus ``BACKSTOP_SECONDS``) kills a
child that stops responding. Without ``os.fork`` (Windows) the call runs unlimited in-process.

:func:`cpu_time` counts this process and its finished children, so a budget spanning several
limited calls (the rule chain's) is checked cooperatively between them.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from collections.abc import Callable, Sequence
from typing import Generic, NoReturn, TypeVar

A = TypeVar("A")
T = TypeVar("T")

#: CPU seconds after which an alarm swallowed inside the child fires again.
_REARM_SECONDS = 0.05
BACKSTOP_FACTOR = 20.0
BACKSTOP_SECONDS = 10.0


class TimeLimitExceeded(Exception):
    """Raised inside the child when its time is up (never in the caller's process)."""


def cpu_time() -> float:
    """CPU seconds used by this process and its waited-for children (the limited calls)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def _alarm(signum: int, frame: object) -> None:
    # Re-arm first: if the exception lands where Python swallows it (a weakref or GC
    # callback), the alarm fires again shortly instead of leaving the call unlimited.
    signal.setitimer(signal.ITIMER_PROF, _REARM_SECONDS)
    raise TimeLimitExceeded


def _limited(seconds: float, fn: Callable[[], T]) -> tuple[str, object]:
    """(status, payload) of ``fn()`` under the CPU timer; only ever called in the child."""
    signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        return ("ok", fn())
    except TimeLimitExceeded:
        return ("timeout", None)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
        return ("error", exc)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _unlimited(fn: Callable[[], T]) -> tuple[str, object]:
    """(status, payload) of ``fn()`` without a limit (no ``os.fork`` on this platform)."""
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - handed to the caller
        return ("error", exc)


def _child(body: Callable[[], object], write_fd: int) -> NoReturn:
    """Run ``body`` and write its result pickled to ``write_fd``; never returns."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)  # "Exception ignored in ..." from a swallowed alarm stays here
        outcome = body()
        try:
            data = pickle.dumps(outcome)
        except Exception:  # noqa: BLE001 - an unpicklable result or exception
            data = pickle.dumps(("error", RuntimeError("result could not be returned")))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
    finally:
        os._exit(0)


def _collect(pid: int, read_fd: int, wall: float) -> bytes | None:
    """The child's whole output, or None (child killed) after ``wall`` seconds."""
    chunks = []
    deadline = time.monotonic() + wall
    with os.fdopen(read_fd, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            ready = select.select([pipe], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks)


def _start_child(body: Callable[[], object]) -> tuple[int, int]:
    """Fork a child computing ``body()``; (its pid, the read end of its result pipe)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(body, write_fd)
    os.close(write_fd)
    return pid, read_fd


def _in_child(body: Callable[[], object], wall: float) -> object | None:
    """``body()`` computed in a forked child (None if it died or ran past ``wall`` seconds)."""
    pid, read_fd = _start_child(body)
    data = _collect(pid, read_fd, wall)
    return pickle.loads(data) if data else None  # our own child's output, not foreign data


def _unpack(outcome: object) -> object | None:
    status, payload = outcome if isinstance(outcome, tuple) else ("timeout", None)
    if status == "error":
        raise payload
    return payload if status == "ok" else None


class Pending(Generic[T]):
    """A limited call already running in a forked child while the caller goes on (the machine's
    second core does it); :meth:`result` waits for it. See :func:`start_with_limit`."""

    def __init__(self, seconds: float, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._outcome: tuple[str, object] | None = None
        self._child: tuple[int, int] | None = None
        if hasattr(os, "fork"):
            self._child = _start_child(lambda: _limited(seconds, fn))
            self._wall = time.monotonic() + _backstop(seconds)

    def result(self) -> T | None:
        """``fn()``, or None when it exceeded its CPU limit; its exception is re-raised here."""
        if self._outcome is None:
            if self._child is None:
                self._outcome = _unlimited(self._fn)
            else:
                pid, read_fd = self._child
                data = _collect(pid, read_fd, max(self._wall - time.monotonic(), 0.0))
                outcome = pickle.loads(data) if data else None  # our own child's output
                self._outcome = outcome if isinstance(outcome, tuple) else ("timeout", None)
        return _unpack(self._outcome)  # type: ignore[return-value]


    def cancel(self) -> None:
        """Stop the child if it is still running (its result is no longer wanted)."""
        if self._outcome is None and self._child is not None:
            pid, read_fd = self._child
            os.close(read_fd)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self._outcome = ("timeout", None)


def start_with_limit(seconds: float, fn: Callable[[], T]) -> Pending[T]:
    """Start ``fn()`` under a CPU limit of ``seconds`` in a forked child and return at once;
    ``.result()`` is what :func:`call_with_limit` would have returned. The child's CPU time
    counts in :func:`cpu_time` only once its result is collected."""
    return Pending(seconds, fn)


def call_with_limit(seconds: float, fn: Callable[[], T]) -> T | None:
    """``fn()``, or None when it exceeds ``seconds`` of CPU time (run in a forked child).

    ``fn``'s result must be picklable; an exception it raises is re-raised here.
    """
    return start_with_limit(seconds, fn).result()


def map_with_limit(
    seconds: float, fn: Callable[[A], T], items: Sequence[A]
) -> list[tuple[str, T | BaseException | None]]:
    """``(status, payload)`` of ``fn(item)`` for each item, each under its own CPU limit.

    status is "ok" (payload: the value), "error" (payload: the exception) or "timeout"; after
    the first timeout the remaining items are not tried ("timeout" too). One child process
    for all items.
    """
    if not hasattr(os, "fork"):
        return [_unlimited(lambda i=item: fn(i)) for item in items]  # type: ignore[misc]

    def body() -> list[tuple[str, object]]:
        out = []
        for item in items:
            out.append(_limited(seconds, lambda i=item: fn(i)))  # type: ignore[misc]
            if out[-1][0] == "timeout":
                break
        return out + [("timeout", None)] * (len(items) - len(out))

    outcome = _in_child(body, len(items) * _backstop(seconds))
    if not isinstance(outcome, list):
        return [("timeout", None)] * len(items)
    return outcome


def _backstop(seconds: float) -> float:
    return BACKSTOP_FACTOR * seconds + BACKSTOP_SECONDS
