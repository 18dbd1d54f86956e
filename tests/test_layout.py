"""The package layout: small modules, small folders, and moved modules still importable.

Limits (issue 23): no module of ``optnet_theory`` or ``optnet_nets`` over 400 lines, no folder
holding more than 12 modules directly. Every module that moved keeps its old import path, which
gives the new module with a DeprecationWarning naming it (``MOVED`` in each package).
Negative controls: an oversize module and a crowded folder are reported; a path that never
existed still fails to import.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pytest

import optnet_nets
import optnet_theory

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("optnet_theory", "optnet_nets")
MAX_LINES = 400
MAX_MODULES = 12
MOVED = {**optnet_theory.MOVED, **optnet_nets.MOVED}


def layout_problems(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Modules over MAX_LINES lines and folders with more than MAX_MODULES modules."""
    problems = []
    for package in packages:
        for folder in sorted(p for p in (root / package).rglob("*") if p.is_dir()) + [
                root / package]:
            if folder.name == "__pycache__":
                continue
            modules = sorted(folder.glob("*.py"))
            if len(modules) > MAX_MODULES:
                problems.append(f"{folder.relative_to(root)}: {len(modules)} modules")
            for module in modules:
                lines = len(module.read_text(encoding="utf-8").splitlines())
                if lines > MAX_LINES:
                    problems.append(f"{module.relative_to(root)}: {lines} lines")
    return problems


def test_no_module_is_too_long_and_no_folder_too_crowded() -> None:
    assert layout_problems(ROOT) == []


def test_an_oversize_module_and_a_crowded_folder_are_reported(tmp_path: Path) -> None:
    """Negative control for the check above."""
    package = tmp_path / "pkg"
    package.mkdir()
    for k in range(MAX_MODULES + 1):
        (package / f"m{k}.py").write_text("x = 1\n" * (MAX_LINES + 1 if k == 0 else 1))
    assert layout_problems(tmp_path, ("pkg",)) == [
        f"pkg: {MAX_MODULES + 1} modules", f"pkg/m0.py: {MAX_LINES + 1} lines"]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_moved_module_imports_from_its_old_path_with_a_deprecation(old: str) -> None:
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])
    assert any(issubclass(w.category, DeprecationWarning) and MOVED[old] in str(w.message)
               for w in caught)
    assert not (ROOT / (old.replace(".", "/") + ".py")).exists()  # it really moved


def test_a_path_that_never_existed_still_fails() -> None:
    """Negative control: the old-path finder answers only for the modules that moved."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("optnet_theory.no_such_module")


def test_the_old_blocks_path_gives_the_stage_helpers() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from optnet_nets.blocks import MOMENTUM_CHOICES, combine  # type: ignore[attr-defined]
    from optnet_nets.models.stage import MOMENTUM_CHOICES as current
    assert MOMENTUM_CHOICES is current and callable(combine)
