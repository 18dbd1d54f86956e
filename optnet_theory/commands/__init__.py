"""The theory commands of ``optnet`` (no torch), and the options every command shares.

Each command module exposes ``add_arguments(parser)`` and ``run(args)``
(:mod:`optnet_nets.cli`); :func:`add_json_option` is the one definition of ``--json``.
"""

from __future__ import annotations

import argparse

__all__ = ["add_json_option"]


def add_json_option(parser: argparse._ActionsContainer,
                    text: str = "print one JSON object only") -> None:
    """``--json``: the command prints its result as JSON (README, "Commands": every command that
    reports a result does so with ``--json``). ``text``, its help, says what that JSON is;
    ``parser`` may be an argument group (e.g. ``--json`` exclusive with ``--markdown``)."""
    parser.add_argument("--json", action="store_true", help=text)
