"""Rates in one table: certified worst cases against kappa, beside the published rates.

For each method with a strongly convex variant and kappa = L/mu in {10, 100, 1000} (L = 1), the
PEP worst case of ||x_N - x*||^2 from ||x_0 - x*||^2 <= 1 (the quantity ``optnet rates``
measures on energies (8)) at N = 10, 20, 40; the per-step factor it implies,
(wc_40 / wc_20)^(1/20); and the published per-step factor of the same quantity. A column for the
measured layers-to-epsilon of ``optnet rates`` is filled by :func:`format_table`'s
``measured``. SDPs at N = 40 take tens of seconds each, so results are cached in a JSON file
(one entry per certificate, written atomically after each).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from optnet_theory.errors import OptnetError

__all__ = [
    "DEFAULT_TABLE",
    "KAPPAS",
    "ROWS",
    "TABLE_STEPS",
    "certified_rates",
    "format_table",
]

#: the cache file of ``optnet certify --table``.
DEFAULT_TABLE = Path("benchmarks/certified_rates.json")
#: condition numbers of the table (L = 1, mu = 1/kappa).
KAPPAS: tuple[float, ...] = (10.0, 100.0, 1000.0)
#: horizons certified.
TABLE_STEPS: tuple[int, ...] = (10, 20, 40)


def _sqrt_rate(kappa: float) -> float:
    return 1.0 - 1.0 / math.sqrt(kappa)


#: row -> (registered method, its parameters at (L, mu), published per-step factor of
#: ||x_N - x*||^2 as a function of kappa, where that factor comes from).
ROWS: dict[str, tuple[str, Callable[[float, float], dict[str, Any]], Callable[[float], float], str]]
ROWS = {
    "gd": (
        "gd", lambda L, mu: {}, lambda k: (1.0 - 1.0 / k) ** 2,
        "(1 - 1/kappa)^2, step 1/L (Nesterov 2004, Thm 2.1.15 argument)",
    ),
    "hb-tuned": (
        "hb", lambda L, mu: {"beta": (1.0 - math.sqrt(mu / L)) ** 2},
        lambda k: _sqrt_rate(k) ** 2,
        "(1 - 1/sqrt(kappa))^2 on quadratics (step 1/L, beta = (1 - sqrt(mu/L))^2, as in "
        "optnet rates; Polyak 1964); no global guarantee (Lessard, Recht & Packard 2016)",
    ),
    "agd-fn4": (
        "agd", lambda L, mu: {"momentum": "constant"}, _sqrt_rate,
        "1 - 1/sqrt(kappa) on f - f* + mu/2 ||x - x*||^2 (Nesterov 2004, footnote 4's beta)",
    ),
    "tmm": (
        "tmm", lambda L, mu: {}, lambda k: _sqrt_rate(k) ** 2,
        "rho^2 = (1 - 1/sqrt(kappa))^2 (Van Scoy, Freeman & Lynch 2018)",
    ),
    "item": (
        "item", lambda L, mu: {}, lambda k: _sqrt_rate(k) ** 2,
        "1/(1 + q A_N), i.e. (1 - 1/sqrt(kappa))^2 per step asymptotically (Taylor & Drori)",
    ),
}


def _key(row: str, kappa: float, steps: int) -> str:
    return f"{row}|kappa={kappa:g}|N={steps}"


def write_json_atomic(data: Any, path: Path) -> None:
    """``data`` as JSON at ``path``: a temporary file renamed into place (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise OptnetError(f"{path} is not a certified-rates cache (bad JSON: {exc})") from None
    if not isinstance(data, dict):
        raise OptnetError(f"{path} is not a certified-rates cache (expected a JSON object)")
    return data


def certified_rates(
    *,
    cache: Path | None = DEFAULT_TABLE,
    kappas: tuple[float, ...] = KAPPAS,
    steps: tuple[int, ...] = TABLE_STEPS,
    rows: tuple[str, ...] = tuple(ROWS),
    progress: bool = False,
) -> dict[str, Any]:
    """Every (row, kappa, N) certificate, from ``cache`` where present, computed otherwise.

    Returns ``{"kappas", "steps", "rows", "entries": {key: certificate record}}``.
    """
    from optnet_theory.certify import certify
    from optnet_theory.methods import get_method

    bad = [r for r in rows if r not in ROWS]
    if bad:
        raise OptnetError(f"unknown table row(s) {bad}; choose from {', '.join(ROWS)}")
    entries: dict[str, Any] = dict(_read(cache).get("entries", {})) if cache else {}
    for row in rows:
        name, params, _, _ = ROWS[row]
        for kappa in kappas:
            L, mu = 1.0, 1.0 / kappa
            for n in steps:
                key = _key(row, kappa, n)
                if key in entries:
                    continue
                cert = certify(get_method(name, L=L, mu=mu, **params(L, mu)), n, metric="distance")
                entries[key] = {"row": row, "kappa": kappa, **cert.to_json()}
                if progress:
                    print(f"  {key}: {cert.worst_case:.6g} ({cert.seconds:.1f} s)", flush=True)
                if cache:
                    write_json_atomic({"entries": entries}, cache)
    return {"kappas": list(kappas), "steps": list(steps), "rows": list(rows), "entries": entries}


def format_table(
    table: Mapping[str, Any], measured: Mapping[tuple[str, float], int | None] | None = None
) -> str:
    """The table as Markdown. ``measured[(row, kappa)]``: layers to epsilon from ``optnet rates``
    (blank where not given)."""
    steps = table["steps"]
    head = (
        "| method | kappa | "
        + " | ".join(f"certified ||x_N - x*||^2, N = {n}" for n in steps)
        + " | certified factor per step | published factor per step | measured layers to eps |"
    )
    lines = [head, "|" + "---|" * (len(steps) + 5)]
    for row in table["rows"]:
        published = ROWS[row][2]
        for kappa in table["kappas"]:
            found = [table["entries"].get(_key(row, kappa, n), {}) for n in steps]
            values = [entry.get("worst_case") for entry in found]
            cells = ["" if v is None else f"{v:.4g}" for v in values]
            a, b = values[-2], values[-1]
            factor = (
                f"{(b / a) ** (1.0 / (steps[-1] - steps[-2])):.4f}"
                if a is not None and b is not None and a > 0 and b > 0
                else ""
            )
            got = (measured or {}).get((row, kappa))
            lines.append(
                f"| {row} | {kappa:g} | " + " | ".join(cells)
                + f" | {factor} | {published(kappa):.4f} | {'' if got is None else got} |"
            )
    lines.append("")
    lines.append("published factors: " + "; ".join(f"{r}: {ROWS[r][3]}" for r in table["rows"]))
    return "\n".join(lines)
