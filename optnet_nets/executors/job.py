"""The function every submitit job runs: one ``optnet`` command, in the job's process.

:func:`run_optnet` calls :func:`optnet_nets.cli.main`, the entry point that the local executor's
child processes run (``python -m optnet_nets.cli ARGV``), so a job does exactly what a local run
does, lock files and checkpoints included. This module imports nothing heavy: submitit unpickles
a reference to the function before it runs, and the thread cap must be set before torch loads.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from optnet_theory.errors import OptnetError

__all__ = ["JobFailed", "run_optnet"]


class JobFailed(OptnetError):
    """The command of a job exited with a non-zero status (its reason is the log's last line)."""


@contextmanager
def _output_to(sink: IO[bytes]) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``sink``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def run_optnet(argv: Sequence[str], log: str, threads: int | None = None) -> None:
    """Run ``optnet ARGV`` here, its output appended to ``log``; raise :class:`JobFailed` when
    it exits non-zero. ``threads`` caps OpenMP/MKL threads as the local executor does."""
    if threads is not None:
        os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    from optnet_nets.cli import main

    with open(log, "ab") as sink:
        sink.write(f"$ optnet {shlex.join(argv)}  (submitit job)\n".encode())
        sink.flush()
        with _output_to(sink):
            status = main(list(argv))
    if status != 0:
        raise JobFailed(f"'optnet {argv[0]}' exited with status {status}; its output is in {log}")
