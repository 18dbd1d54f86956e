"""Sphinx configuration of the optnet site: ``make -C docs html`` builds it into _build/html.

The pages are the project's own Markdown files (read by myst-parser, included where they live
outside ``docs/``, never copied), an API reference generated from the docstrings (autodoc with
napoleon, which reads the Google and NumPy styles alike) and a gallery of examples executed at
build time (sphinx-gallery). The build treats every warning as an error (``-W`` in Makefile).
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "optnet"
author = "the optnet authors"
copyright = "2025, the optnet authors"  # noqa: A001  (Sphinx's name)
release = metadata.version("optnet")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "docstring_markup",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_ext", "gallery", "**/*.html"]

# Markdown: anchors for the '## Heading' links the pages use (e.g. paper-map.md#errata).
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# API reference: one page per module, members in source order, typed signatures.
autosummary_generate = True
# A package documents what it defines; what it re-exports is documented where it is defined.
autodoc_default_options = {"members": True, "member-order": "bysource", "ignore-module-all": True}
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# Gallery: every example runs at build time, in file-name order; a failing one fails the build.
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
}
os.environ.setdefault("MPLBACKEND", "agg")
# One thread per process unless the builder says otherwise: the examples' networks are small,
# and on a machine whose cores are busy, threads that wait on each other make them many times
# slower (the study's runs, in child processes, take one thread each anyway).
os.environ.setdefault("OMP_NUM_THREADS", "1")

html_theme = "furo"
html_title = f"optnet {release}"
html_static_path: list[str] = []
