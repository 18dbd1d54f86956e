"""Outside optnet_theory/methods/ (and tests/), method names are not written as string literals:
every list of methods is derived from the registry when used (issue 23 item 2). Docstrings,
help texts and an explicit allow-list (a reason per entry) are exempt."""

from __future__ import annotations

import ast
from pathlib import Path

from optnet_theory.methods import list_methods

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("optnet_theory", "optnet_nets")
SKIPPED = (ROOT / "optnet_theory" / "methods",)

#: (path relative to the root, method name) -> why the literal stays.
ALLOWED: dict[tuple[str, str], str] = {}


def _exempt_nodes(tree: ast.AST) -> set[int]:
    """ids of string constants that are docstrings or help=/description=/epilog= texts."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in ("help", "description", "epilog", "usage", "metavar"):
                    out.update(id(n) for n in ast.walk(kw.value))
    return out


def method_literals(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) of every string literal in ``source`` equal to one of ``names``, outside
    docstrings and help texts."""
    tree = ast.parse(source)
    exempt = _exempt_nodes(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value in names and id(node) not in exempt
    ]


def test_the_checker_flags_a_method_name_literal() -> None:
    snippet = 'def f():\n    """Uses "ogm" in prose."""\n    return get_method("ogm")\n'
    assert method_literals(snippet, {"ogm"}) == [(3, "ogm")]
    assert method_literals('p.add_argument("--m", help="ogm")\n', {"ogm"}) == []


def test_no_method_name_literals_outside_methods() -> None:
    names = set(list_methods())
    found: list[str] = []
    used: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if any(path.is_relative_to(s) for s in SKIPPED):
                continue
            rel = path.relative_to(ROOT).as_posix()
            for line, name in method_literals(path.read_text(encoding="utf-8"), names):
                if (rel, name) in ALLOWED:
                    used.add((rel, name))
                else:
                    found.append(f"{rel}:{line}: {name!r}")
    assert not found, "method names as literals (derive them from list_methods()):\n" + "\n".join(
        found)
    assert used == set(ALLOWED), f"allow-list entries no longer needed: {set(ALLOWED) - used}"
