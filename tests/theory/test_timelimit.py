"""The CPU-time limit runs the guarded call in a child process, never alarming the caller."""

from __future__ import annotations

import gc
import os
import signal
import time

import pytest

from optnet_theory.antiderivative.timelimit import (
    call_with_limit,
    cpu_time,
    map_with_limit,
    start_with_limit,
)


def _busy(seconds: float) -> str:
    start = time.process_time()
    while time.process_time() - start < seconds:
        sum(range(1000))
    return "ran to the end"


def test_limit_stops_a_long_call_and_returns_fast_ones() -> None:
    assert call_with_limit(0.1, lambda: _busy(30.0)) is None
    assert call_with_limit(5.0, lambda: 6 * 7) == 42


def test_errors_of_the_call_reach_the_caller() -> None:
    with pytest.raises(ZeroDivisionError):
        call_with_limit(1.0, lambda: 1 / 0)


def test_alarm_swallowed_inside_the_call_fires_again() -> None:
    """An alarm raised where exceptions are ignored (a GC callback) must not disarm the limit."""

    def swallows_first() -> str:
        swallowed = 0
        start = time.process_time()
        while time.process_time() - start < 30.0:
            try:
                sum(range(1000))
            except BaseException:  # noqa: BLE001 - stands in for a GC callback
                swallowed += 1
                if swallowed > 1:
                    raise
        return "ran to the end"

    assert call_with_limit(0.1, swallows_first) is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_alarm_never_fires_in_the_callers_foreign_code() -> None:
    """A GC callback of the caller (as hypothesis installs one) never sees the alarm.

    Negative control: with the limit armed in the caller's own process (the old design), the
    alarm lands inside the busy callback, where Python swallows it.
    """
    seen: list[BaseException] = []
    fired: list[bool] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        try:
            _busy(0.02)
        except BaseException as exc:  # noqa: BLE001 - record what foreign code would swallow
            seen.append(exc)
            raise

    def churn() -> None:
        start = time.process_time()
        while time.process_time() - start < 2.0 and not fired:
            gc.collect(0)  # young generation only: fast however large the heap, so the busy
            # callback holds almost all the time (as a foreign callback would)

    def alarm(signum: int, frame: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        fired.append(True)
        raise TimeoutError

    others = list(gc.callbacks)  # e.g. hypothesis's: the alarm could land (and die) there
    gc.callbacks[:] = [callback]
    try:
        before = signal.getsignal(signal.SIGPROF)
        assert call_with_limit(0.2, churn) is None
        assert seen == []
        assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGPROF) is before
        signal.signal(signal.SIGPROF, alarm)  # the old design, as a negative control
        for _ in range(20):
            fired.clear()
            signal.setitimer(signal.ITIMER_PROF, 0.05)
            try:
                churn()
            except TimeoutError:
                pass
            if seen:
                break
        assert seen and isinstance(seen[0], TimeoutError)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, before)
        gc.callbacks[:] = others


def test_map_limits_each_item_and_stops_at_the_first_timeout() -> None:
    def work(t: float) -> float:
        if t < 0:
            raise ValueError("negative")
        return _busy(t) and t

    out = map_with_limit(0.2, work, [0.0, -1.0, 30.0, 0.0])
    assert out[0] == ("ok", 0.0)
    assert out[1][0] == "error" and isinstance(out[1][1], ValueError)
    assert [s for s, _ in out[2:]] == ["timeout", "timeout"]


def test_cpu_time_counts_the_children() -> None:
    before = cpu_time()
    call_with_limit(5.0, lambda: _busy(0.3))
    assert cpu_time() - before >= 0.25


def test_a_started_call_runs_while_the_caller_goes_on(tmp_path) -> None:
    """start_with_limit returns at once and the call runs meanwhile (it writes a file the
    caller waits for before asking for the result); .result() is call_with_limit's answer
    (the value, None on timeout, the call's exception)."""
    mark = tmp_path / "started"

    def body() -> int:
        mark.write_text("running")
        return 42

    pending = start_with_limit(5.0, body)
    for _ in range(2000):
        if mark.exists():
            break
        time.sleep(0.005)
    assert mark.exists()  # ran before .result() was called
    assert pending.result() == 42
    assert start_with_limit(0.1, lambda: _busy(30.0)).result() is None
    failing = start_with_limit(1.0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()


def test_a_cancelled_call_leaves_no_child() -> None:
    pending = start_with_limit(30.0, lambda: _busy(30.0))
    pid = pending._child[0]  # type: ignore[index]
    pending.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: neither running nor a zombie
    assert pending.result() is None
