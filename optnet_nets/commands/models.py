"""``optnet models``: the model zoo with parameter counts, equations and baselines (Sec. 6).

Building every model to count its parameters means importing torch and constructing ~30
networks (seconds). The table is therefore cached in ``models_table.json`` beside this file,
together with the SHA-256 of every source file the registry was imported from. When all those
files are unchanged the table is printed without importing torch; otherwise it is computed
afresh from the registry (with a notice) -- so the answer is never stale, only slower.
``optnet models --write-cache`` rewrites the cache after a model changes; a test checks that
the shipped cache is current and equals the real counts of every model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from optnet_theory.atomic import write_text
from optnet_theory.commands import add_json_option
from optnet_theory.errors import OptnetError

#: The cached table: {"files": {path relative to the package root: sha256}, "rows": [...]}.
#:
#: :meta hide-value:
CACHE = Path(__file__).with_name("models_table.json")
#: The folder holding the optnet_* packages; cached file paths are relative to it.
#:
#: :meta hide-value:
ROOT = Path(__file__).resolve().parents[2]
#: Modules whose edits do not change the table (the CLI itself), left out of the fingerprint.
_NOT_TABLE_SOURCES = ("optnet_nets.cli", "optnet_nets.commands")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser, "print only JSON on stdout")
    parser.add_argument(
        "--write-cache",
        action="store_true",
        help=f"recount every model and rewrite {CACHE.name} (after changing a model)",
    )


def compute_rows() -> list[dict[str, Any]]:
    """The table from the registry itself: every model built on the meta device and counted."""
    import torch

    from optnet_nets.models import create_model, registry

    rows = []
    for name, entry in registry().items():
        classes = 1000 if entry.dataset == "imagenet" else 10
        with torch.device("meta"):  # shapes only: counting needs no memory and no init
            model = create_model(name, num_classes=classes, **entry.example)
        rows.append(
            {
                "name": name,
                "dataset": entry.dataset,
                "num_classes": classes,
                "parameters": sum(p.numel() for p in model.parameters()),
                "equation": entry.equation,
                "baseline": entry.baseline,
                "options": {k: opt.default for k, opt in entry.options.items()},
                **({"counted_with": dict(entry.example)} if entry.example else {}),
            }
        )
    return rows


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _loaded_sources() -> list[str]:
    """Source files (relative to ROOT) of the optnet modules loaded so far, CLI modules aside."""
    return sorted(
        Path(str(module.__file__)).resolve().relative_to(ROOT).as_posix()
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in ("optnet_nets", "optnet_theory")
        and getattr(module, "__file__", None)
        and not name.startswith(_NOT_TABLE_SOURCES)
    )


def _snapshot() -> None:
    """Print the table and the sources it was computed from (run by :func:`write_cache`)."""
    table = compute_rows()
    print(json.dumps({"sources": _loaded_sources(), "rows": table}))


def write_cache(path: Path | None = None) -> dict[str, Any]:
    """Recount every model and write the table (to ``path``, default :data:`CACHE`) with the
    fingerprint of its sources.

    The counting runs in a fresh interpreter, so the fingerprint covers exactly the modules
    that importing the registry and building every model loads (not what the caller loaded).
    """
    path = CACHE if path is None else path
    code = "from optnet_nets.commands.models import _snapshot; _snapshot()"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    snapshot = json.loads(out.stdout)
    files = {rel: _sha256(ROOT / rel) for rel in snapshot["sources"]}
    cache = {"files": files, "rows": snapshot["rows"]}
    try:
        write_text(path, json.dumps(cache, indent=1) + "\n")
    except OSError as exc:
        raise OptnetError(f"cannot write {path}: {exc.strerror}") from None
    return cache


def cached_rows(path: Path | None = None) -> list[dict[str, Any]] | None:
    """The cached table (``path``, default :data:`CACHE`) if every source file it was computed
    from is unchanged, else None."""
    path = CACHE if path is None else path
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
        files: dict[str, str] = cache["files"]
        rows: list[dict[str, Any]] = cache["rows"]
        current = all(_sha256(ROOT / rel) == digest for rel, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rows if files and current else None


def rows() -> list[dict[str, Any]]:
    """The table: from the cache when current, else computed (with a notice on stderr)."""
    table = cached_rows()
    if table is not None:
        return table
    print(
        f"notice: the model sources changed since {CACHE.name} was written; counting every "
        "model afresh (run 'optnet models --write-cache' to make this fast again)",
        file=sys.stderr,
    )
    return compute_rows()


def run(args: argparse.Namespace) -> int:
    table = write_cache()["rows"] if args.write_cache else rows()
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    width = max(len(str(r["name"])) for r in table)
    print(f"{'model':<{width}}  {'dataset':<8}  {'parameters':>11}  {'baseline':<21}  equation")
    for r in table:
        print(
            f"{r['name']:<{width}}  {r['dataset']:<8}  {r['parameters']:>11,}  "
            f"{r['baseline']:<21}  {r['equation']}"
        )
    print("\nparameter counts with 10-class (CIFAR) or 1000-class (ImageNet) heads")
    return 0
