"""pyproject.toml installs every package of the source tree, and proofs/ as optnet_proofs.

The package-dir mapping (proofs/ -> optnet_proofs, so that no generic top-level ``proofs`` lands
in site-packages) needs the packages listed by name; a new subpackage missing from the list
would be left out of a wheel, which this test catches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]


def _source_packages(folder: str, name: str) -> set[str]:
    base = ROOT / folder
    return {
        ".".join([name, *init.parent.relative_to(base).parts])
        for init in base.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_every_package_is_listed_and_proofs_installs_under_the_projects_name() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setup = config["tool"]["setuptools"]
    assert setup["package-dir"] == {"optnet_proofs": "proofs"}
    expected = (
        _source_packages("optnet_theory", "optnet_theory")
        | _source_packages("optnet_nets", "optnet_nets")
        | _source_packages("proofs", "optnet_proofs")
    )
    assert "optnet_nets.models" in expected  # the walk finds subpackages (negative control)
    assert set(setup["packages"]) == expected
    assert not any(p == "proofs" or p.startswith("proofs.") for p in setup["packages"])
