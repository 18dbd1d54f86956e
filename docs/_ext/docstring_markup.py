"""Docstring markup problems are listed, not fatal: the API reference renders the docstrings
as they are.

The site builds with ``-W``: every warning of its own pages (toctrees, links, includes, the
gallery, the reference's structure) fails the build. The docstrings are written as plain text
with reStructuredText roles here and there, so notation such as ``|x|`` or ``x*y`` reads as
markup to docutils. Those docutils messages, and only those (their location is a docstring or an
autosummary line), are written to ``_build/docstring-markup.txt`` and counted in one line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging as sphinx_logging

#: Where a docutils message comes from a docstring.
MARKERS = ("docstring of ", "<autosummary>")
REPORT = "docstring-markup.txt"


class DocstringMarkup(logging.Filter):
    """Keeps docutils messages located in docstrings away from the warning stream."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        location = str(getattr(record, "location", "") or "")
        if getattr(record, "type", "") == "docutils" and any(m in location for m in MARKERS):
            self.messages.append(f"{location}: {record.getMessage()}")
            return False
        return True


def setup(app: Sphinx) -> dict[str, Any]:
    markup = DocstringMarkup()
    for handler in logging.getLogger(sphinx_logging.NAMESPACE).handlers:
        if isinstance(handler, sphinx_logging.WarningStreamHandler):
            handler.filters.insert(0, markup)  # before the filter that counts warnings

    def report(app: Sphinx, exception: Exception | None) -> None:
        if exception is None and markup.messages:
            path = Path(app.outdir).parent / REPORT
            path.write_text("\n".join(markup.messages) + "\n", encoding="utf-8")
            sphinx_logging.getLogger(__name__).info(
                f"{len(markup.messages)} docstring markup messages (rendered as they are): {path}"
            )

    app.connect("build-finished", report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
