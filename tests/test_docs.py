"""The ```python examples of README.md and docs/api.md run, in order, one namespace per file.

So the documented API cannot drift from the code: a renamed function or a changed signature
fails here. Each file runs in a fresh temporary working directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/api.md")
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return _BLOCK.findall(text)


def test_blocks_are_found_and_a_broken_one_would_fail() -> None:
    """Negative control for the collector and the runner."""
    text = "x\n```python\na = 1\n```\n```bash\nls\n```\n```python\nassert a == 2\n```\n"
    blocks = python_blocks(text)
    assert blocks == ["a = 1\n", "assert a == 2\n"]
    namespace: dict = {}
    exec(compile(blocks[0], "<doc>", "exec"), namespace)  # noqa: S102
    with pytest.raises(AssertionError):
        exec(compile(blocks[1], "<doc>", "exec"), namespace)  # noqa: S102


@pytest.mark.parametrize("name", DOCS)
def test_the_examples_run(name: str, tmp_path: Path, monkeypatch) -> None:
    import torch

    blocks = python_blocks((ROOT / name).read_text(encoding="utf-8"))
    assert blocks, f"{name} has no python example"
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {"__name__": f"doc:{name}"}
    try:
        for number, block in enumerate(blocks, start=1):
            code = compile(block, f"{name} python block {number}", "exec")
            exec(code, namespace)  # noqa: S102  (our own documentation, nothing else)
    finally:
        torch.set_num_threads(threads)


def test_the_readme_links_the_api_page() -> None:
    assert "(docs/api.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
