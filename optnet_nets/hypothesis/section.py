"""Sec. 5's hypothesis, measured: does a method's certified speed rank its networks' quality?

The paper ranks methods by their theoretical speed (GD slower than HB, HB slower than Nesterov)
and expects the networks they inspire to rank the same way. Here every number comes from a run
file or is computed from the method descriptions:

- **certified speed**: from the checked interval of the worst case
  (:func:`optnet_theory.certify.certify`) after N = ``CERTIFIED_STEPS`` iterations from
  ||x_0 - x*||^2 <= 1, each method with the parameters its Table-2 network used, on two
  classes (one class for all methods, so the numbers compare): on L-smooth mu-strongly convex
  f (L = 1, the mu the Table-2 run gave tmm and item) the N-step rate
  (||x_N - x*||^2)^(1/(2N)), available for time-varying methods too, never a worst case close
  to zero; on L-smooth convex f (L = 1; tmm and item, which need mu > 0, are left out) the
  worst case of f(x_N) - f*. Each is an interval; methods whose intervals overlap are tied
  ("tied within certification accuracy"). Which class is "the" speed of a method is a choice
  the paper does not make, so both rankings are tested. Cached in the certificate cache;
- **measured rate**: layers to epsilon of the tied-weight network on the energies of
  ``optnet rates`` (``rates.json``, at :data:`RATES_KAPPA`);
- **Table-2 MSE**: per seed, from ``optnet simulate``'s ``results.json`` (or its partial files);
- **image error**: final test error per seed of the method-nets in ``optnet study`` summaries.

For each quality measure: Spearman's rank correlation with the certified speed (the
hypothesis predicts rho > 0: a faster method, a smaller error), quality means closer than the
standard error of their paired difference being ties, a 95 % bootstrap interval over seeds (the same
resampled seeds for every method, so the comparison stays paired), and an exact permutation
p-value over the methods (with 7-9 methods a rho of 0.5 can arise by chance; the seed
bootstrap does not see that, and with 3 seeds it has only 10 distinct resamples). The verdict
(:func:`optnet_nets.hypothesis.rank_statistics.verdict`): "undecidable by design" with n <= 4
methods
(no permutation can reach p < 0.05: 2/n! >= 0.083); "supported" when rho > 0, the interval
lies above 0 and p < 0.05; "contradicted" when rho < 0, the interval lies below 0 and
p < 0.05; otherwise "not resolved at this budget".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optnet_nets.hypothesis.rank_statistics import (
    NOT_RESOLVED,
    bootstrap_spearman,
    interval_ranks,
    paired_tied_ranks,
    permutation_p,
    spearman,
    verdict,
)
from optnet_theory.errors import OptnetError
from optnet_theory.lazy import computed_names

__all__ = [
    "CERTIFIED_STEPS",
    "RATES_KAPPA",
    "image_methods",
    "rates_variant",
    "Correlation",
    "Hypothesis",
    "format_hypothesis",
    "measure_hypothesis",
]

#: iterations of the certificates that rank the methods.
CERTIFIED_STEPS = 10
#: the condition number at which ``optnet rates``' layers-to-epsilon are compared.
RATES_KAPPA = 100.0


def rates_variant() -> dict[str, str]:
    """Table-2 structure -> the ``optnet rates`` variant that runs the same method and
    parameters (each method's variant marked ``table2``), read when called."""
    from optnet_theory.methods import get_spec, list_methods

    out = {}
    for name in list_methods():
        for variant in get_spec(name).rate_variants:
            if variant.table2:
                out[name] = variant.name(name)
    return out


def image_methods() -> dict[str, tuple[str, dict[str, Any]]]:
    """Method-net model prefix in a study -> the method (with the parameters the net uses):
    HB-Net's heavy ball (beta = 1, step 1), then every method's family by Sec. 6's rule
    (its ``network_prefix``), read when called."""
    from optnet_theory.methods import get_spec, list_methods
    from optnet_theory.methods.catalogue.paper import HB

    out: dict[str, tuple[str, dict[str, Any]]] = {"hbnet": (HB.name, {"beta": 1.0, "step": 1.0})}
    for name in list_methods():
        prefix = get_spec(name).network_prefix
        if prefix is not None:
            out[prefix] = (name, {})
    return out


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(
    __name__, {"RATES_VARIANT": rates_variant, "IMAGE_METHODS": image_methods}
)


@dataclass
class Correlation:
    """One quality measure against the certified worst case."""

    measure: str
    methods: list[str]
    rho: float
    low: float | None
    high: float | None
    p: float | None
    verdict: str
    note: str = ""


#: the classes the methods are ranked on: label -> (mu of the class, or None for the run's
#: mu; metric of the certificate).
CLASSES: dict[str, tuple[float | None, str]] = {
    "strongly convex (run's mu), ||x_N - x*||^2": (None, "distance"),
    "smooth convex, f(x_N) - f*": (0.0, "function-gap"),
}


@dataclass
class Hypothesis:
    """Everything the report's hypothesis section shows."""

    mu: float
    steps: int
    certified: dict[str, dict[str, tuple[float, float]]]
    rates: dict[str, int | None] = field(default_factory=dict)
    mse: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    image: dict[str, dict[str, Any]] = field(default_factory=dict)
    correlations: list[Correlation] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "mse": {str(k): v for k, v in self.mse.items()}}


# ----------------------------------------------------------------------------- run files
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OptnetError(f"cannot read {path}: {exc}") from None


def _simulation_runs(sim_dir: Path) -> list[dict[str, Any]]:
    results = sim_dir / "results.json"
    if results.is_file():
        return list(_read_json(results)["runs"])
    runs = [_read_json(p) for p in sorted((sim_dir / "partial").glob("depth*_seed*.json"))]
    if not runs:
        raise OptnetError(f"no Table-2 run files under {sim_dir} (results.json or partial/*.json)")
    return runs


def _certified(
    methods: Mapping[str, dict[str, Any]], mu: float, steps: int, metric: str = "distance",
) -> dict[str, tuple[float, float]]:
    """Certified speed interval of each method defined on the class (L = 1, mu): the N-step
    rate for mu > 0, the worst case of ``metric`` for mu = 0 (module docstring)."""
    from optnet_theory.certify.cache import cached_certify
    from optnet_theory.methods import get_method, get_spec

    out: dict[str, tuple[float, float]] = {}
    for name, params in methods.items():
        spec = get_spec(name)
        if mu == 0 and spec.function_class == "smooth-strongly-convex":
            continue  # tmm, item: not defined without strong convexity
        clean = {k: v for k, v in params.items() if k not in ("L", "mu")}
        tuned = float(params.get("mu", mu))  # tmm/item keep the mu their network used
        horizon = steps if spec.needs_horizon else None
        method = get_method(name, L=1.0, mu=tuned if tuned else mu, N=horizon, **clean)
        cert = cached_certify(_on_class(method, mu), steps, metric=metric)
        low, high = (cert.n_step_rate if mu > 0 else (cert.lower, cert.upper))
        out[name] = (float(low), float(high))
    return out


def _on_class(method: Any, mu: float) -> Any:
    """``method`` with its coefficients unchanged but certified on the class with this mu."""
    from optnet_theory.methods.core import Method

    if method.mu == mu:
        return method
    bound = Method(method.spec, L=method.L, mu=method.mu, N=method.N, params=dict(method.params))
    bound.mu = mu  # the class of the certificate; the schedule was built from method.mu
    return _FrozenSchedule(bound, method)


class _FrozenSchedule:
    """A bound method whose coefficients come from another binding (same spec)."""

    def __init__(self, certified_as: Any, source: Any) -> None:
        self._as, self._source = certified_as, source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._as, name)

    def coefficients(self, iterations: int, **kw: Any) -> Any:
        return self._source.coefficients(iterations, **kw)


def _studies(runs_dir: Path) -> dict[str, dict[str, Any]]:
    """Per method-net model of any study: its method and final test errors by seed."""
    found: dict[str, dict[str, Any]] = {}
    nets = image_methods()
    for path in sorted(runs_dir.rglob("study.json")):
        data = _read_json(path)
        for rec in data.get("runs") or []:
            model = str(rec.get("model", ""))
            prefix = model.rstrip("0123456789")
            if prefix not in nets or not rec.get("finished"):
                continue
            entry = found.setdefault(model, {"method": nets[prefix][0], "errors": [],
                                             "seeds": [], "study": str(path)})
            entry["errors"].append(float(rec["final_test_error"]))
            entry["seeds"].append(int(rec["seed"]))
    return found


def measure_hypothesis(
    sim_dir: Path,
    rates_dir: Path | None = None,
    runs_dir: Path | None = None,
    *,
    steps: int = CERTIFIED_STEPS,
) -> Hypothesis:
    """Compute the section from a Table-2 run (required), a rates run and studies (optional)."""
    runs = _simulation_runs(sim_dir)
    methods: dict[str, dict[str, Any]] = dict(runs[0].get("methods") or {})
    if not methods:
        raise OptnetError(f"{sim_dir}: the run files do not record their methods' parameters")
    mus = [p["mu"] for p in methods.values() if "mu" in p]
    if not mus:
        raise OptnetError(f"{sim_dir}: no strongly convex method (tmm, item) gives a mu")
    mu = float(mus[0])
    certified = {
        label: _certified(methods, mu if cmu is None else cmu, steps, metric)
        for label, (cmu, metric) in CLASSES.items()
    }
    result = Hypothesis(mu=mu, steps=steps, certified=certified)
    depths = sorted({int(r["depth"]) for r in runs})
    for depth in depths:
        rows = sorted((r for r in runs if int(r["depth"]) == depth), key=lambda r: r["seed"])
        result.mse[depth] = {m: [float(r["mse"][m]) for r in rows] for m in methods}
        for label, cert in certified.items():
            result.correlations.append(
                _correlation(f"Table-2 MSE, depth {depth} vs {label}", cert, result.mse[depth],
                             f"{len(rows)} seeds"))
    if rates_dir is not None and (rates_dir / "rates.json").is_file():
        rates = _read_json(rates_dir / "rates.json")
        kappas = [float(k) for k in rates["kappas"]]
        if RATES_KAPPA in kappas:
            i = kappas.index(RATES_KAPPA)
            for m, v in rates_variant().items():
                if m in methods and v in rates["layers"]:
                    result.rates[m] = rates["layers"][v][i]
            for label, cert in certified.items():
                have = [m for m in result.rates if result.rates[m] is not None and m in cert]
                if len(have) >= 3:
                    a = interval_ranks([cert[m] for m in have])
                    b = [float(result.rates[m] or 0) for m in have]
                    p = permutation_p(a, b)
                    result.correlations.append(Correlation(
                        f"layers to eps at kappa = {RATES_KAPPA:g} vs {label}", have,
                        spearman(a, b), None, None, p,
                        "agree" if p < 0.05 else f"not resolved (permutation p = {p:.2f})",
                        "deterministic instances: no seeds to resample"))
    if runs_dir is not None:
        result.image = _studies(runs_dir)
        by_method = {v["method"]: v for v in result.image.values()}
        if len(by_method) >= 3:
            per_seed = {m: v["errors"] for m, v in by_method.items()}
            for label, (cmu, metric) in CLASSES.items():
                params = {name: p for name, p in image_methods().values()}
                cert = _certified({m: params[m] for m in by_method},
                                  mu if cmu is None else cmu, steps, metric)
                result.correlations.append(_correlation(
                    f"image test error (studies) vs {label}", cert, per_seed, "final errors"))
        elif by_method:
            result.correlations.append(Correlation(
                "image test error (studies)", list(by_method), float("nan"), None, None,
                None, NOT_RESOLVED,
                f"only {len(by_method)} method-net(s) trained; a rank needs >= 3"))
    return result


def _correlation(measure: str, cert: Mapping[str, tuple[float, float]],
                 per_seed: Mapping[str, Sequence[float]], note: str) -> Correlation:
    names = [m for m in cert if m in per_seed]
    if len(names) < 3:
        return Correlation(measure, names, float("nan"), None, None, None,
                           verdict(float("nan"), None, None, 1.0, len(names)),
                           f"{note}; a rank needs >= 3 methods")
    cert_ranks = interval_ranks([cert[m] for m in names])
    table = np.array([per_seed[m] for m in names], dtype=float)
    quality = paired_tied_ranks(table)
    rho, lo, hi = bootstrap_spearman({m: 0.0 for m in names}, per_seed,
                                     certified_ranks=cert_ranks)
    p = permutation_p(cert_ranks, quality, ranked=True)
    return Correlation(measure, names, rho, lo, hi, p, verdict(rho, lo, hi, p, len(names)),
                       note)


def _interval(iv: Sequence[float]) -> str:
    low, high = iv
    return f"{low:.4g}" if high - low <= 1e-4 * abs(high) else f"[{low:.4g}, {high:.4g}]"


def format_hypothesis(h: Hypothesis) -> str:
    """Markdown: the per-method table, then one line per correlation with its verdict."""
    labels = list(h.certified)
    first = h.certified[labels[0]]
    depths = sorted(h.mse)
    head = ["method"] + [f"certified, {lab} (N={h.steps})" for lab in labels] + [
        f"layers to ε (κ={RATES_KAPPA:g})"] + [f"MSE depth {d}" for d in depths]
    lines = [f"Class mu of the run: {h.mu:.4g} (L = 1).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in sorted(first, key=lambda k: sum(first[k])):
        cells = [m] + [_interval(h.certified[lab][m]) if m in h.certified[lab] else "–"
                       for lab in labels] + [str(h.rates.get(m, "–"))]
        for d in depths:
            v = np.asarray(h.mse[d][m])
            cells.append(f"{v.mean():.5f} ± {v.std(ddof=1) if len(v) > 1 else 0:.5f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| quality measure | methods | Spearman ρ | 95 % seed-bootstrap interval | "
                 "permutation p | verdict |")
    lines.append("|---|---|---|---|---|---|")
    for c in h.correlations:
        interval = "–" if c.low is None else f"[{c.low:+.2f}, {c.high:+.2f}]"
        note = f" ({c.note})" if c.note else ""
        pv = "–" if c.p is None else f"{c.p:.3f}"
        lines.append(f"| {c.measure}{note} | {len(c.methods)} | {c.rho:+.2f} | {interval} | "
                     f"{pv} | {c.verdict} |")
    return "\n".join(lines)
