"""Problems inside docstrings and signatures are listed, not fatal: the API reference renders
the code's docstrings as they are.

The site builds with ``-W``: every warning of its own pages (toctrees, links, includes, the
gallery, the reference's structure) fails the build. Two kinds of message come from the code's
text instead, and only those are written to ``_build/docstring-markup.txt`` and counted in one
line: docutils messages located in a docstring or an autosummary line (the docstrings are plain
text with reStructuredText roles here and there, so notation such as ``|x|`` or ``x*y`` reads as
markup), and type hints of the generated reference that name more than one documented object
(a TypeVar ``T`` beside the proofs' operator ``T``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging as sphinx_logging

#: Where a docutils message comes from a docstring.
MARKERS = ("docstring of ", "<autosummary>")
#: The generated reference's pages (relative to the source folder).
GENERATED = "reference/generated/"
REPORT = "docstring-markup.txt"


def where(location: Any) -> str:
    """A message's location as text: a node gives its document and its source line."""
    if isinstance(location, nodes.Element):
        parts = [location.get("refdoc"), sphinx_logging.get_node_location(location)]
        return " ".join(str(part) for part in parts if part)
    return str(location or "")


class DocstringMarkup(logging.Filter):
    """Keeps messages about the code's own text away from the warning stream."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def _from_code(self, record: logging.LogRecord) -> bool:
        location = where(getattr(record, "location", None))
        kind = getattr(record, "type", "")
        if kind == "docutils":
            return any(marker in location for marker in MARKERS)
        ambiguous = "more than one target found" in record.getMessage()
        return kind == "ref" and ambiguous and GENERATED in location

    def filter(self, record: logging.LogRecord) -> bool:
        if self._from_code(record):
            location = where(getattr(record, "location", None))
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
                f"{len(markup.messages)} messages about docstrings and signatures (rendered as "
                f"they are): {path}"
            )

    app.connect("build-finished", report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
