"""Rates in one table: certified rates against kappa, beside the published ones.

For every variant of ``optnet rates`` (:func:`optnet_theory.rates.list_variants`, derived from
the registered methods) and kappa = L/mu in {10, 100, 1000} (L = 1;
:data:`optnet_theory.rates.KAPPAS`):

* the certified linear rate of :func:`~optnet_theory.certify.rate.certify_rate` (a quadratic
  Lyapunov function; none for a time-varying method, or where no certificate below 1 exists)
  with the worst one-dimensional quadratic's rate beneath it;
* the N-step rates (||x_N - x*||^2)^(1/(2N)) from the certified intervals of the worst case of
  ||x_N - x*||^2 at N = 10, 20, 40 (through the certificate cache), for every method, time
  varying or not;
* the published rate, where one exists (the variant's ``published``,
  :class:`optnet_theory.methods.spec.RateVariant`).

Rates overlap within certification accuracy when their intervals do: :func:`compare_rates`
says so instead of ranking them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optnet_theory.atomic import write_json
from optnet_theory.errors import OptnetError
from optnet_theory.rates import KAPPAS  # the condition numbers of the table (L = 1)

__all__ = [
    "KAPPAS",
    "TABLE_STEPS",
    "TIED",
    "certified_rates",
    "compare_rates",
    "format_table",
    "write_json_atomic",
]

#: horizons certified.
TABLE_STEPS: tuple[int, ...] = (10, 20, 40)
#: what a comparison of two overlapping intervals says.
TIED = "tied within certification accuracy"
#: the widest relative gap a table entry accepts (shown as an interval; the command's default
#: for one certificate is 1e-3).
TABLE_MAX_GAP = 0.05


def write_json_atomic(data: Any, path: Path) -> None:
    """Deprecated: :func:`optnet_theory.atomic.write_json` (``path`` first) writes the same file."""
    warnings.warn("optnet_theory.certify.table.write_json_atomic is deprecated; use "
                  "optnet_theory.atomic.write_json(path, data)", DeprecationWarning, stacklevel=2)
    write_json(path, data)


def compare_rates(a: tuple[float, float], b: tuple[float, float]) -> str:
    """"faster", "slower" (a against b) or :data:`TIED` for two rate intervals [low, high]."""
    if a[1] < b[0]:
        return "faster"
    if b[1] < a[0]:
        return "slower"
    return TIED


def certified_rates(
    *,
    cache: Path | None = None,
    kappas: tuple[float, ...] = KAPPAS,
    steps: tuple[int, ...] = TABLE_STEPS,
    variants: tuple[str, ...] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Every (variant, kappa) row: certified rate, N-step rate intervals, published rate.

    Returns ``{"kappas", "steps", "variants", "rows": {key: row}}``; a certificate that cannot
    be checked is recorded as ``{"error": why}``, never as a number.
    """
    import sys

    from optnet_theory.certify.cache import cached_certify
    from optnet_theory.certify.rate import certify_rate
    from optnet_theory.rates import rate_variants, variant_method

    known = rate_variants()
    chosen = tuple(known) if variants is None else variants
    bad = [v for v in chosen if v not in known]
    if bad:
        raise OptnetError(f"unknown variant(s) {bad}; choose from {', '.join(known)}")
    rows: dict[str, Any] = {}
    for variant in chosen:
        for kappa in kappas:
            method = variant_method(variant, 1.0, 1.0 / kappa)
            rate = certify_rate(method)
            row: dict[str, Any] = {
                "variant": variant, "kappa": kappa, "rate": rate.rate,
                "rate_lower": rate.rate_lower, "rate_reason": rate.reason, "n_step": {},
                "published": None,
            }
            published = known[variant][1].published
            if published is not None:
                formula, text, source = published
                row["published"] = {"rate": formula(kappa), "formula": text, "source": source}
            for n in steps:
                try:
                    cert = cached_certify(method, n, metric="distance", root=cache,
                                          max_gap=TABLE_MAX_GAP)
                except OptnetError as exc:
                    row["n_step"][str(n)] = {"error": str(exc)}
                    continue
                row["n_step"][str(n)] = {"rate": cert.n_step_rate, "lower": cert.lower,
                                         "upper": cert.upper, "seconds": cert.seconds}
                if progress:
                    print(f"  {variant}, kappa = {kappa:g}, N = {n}: worst case in "
                          f"[{cert.lower:.4g}, {cert.upper:.4g}] ({cert.seconds:.1f} s)",
                          file=sys.stderr, flush=True)
            rows[f"{variant}|kappa={kappa:g}"] = row
    return {"kappas": list(kappas), "steps": list(steps), "variants": list(chosen),
            "rows": rows}


def _interval(values: list[float]) -> str:
    low, high = values
    return f"{low:.4f}" if abs(high - low) < 5e-5 else f"[{low:.4f}, {high:.4f}]"


def format_table(
    table: Mapping[str, Any], measured: Mapping[tuple[str, float], int | None] | None = None
) -> str:
    """The table as Markdown. ``measured[(variant, kappa)]``: layers to epsilon from
    ``optnet rates`` (blank where not given)."""
    steps = table["steps"]
    head = ("| variant | kappa | certified rate | quadratic's rate | "
            + " | ".join(f"N-step rate, N = {n}" for n in steps)
            + " | published rate | measured layers to eps |")
    lines = [head, "|" + "---|" * (len(steps) + 6)]
    notes: dict[str, str] = {}
    for row in table["rows"].values():
        rate = "–" if row["rate"] is None else f"{row['rate']:.6f}"
        if row["rate"] is None and row["rate_reason"]:
            rate += f" ({len(notes) + 1})" if row["rate_reason"] not in notes else (
                f" ({list(notes).index(row['rate_reason']) + 1})")
            notes.setdefault(row["rate_reason"], "")
        quad = "–" if row["rate_lower"] is None else f"{row['rate_lower']:.6f}"
        cells = []
        for n in steps:
            entry = row["n_step"].get(str(n), {})
            cells.append("not certified" if "error" in entry else
                         _interval(entry["rate"]) if entry else "")
        pub = "–" if row["published"] is None else f"{row['published']['rate']:.6f}"
        got = (measured or {}).get((row["variant"], row["kappa"]))
        lines.append(f"| {row['variant']} | {row['kappa']:g} | {rate} | {quad} | "
                     + " | ".join(cells) + f" | {pub} | {'' if got is None else got} |")
    lines.append("")
    for k, reason in enumerate(notes, start=1):
        lines.append(f"({k}) {reason}")
    published = {r["variant"]: r["published"] for r in table["rows"].values() if r["published"]}
    for variant, pub in published.items():
        lines.append(f"published rate of {variant}: {pub['formula']} ({pub['source']})")
    return "\n".join(lines)
