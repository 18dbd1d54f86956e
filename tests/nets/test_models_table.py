"""``optnet models``: the cached table is current, equals the real counts, and is never stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optnet_nets.commands import models as cmd
from optnet_nets.models import REGISTRY, create_model


def _real_count(name: str) -> int:
    classes = 1000 if REGISTRY[name].dataset == "imagenet" else 10
    with torch.device("meta"):
        model = create_model(name, num_classes=classes)
    return sum(p.numel() for p in model.parameters())


def _shipped() -> list[dict]:
    table = cmd.cached_rows()
    assert table is not None, (
        "optnet_nets/commands/models_table.json is stale (a model source changed): "
        "run 'optnet models --write-cache'"
    )
    return table


@pytest.mark.parametrize("name", ["resnet20", "hbnet56", "admmnet20", "agdnet40", "hbnet34"])
def test_cached_counts_equal_the_real_counts_of_a_few_models(name: str) -> None:
    rows = {r["name"]: r for r in _shipped()}
    assert rows[name]["parameters"] == _real_count(name)


def test_cached_table_equals_the_registry_for_every_model() -> None:
    assert _shipped() == cmd.compute_rows()


def test_a_wrong_count_is_caught() -> None:
    """Negative control: a cache with one count off by one differs from the registry's table."""
    rows = json.loads(json.dumps(_shipped()))
    rows[3]["parameters"] += 1
    assert rows != cmd.compute_rows()


def test_a_changed_source_file_invalidates_the_cache(tmp_path: Path) -> None:
    cache = json.loads(cmd.CACHE.read_text())
    rel = next(iter(cache["files"]))
    cache["files"][rel] = "0" * 64  # as if that file had been edited since
    cache["rows"][0]["parameters"] = -1  # so a stale table would show
    stale = tmp_path / "models_table.json"
    stale.write_text(json.dumps(cache))
    assert cmd.cached_rows(stale) is None
    assert cmd.cached_rows(tmp_path / "missing.json") is None


def test_models_answers_from_the_cache_without_torch() -> None:
    code = (
        "import sys; from optnet_nets.cli import main; "
        "rc = main(['models', '--json']); assert rc == 0; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert {r["name"] for r in json.loads(out.stdout)} == set(REGISTRY)
