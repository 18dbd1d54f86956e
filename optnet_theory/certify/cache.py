"""One cache of certificates, keyed by what they certify and checked again when read.

An entry lives in the user's cache (``$XDG_CACHE_HOME/optnet/certificates``, or
``~/.cache/optnet/certificates``; never the working directory), one JSON file per certificate,
written atomically. Its name is the SHA-256 of everything the certificate depends on: the
method's coefficients over the horizon (its definition, whatever its name), its parameters,
L, mu, N, metric, initial condition, and the source of the certifying code itself. An entry is
trusted only after its evidence (the dual and primal points) has passed the exact checks again
and given exactly the bounds it records (:func:`~optnet_theory.certify.certificate.recheck`);
an entry that fails is reported on stderr and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from optnet_theory.atomic import write_json
from optnet_theory.certify.certificate import (
    MAX_GAP,
    Certificate,
    Evidence,
    certify,
    recheck,
    resolve_condition,
)
from optnet_theory.methods import Method

__all__ = ["cache_dir", "cache_key", "cached_certify"]


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/optnet/certificates``, or ``~/.cache/optnet/certificates``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "optnet" / "certificates"


def _code_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(method: Method, steps: int, metric: str, initial: str) -> str:
    """SHA-256 (hex) of the certificate's inputs (module docstring)."""
    coefficients = [[list(map(list, st.A)), list(st.B), list(st.C), list(st.D)]
                    for st in method.coefficients(steps)]
    record = {
        "coefficients": json.loads(json.dumps(coefficients, default=float)),
        "initial_state": list(method.spec.initial),
        "substeps": method.spec.substeps,
        "params": {k: (v if isinstance(v, str) else float(v)) for k, v in method.params.items()},
        "L": method.L, "mu": method.mu, "steps": steps, "metric": metric, "initial": initial,
        "code": _code_hash(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def cached_certify(method: Method, steps: int, *, metric: str | None = None,
                   initial: str | None = None, root: Path | None = None,
                   max_gap: float = MAX_GAP) -> Certificate:
    """:func:`~optnet_theory.certify.certificate.certify`, through the cache at ``root``.
    A cached entry wider than ``max_gap`` is not used."""
    metric, initial = resolve_condition(method, metric, initial)
    key = cache_key(method, steps, metric, initial)
    path = (root or cache_dir()) / f"{key}.json"
    if path.is_file():
        found = _read(path, key, method, steps, metric, initial)
        if found is not None and found.relative_gap <= max_gap:
            return found
        if found is None:
            print(f"optnet: cached certificate {path} failed its checks; recomputing it",
                  file=sys.stderr)
    cert = certify(method, steps, metric=metric, initial=initial, max_gap=max_gap)
    assert cert.evidence is not None
    write_json(path, {"key": key, "certificate": cert.to_json(),
                      "evidence": cert.evidence.to_json()})
    return cert


def _read(path: Path, key: str, method: Method, steps: int, metric: str, initial: str
          ) -> Certificate | None:
    """The entry at ``path`` if it is well formed, for this key, and passes its checks."""
    try:
        data: Any = json.loads(path.read_text())
        if data["key"] != key:
            return None
        evidence = Evidence.from_json(data["evidence"])
        record = dict(data["certificate"])
        cert = Certificate(**record, evidence=evidence)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    checked = recheck(method, steps, metric, initial, evidence)
    if checked is None:
        return None
    lower, upper = checked  # the numbers shown must be the checked ones
    if (cert.lower, cert.upper) != (lower, upper) or not lower <= cert.worst_case <= upper:
        return None
    return cert
