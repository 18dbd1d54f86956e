"""docs/paper-map.md stays current: every ``path.py::name`` it cites exists.

The map ties each equation, lemma and table to code, proof and test by path and name; a module
moved or a function renamed without the map following is caught here. Negative control: a
reference to a missing file and one to a missing name are both reported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "paper-map.md"
#: `path.py` or `path.py::name[.attr]` inside backticks.
REFERENCE = re.compile(r"`([\w./-]+\.py)(?:::([\w.]+))?")


def _computed(node: ast.AST) -> set[str]:
    """Names a module computes when read: the keys of ``computed_names(__name__, {...})``."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "computed_names":
        return {k.value for arg in node.args if isinstance(arg, ast.Dict) for k in arg.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return set()


def _defined(path: Path) -> set[str]:
    """The names a module defines: functions, classes and assigned names, at any depth, and the
    names it computes when read (:func:`_computed`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names |= _computed(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def stale_references(text: str, root: Path = ROOT) -> list[str]:
    """The references in ``text`` whose file or name does not exist under ``root``."""
    stale = []
    for path, name in sorted(set(REFERENCE.findall(text))):
        file = root / path
        if not file.is_file():
            stale.append(f"{path} (no such file)")
        elif name and name.split(".")[0] not in _defined(file):
            stale.append(f"{path}::{name} (not defined there)")
    return stale


def test_every_reference_of_the_paper_map_exists() -> None:
    text = MAP.read_text(encoding="utf-8")
    assert len(REFERENCE.findall(text)) > 300  # the map cites code, proofs and tests throughout
    assert stale_references(text) == []


def test_a_stale_reference_is_caught() -> None:
    """Negative control: a missing file and a missing name."""
    text = (
        "`optnet_theory/no_such_module.py::f` and `optnet_theory/errors.py::NoSuchError` and "
        "`optnet_theory/errors.py::OptnetError`"
    )
    assert stale_references(text) == [
        "optnet_theory/errors.py::NoSuchError (not defined there)",
        "optnet_theory/no_such_module.py (no such file)",
    ]
