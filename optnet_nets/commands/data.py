"""``optnet data fetch NAME``: download a dataset of Sec. 7.1, checksum-verified, where it is read.

CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST come from their official locations and are checked
against the published MD5 checksums (:data:`optnet_nets.fetch.SOURCES`). Downloads resume
after an interruption and install atomically; the default root ``$XDG_CACHE_HOME/optnet`` (or
``~/.cache/optnet``) is also where ``optnet train`` looks when no ``--data-dir`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

from optnet_nets.fetch import (
    DEADLINE,
    SOURCES,
    FetchResult,
    default_root,
    fetch,
    parse_md5,
    reader_dir,
)
from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``optnet data`` actions (only ``fetch`` so far)."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub = actions.add_parser(
        "fetch",
        help="download, verify and unpack a dataset",
        description="Download NAME from its official location, check the published MD5, and "
        "unpack it where optnet train looks for it.",
    )
    sub.add_argument("name", metavar="NAME", help=f"one of {', '.join(SOURCES)}")
    sub.add_argument("--root", help=f"directory to put the data in (default: {default_root()})")
    sub.add_argument("--url", help="a mirror's base URL holding the official file names, or "
                     "the full URL of one of its files")
    sub.add_argument("--md5", action="append", default=[], metavar="HEX|FILE=HEX",
                     help="expected MD5 instead of the published one (a mirror of other files)")
    sub.add_argument("--deadline", type=float, default=DEADLINE, metavar="SECONDS",
                     help=f"give up after this long in all, waiting for another fetch into the "
                     f"same root included (default {DEADLINE:g}; a download stopped by it "
                     "resumes on the next run)")
    add_json_option(sub, "print the result as JSON")


def _human(result: FetchResult) -> str:
    where = f"data in {result.path}"
    if Path(result.path) != reader_dir(result.name):
        where += f" (pass --data-dir {shlex.quote(result.path)} to optnet train)"
    if result.already_present:
        return f"{result.name}: nothing downloaded, {where}"
    return (
        f"{result.name}: {len(result.files)} file(s), {result.bytes / 1e6:.1f} MB, MD5 verified, "
        f"in {result.seconds:.1f} s; {where}"
    )


def run(args: argparse.Namespace) -> int:
    """Fetch; print what was done (JSON with ``--json``)."""
    if not (args.deadline > 0 and math.isfinite(args.deadline)):
        raise OptnetError(f"--deadline must be a positive number of seconds, got {args.deadline}")
    result = fetch(
        args.name,
        args.root,
        url=args.url,
        md5=parse_md5(args.name, args.md5),
        progress=not args.json and sys.stderr.isatty(),
        deadline=args.deadline,
    )
    print(json.dumps(result.to_json()) if args.json else _human(result))
    return 0
