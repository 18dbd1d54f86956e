"""The one exception family a user of optnet is meant to see.

Every error caused by bad input (a formula the parser refuses, a matrix that is not symmetric
positive definite, an unknown model name, a missing dataset file) is an :class:`OptnetError`
whose message names what was wrong and what is accepted. The CLI prints it as one line on
stderr and exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class OptnetError(ValueError):
    """Bad input, explained in one line: what was wrong and what is accepted."""
