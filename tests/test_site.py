"""The built site renders in a real browser: home page, a gallery page with its figure, search.

Opens ``docs/_build/html`` (``make -C docs html``) in headless Chromium, called directly
(``--headless --no-sandbox --dump-dom``; no driver that would download a browser). A page is
loaded in an iframe of a small harness page whose script reports, after the page's own scripts
ran, what the browser made of it: its title, its style sheets, and each image with the width it
decoded to (0 for an image that did not load). The search page is run with a query and its DOM
read after its JavaScript filled in the results.

Skipped, with the reason, when the site is not built or Chromium is not installed; CI builds the
site, installs Chromium and sets ``OPTNET_REQUIRE_SITE=1``, which turns those skips into failures.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
GALLERY_PAGE = "auto_examples/plot_3_certify_methods.html"


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("OPTNET_REQUIRE_SITE"):
        pytest.fail(f"OPTNET_REQUIRE_SITE is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> str:
    _require((SITE / "index.html").is_file(),
             f"the site is not built ({SITE / 'index.html'} is missing; run make -C docs html)")
    _require(CHROMIUM is not None, "chromium is not installed (apt-get install chromium)")
    assert CHROMIUM is not None
    return CHROMIUM


def _dump_dom(chromium: str, url: str, tmp: Path) -> str:
    """The DOM of ``url`` once its scripts have run (virtual time: no real waiting)."""
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--allow-file-access-from-files", f"--user-data-dir={tmp / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


HARNESS = """<!DOCTYPE html><html><body><iframe id="page" src="{src}" width="1200" height="900">
</iframe><script>
const frame = document.getElementById("page");
frame.onload = () => {{
  const doc = frame.contentDocument;
  const images = [...doc.images].map(i => [i.getAttribute("src"), i.naturalWidth]);
  const report = {{title: doc.title, styles: doc.styleSheets.length, images: images,
                   text: doc.body.innerText.slice(0, 20000)}};
  document.body.setAttribute("data-report", JSON.stringify(report));
}};
</script></body></html>"""


def _rendered(chromium: str, page: Path, tmp: Path) -> dict:
    """What the browser made of ``page``: title, style sheets, images with decoded widths."""
    harness = tmp / "harness.html"
    harness.write_text(HARNESS.format(src=page.as_uri()), encoding="utf-8")
    dom = _dump_dom(chromium, harness.as_uri(), tmp)
    found = re.search(r'data-report="([^"]*)"', dom)
    assert found, f"the harness saw no page load: {dom[:500]}"
    return json.loads(html.unescape(found.group(1)))


def test_home_page_renders(browser, tmp_path):
    report = _rendered(browser, SITE / "index.html", tmp_path)
    assert report["title"].startswith("optnet")
    assert report["styles"] >= 1  # the theme's CSS loaded
    for entry in ("Getting started", "Tutorial 1", "Gallery", "Paper map", "Errata",
                  "API reference", "Changelog"):  # fmt: skip
        assert entry in report["text"], entry
    assert "Lemma 1" in report["text"]  # the README's introduction, included


def test_gallery_page_shows_its_computed_figure(browser, tmp_path):
    report = _rendered(browser, SITE / GALLERY_PAGE, tmp_path)
    assert report["title"].startswith("3. Certify and compare")
    figures = [(src, width) for src, width in report["images"] if "sphx_glr_plot_3" in src]
    assert figures and all(width > 100 for _, width in figures), report["images"]
    assert "worst case" in report["text"] and "Total running time" in report["text"]
    # negative control: an image that is not there decodes to width 0 in the same harness
    broken = tmp_path / "broken.html"
    broken.write_text('<html><head><title>x</title></head><body><img src="nowhere.png">'
                      "</body></html>", encoding="utf-8")  # fmt: skip
    assert _rendered(browser, broken, tmp_path)["images"] == [["nowhere.png", 0]]


def _search_hits(chromium: str, query: str, tmp: Path) -> list[str]:
    dom = _dump_dom(chromium, f"{(SITE / 'search.html').as_uri()}?q={quote(query)}", tmp)
    results = re.search(r'<ul[^>]*class="search"[^>]*>(.*?)</ul>', dom, re.S)
    return re.findall(r'<a href="([^"]+)"', results.group(1)) if results else []


def test_search_page_finds_pages(browser, tmp_path):
    hits = _search_hits(browser, "heavy ball", tmp_path)
    assert any("paper-map" in h for h in hits), hits
    assert _search_hits(browser, "qzxqzxnotaword", tmp_path) == []  # the check can fail


def test_only_messages_about_the_codes_own_text_are_kept_out_of_the_warnings():
    """The build's -W exception: docstring markup and ambiguous type hints of the reference."""
    pytest.importorskip("sphinx")
    import logging
    import sys

    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from docstring_markup import DocstringMarkup
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))

    def record(message: str, location: str, kind: str) -> logging.LogRecord:
        made = logging.LogRecord("sphinx", logging.WARNING, "", 0, message, (), None)
        made.location, made.type = location, kind
        return made

    markup = DocstringMarkup()
    docstring = record("Undefined substitution", "x.py:docstring of m.f:1", "docutils")
    ambiguous = record("more than one target found for cross-reference 'T'",
                       "/d/reference/generated/optnet_theory.x.rst:2", "ref")  # fmt: skip
    assert not markup.filter(docstring) and not markup.filter(ambiguous)
    assert len(markup.messages) == 2
    # the site's own pages keep failing the build
    assert markup.filter(record("Undefined substitution", "/d/docs/index.md:3", "docutils"))
    assert markup.filter(record("more than one target found", "/d/docs/api.md:9", "ref"))
    assert markup.filter(record("target not found: 'x.md'", "/d/docs/index.md:5", "myst"))
