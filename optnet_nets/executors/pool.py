"""Runs a grid's tasks through an executor: ``workers`` in flight, stopped cleanly when killed.

:func:`run_tasks` first adopts the jobs that an earlier, killed driver left running on the
same tasks (they are waited for, not started twice), then submits the others. After the first
failure no further task is started and the jobs in flight finish. Ctrl-C, SIGTERM (a scheduler's
kill) and SIGHUP (a closed terminal, unless ignored, as under ``nohup``) cancel every job in
flight and wait for it to end, so that none outlives the driver holding a run folder; a job
that will not stop is named. A task whose command ended but whose run is not ``finished``
(``finished(task)``) is submitted again when its job was adopted: the command resumes it.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from optnet_nets.executors.base import Executor, Job, Task

__all__ = ["Outcome", "run_tasks"]

#: Seconds between polls of the jobs in flight.
POLL_S = 0.2
#: Seconds a cancelled job is given to stop (checkpoint and exit) before it is killed.
STOP_GRACE_S = 30.0


@dataclass
class Outcome:
    """What :func:`run_tasks` did: tasks whose job succeeded (in order), those that failed
    (with the reason) and the keys of the tasks whose job was adopted."""

    ran: list[Task] = field(default_factory=list)
    failed: list[tuple[Task, str]] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt like Ctrl-C, so the jobs in flight are stopped too."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    chosen = [signal.SIGTERM]
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        chosen.append(signal.SIGHUP)
    previous = {sig: signal.signal(sig, handler) for sig in chosen}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _wait(jobs: list[Job], seconds: float) -> list[Job]:
    """Poll ``jobs`` for up to ``seconds``; the ones still running."""
    deadline = time.monotonic() + seconds
    left = [job for job in jobs if not job.poll()]
    while left and time.monotonic() < deadline:
        time.sleep(POLL_S)
        left = [job for job in left if not job.poll()]
    return left


def _stop(executor: Executor, running: dict[str, tuple[Task, Job, float]],
          say: Callable[[str], None]) -> None:  # fmt: skip
    """Cancel every job in flight, kill the ones that do not stop, forget the ended ones."""
    if not running:
        return
    for _, job, _ in running.values():
        job.cancel()
    stubborn = _wait([job for _, job, _ in running.values()], STOP_GRACE_S)
    for job in stubborn:
        job.kill()
    alive = {id(job) for job in _wait(stubborn, 10.0)}
    for task, job, _ in running.values():
        if id(job) in alive:
            say(f"{job.label} ({task.key}) did not stop; stop it by hand before rerunning")
        else:
            executor.ended(task)


def run_tasks(
    executor: Executor,
    tasks: Sequence[Task],
    *,
    workers: int,
    finished: Callable[[Task], bool],
    on_end: Callable[[Task, float, int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> Outcome:
    """Run ``tasks`` through ``executor``, at most ``workers`` in flight.

    ``finished(task)`` says whether a task's run is complete (read from its folder);
    ``on_end(task, wall_seconds, tasks_left)`` is called when a job has ended well.
    """
    tell = say or (lambda line: print(line, file=sys.stderr, flush=True))
    outcome = Outcome()
    adopted = executor.adopt(list(tasks))
    running: dict[str, tuple[Task, Job, float]] = {}
    for task in tasks:
        if task.key in adopted:
            running[task.key] = (task, adopted[task.key], time.monotonic())
            outcome.adopted.append(task.key)
            tell(f"waiting for {adopted[task.key].label}: {task.key}")
    queue = [task for task in tasks if task.key not in adopted]
    with _signals_interrupt():
        try:
            while queue or running:
                while queue and len(running) < workers and not outcome.failed:
                    task = queue.pop(0)
                    running[task.key] = (task, executor.submit(task), time.monotonic())
                if outcome.failed and not running:
                    break
                time.sleep(POLL_S)
                for key, (task, job, started) in list(running.items()):
                    if not job.poll():
                        continue
                    del running[key]
                    executor.ended(task)
                    reason = job.failure()
                    if reason is not None:
                        outcome.failed.append((task, reason))
                        tell(f"FAILED {task.key}: {reason}")
                    elif key in outcome.adopted and not finished(task):
                        outcome.adopted.remove(key)
                        queue.append(task)  # the adopted job stopped early: resume the run
                    else:
                        outcome.ran.append(task)
                        if on_end is not None:
                            on_end(task, time.monotonic() - started, len(queue) + len(running))
        finally:
            _stop(executor, running, tell)
    return outcome
