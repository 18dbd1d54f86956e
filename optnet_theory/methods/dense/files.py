"""Method files: a method given by its dense form (18) in JSON, read without executing anything.

A method file holds ``schema`` (:data:`SCHEMA`), ``name`` (identifier-like), ``h`` (the
lower-triangular dense form, rows in units of 1/L; :mod:`optnet_theory.methods.dense.history`),
``class`` (a key of :data:`~optnet_theory.methods.spec.FUNCTION_CLASSES`), ``metric``,
``initial``, ``N`` (= the number of rows), ``L`` and ``mu`` (the class it was made for; h is
scale-free, so it runs at any L), and optionally ``certificate``, ``seed`` and ``provenance``
(``optnet design`` writes them). It is validated for shape, finiteness, class and size, and
only parsed as JSON: nothing in it is ever executed.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.dense.history import check_h, history_spec
from optnet_theory.methods.spec import FUNCTION_CLASSES, METRICS, MethodSpec

__all__ = ["MAX_FILE_BYTES", "SCHEMA", "is_method_file", "load_method_file",
           "method_file_record"]

#: the schema version a method file carries.
SCHEMA = "optnet.method/1"
#: larger files are refused before reading (h at N = 1000 is about 10 MB of JSON).
MAX_FILE_BYTES = 32 * 1024 * 1024
#: what a method's name may look like (it names files and CLI choices).
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_INITIALS = ("distance", "function-gap")


def is_method_file(name: str) -> bool:
    """Whether ``name`` is meant as a method file (it ends in ``.json``)."""
    return name.lower().endswith(".json")


def _read(path: Path) -> Any:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise OptnetError(f"method file {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise OptnetError(f"method file {path}: not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise OptnetError(f"method file {path}: {info.st_size} bytes; at most {MAX_FILE_BYTES}")
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_FILE_BYTES + 1).decode("utf-8")
        return json.loads(text, parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise OptnetError(f"method file {path}: not a JSON method file ({exc})") from None


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a finite number")


def _number(record: dict[str, Any], key: str, path: Path) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptnetError(f"method file {path}: {key!r} must be a finite number, got {value!r}")
    return float(value)


def load_method_file(path: str | Path) -> MethodSpec:
    """The method of the file at ``path`` (module docstring), or a one-line error."""
    path = Path(path)
    record = _read(path)
    if not isinstance(record, dict):
        raise OptnetError(f"method file {path}: expected a JSON object")
    if record.get("schema") != SCHEMA:
        raise OptnetError(f"method file {path}: schema must be {SCHEMA!r}, got "
                          f"{record.get('schema')!r}")
    name = record.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise OptnetError(f"method file {path}: name must be a letter then up to 63 letters, "
                          f"digits, '_', '.' or '-', got {name!r}")
    cls, metric, initial = record.get("class"), record.get("metric"), record.get("initial")
    if cls not in FUNCTION_CLASSES:
        raise OptnetError(f"method file {path}: class must be one of "
                          f"{', '.join(FUNCTION_CLASSES)}, got {cls!r}")
    if metric not in METRICS:
        raise OptnetError(f"method file {path}: metric must be one of {', '.join(METRICS)}, "
                          f"got {metric!r}")
    if initial not in _INITIALS:
        raise OptnetError(f"method file {path}: initial must be one of {', '.join(_INITIALS)}, "
                          f"got {initial!r}")
    h = check_h(record.get("h"), f"method file {path}")
    if record.get("N") != len(h):
        raise OptnetError(f"method file {path}: N = {record.get('N')!r} but h has {len(h)} rows")
    L, mu = _number(record, "L", path), _number(record, "mu", path)
    if not (L > 0 and 0 <= mu < L) or (cls == "smooth-strongly-convex") != (mu > 0):
        raise OptnetError(f"method file {path}: needs L > 0 and 0 <= mu < L, mu > 0 exactly for "
                          f"the strongly convex class; got L = {L}, mu = {mu}, class {cls}")
    return history_spec(name, h, source=f"method file {path}", function_class=str(cls),
                        metric=str(metric), default_mu=mu / L)


def method_file_record(*, name: str, h: list[list[float]], function_class: str, metric: str,
                       initial: str, L: float, mu: float, **extra: Any) -> dict[str, Any]:
    """The JSON object of a method file (``extra``: certificate, seed, provenance, ...)."""
    return {"schema": SCHEMA, "name": name, "N": len(h), "h": h, "class": function_class,
            "metric": metric, "initial": initial, "L": L, "mu": mu, **extra}
