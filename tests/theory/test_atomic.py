"""The one atomic writer (optnet_theory.atomic): JSON and text files appear whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optnet_theory import atomic


def test_write_json_format_folder_and_no_temp_left(tmp_path):
    target = tmp_path / "new" / "record.json"
    data = {"b": [1, 2], "a": "é"}
    assert atomic.write_json(target, data) == target
    assert target.read_text() == json.dumps(data, indent=1, sort_keys=True) + "\n"
    assert [p.name for p in target.parent.iterdir()] == ["record.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    atomic.write_text(target, "old\n")

    def half_write(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[:2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", half_write)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text(target, "new and longer\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]


def test_the_old_name_warns_and_writes_the_same_file(tmp_path):
    from optnet_theory.certify.table import write_json_atomic

    with pytest.warns(DeprecationWarning, match="atomic.write_json"):
        write_json_atomic({"x": 1}, tmp_path / "old.json")
    atomic.write_json(tmp_path / "new.json", {"x": 1})
    assert (tmp_path / "old.json").read_bytes() == (tmp_path / "new.json").read_bytes()
