"""Sec. 5.1 measured: layers to reach epsilon against the condition number kappa = L/mu.

Sec. 5.1 claims that the tied-weight network (7) (gradient descent on F) needs O(L/mu log 1/eps)
layers for ||x_K - x*|| <= eps, while the heavy-ball (11) and Nesterov (12)/(13) networks need
O(sqrt(L/mu) log 1/eps). Here each tied-weight network is run as the algorithm it is, on
instances with a chosen kappa, and the layer count is fitted against kappa on log-log axes
(theory: slope 1 for GD, 1/2 for HB and AGD with tuned momentum).

Instances. Phi = tanh, whose slope bounds (m, M) = (0, 1) come from
:func:`optnet_theory.energy.curvature.slope_bounds`. W = Q diag(lambda) Q^T with Q a random
orthogonal
matrix and lambda_i = (1 - 1/kappa) t_i, t_i evenly spaced in [0.01, 1]; U = sqrt(W). Then
:func:`optnet_theory.energy.curvature.curvature` gives mu = 1 - M lambda_max(W) = 1/kappa and
L = 1 - m lambda_min(W) = 1, so f of (8) is mu-strongly convex and 1-smooth: footnote 3's unit
step is admissible and kappa = L/mu exactly as chosen. F(x) = f(Ux) has the same minimiser as
the fixed point x* = Phi(W x*), found by a converged Newton solve (SciPy); x_0 = x* + a random
unit vector, so the count is layers to shrink the error by the factor eps.

Variants. GD (7); HB (11) with the unit-step optimal momentum beta = (1 - sqrt(mu))^2 (for unit
step, the condition (1 + beta - h)^2 <= 4 beta on [mu, L] with L <= 1 gives this beta and rate
1 - sqrt(mu)), with Polyak's optimum beta = ((sqrt L - sqrt mu)/(sqrt L + sqrt mu))^2 (tuned
for the step 4/(sqrt L + sqrt mu)^2, which (11) with unit step cannot take; at unit step its
slowest mode contracts by about 1 - (2 - sqrt 3) sqrt(mu), still O(sqrt kappa) layers, with a
larger constant) and with Sec. 5.3's fixed beta = 0.3; AGD (12) and AGD2 (13) with footnote 4's
constant momentum and with the theta schedule of (3); ADMM (14); and the networks of the triple
momentum method and ITEM (theory: slope 1/2). Every variant is a registered method
(:func:`variant_method`) run as its tied-weight network (:mod:`optnet_theory.methods`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.lazy import computed_names
from optnet_theory.methods import Method, MethodSpec, get_spec, list_methods
from optnet_theory.methods.spec import RateVariant
from optnet_theory.validation import check_int

__all__ = [  # and VARIANTS, computed when read (module __getattr__)
    "FULL_KAPPAS",
    "KAPPAS",
    "rate_variants",
    "variant_method",
    "list_variants",
    "Instance",
    "RatesResult",
    "build_instance",
    "format_rates",
    "layers_to_eps",
    "measure_rates",
    "run_network",
    "write_outputs",
]

#: the kappa grid {10, 100, 1000} (L = 1, mu = 1/kappa): ``optnet rates --quick``, the report's
#: quick rates and the certified-rates table (:mod:`optnet_theory.certify.table`).
KAPPAS: tuple[float, ...] = (10.0, 100.0, 1000.0)
#: the full grid of ``optnet rates`` and the report: half decades from 10 to 10^4.
FULL_KAPPAS: tuple[float, ...] = (10.0, 31.6227766, 100.0, 316.227766, 1000.0, 3162.27766,
                                  10000.0)  # fmt: skip

def rate_variants() -> dict[str, tuple[MethodSpec, RateVariant]]:
    """Every variant of the registered methods, in registry order (read when called, so a
    method registered later has its rows): variant name -> (its method, the variant)."""
    out: dict[str, tuple[MethodSpec, RateVariant]] = {}
    for name in list_methods():
        spec = get_spec(name)
        for variant in spec.rate_variants:
            out[variant.name(name)] = (spec, variant)
    return out


def list_variants() -> dict[str, tuple[str, str, float | None]]:
    """variant -> (equation, momentum choice, slope the theory predicts or None if it makes
    none), from the registered methods' :attr:`~optnet_theory.methods.MethodSpec.rate_variants`.
    """
    return {key: (v.equation, v.choice, v.slope) for key, (_, v) in rate_variants().items()}


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"VARIANTS": list_variants})


def variant_info(variant: str) -> tuple[str, str, float | None]:
    """(equation, momentum choice, predicted slope) of a variant; any other name of the method
    grammar (a method file, a family string) runs as given, with no predicted slope."""
    known = list_variants()
    if variant in known:
        return known[variant]
    spec = _grammar_spec(variant)
    return spec.equation or "(18)", "as given", None


def _grammar_spec(variant: str) -> MethodSpec:
    try:
        return get_spec(variant)
    except OptnetError:
        raise OptnetError(f"unknown variant {variant!r}; choose from "
                          f"{', '.join(list_variants())}, or give a method file (PATH.json) or "
                          f"a family string blend:A:B:T") from None


def variant_method(variant: str, L: float, mu: float, N: int | None = None) -> Method:
    """The method a variant runs, with its parameters for the instance's (L, mu); a method
    file or family string (not a variant name) runs as given, with horizon N where it needs
    one (a method file: its own)."""
    known = rate_variants()
    if variant not in known:
        spec = _grammar_spec(variant)
        horizon = None if spec.horizon is not None or not spec.needs_horizon else N
        return spec.bind(L=L, mu=mu, N=horizon)
    spec, chosen = known[variant]
    params = chosen.params(L, mu) if chosen.params is not None else {}
    return spec.bind(L=L, mu=mu, **params)


def _horizon_cap(variant: str, max_layers: int) -> int:
    """``max_layers``, or less for a method given by its dense form: a method file's own
    horizon, a family's largest (:data:`~optnet_theory.methods.dense.history.MAX_HORIZON`)."""
    from optnet_theory.methods.dense.history import MAX_HORIZON

    if variant in rate_variants():
        return max_layers
    spec = _grammar_spec(variant)
    if spec.horizon is not None:
        return min(max_layers, spec.horizon)
    return min(max_layers, MAX_HORIZON) if spec.needs_horizon else max_layers


Step = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Instance:
    """One strongly convex, 1-smooth instance of (8): W, Phi, mu, L, x*, x_0."""

    kappa: float
    W: np.ndarray
    phi: Callable[[np.ndarray], np.ndarray]
    mu: float
    L: float
    x_star: np.ndarray
    x0: np.ndarray
    solve_residual: float


def _tanh_energy() -> Any:
    from optnet_theory.energy import derive_energy

    return derive_energy("tanh")


def build_instance(kappa: float, dim: int, seed: int = 0, energy: Any = None) -> Instance:
    """W with spectrum (1 - 1/kappa) [0.01 .. 1] and Phi = tanh: mu = 1/kappa, L = 1."""
    from optnet_theory.energy.curvature import curvature

    if not (isinstance(kappa, (int, float)) and math.isfinite(kappa) and kappa > 1):
        raise OptnetError(f"kappa must be a finite number > 1, got {kappa!r}")
    check_int(dim, "dim", 2)
    energy = energy or _tanh_energy()
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((dim, dim)))
    Q = Q * np.sign(np.diag(R))  # a Haar-random orthogonal matrix
    lam = (1.0 - 1.0 / kappa) * np.linspace(0.01, 1.0, dim)
    W = (Q * lam) @ Q.T
    W = (W + W.T) / 2
    U = (Q * np.sqrt(lam)) @ Q.T
    curv = curvature(energy, U)
    if not curv.strongly_convex or curv.L > 1 + 1e-12:
        raise OptnetError(f"instance is not strongly convex with L <= 1: {curv}")
    phi = energy.phi_fn
    dphi = energy.dphi_fn
    start = rng.standard_normal(dim)
    from scipy.optimize import root  # here only: importing the module (its grids) stays cheap

    sol = root(
        lambda x: x - phi(W @ x),
        start,
        jac=lambda x: np.eye(dim) - dphi(W @ x)[:, None] * W,
        method="hybr",
        tol=1e-15,
    )
    x_star = sol.x
    residual = float(np.linalg.norm(x_star - phi(W @ x_star)))
    if not sol.success and residual > 1e-12:
        raise OptnetError(f"fixed-point solve did not converge (residual {residual:.1e})")
    direction = rng.standard_normal(dim)
    x0 = x_star + direction / np.linalg.norm(direction)
    return Instance(float(kappa), W, phi, float(curv.mu), float(curv.L), x_star, x0, residual)


def run_network(
    variant: str, inst: Instance, max_layers: int, eps: float | None = None
) -> tuple[np.ndarray, int | None]:
    """Run the tied-weight network ``variant`` from x_0 for up to ``max_layers`` layers.

    Returns (errors, hit): errors[k] = ||x_k - x*|| for the layers run, and the first k with
    errors[k] <= eps (None if not reached or eps is None). Stops at the first hit.
    """
    max_layers = _horizon_cap(variant, max_layers)
    method = variant_method(variant, inst.L, inst.mu, N=max_layers)
    errors: list[float] = []
    for k, x in enumerate(method.network_outputs(inst.phi, inst.W, inst.x0, max_layers)):
        err = float(np.linalg.norm(x - inst.x_star))
        errors.append(err)
        if not math.isfinite(err):
            break
        if eps is not None and err <= eps:
            return np.array(errors), k
    return np.array(errors), None


def layers_to_eps(variant: str, inst: Instance, eps: float, max_layers: int) -> int | None:
    """First K with ||x_K - x*|| <= eps for the tied-weight network ``variant``, or None."""
    return run_network(variant, inst, max_layers, eps)[1]


@dataclass
class RatesResult:
    kappas: list[float]
    eps: float
    dim: int
    seed: int
    instances: list[dict[str, float]] = field(default_factory=list)
    layers: dict[str, list[int | None]] = field(default_factory=dict)
    slopes: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        known = {v: variant_info(v) for v in self.layers}
        return {
            "kappas": self.kappas,
            "eps": self.eps,
            "dim": self.dim,
            "seed": self.seed,
            "activation": "tanh",
            "instances": self.instances,
            "layers": self.layers,
            "slopes": self.slopes,
            "theory": {v: known[v][2] for v in self.layers},
            "momentum": {v: known[v][1] for v in self.layers},
            "equation": {v: known[v][0] for v in self.layers},
        }


#: The least ratio max kappa / min kappa (of those reaching eps) a slope is fitted over: over a
#: narrower span the integer layer counts cannot resolve an exponent (``--kappas 10 10.5`` once
#: printed slopes near 0.8 for every method).
MIN_KAPPA_SPAN = 2.0


def _slope(kappas: Sequence[float], layers: Sequence[int | None]) -> float | None:
    """The least-squares slope of log(layers) against log(kappa) over the kappas that reached eps;
    None unless they span a factor of MIN_KAPPA_SPAN."""
    pts = [(math.log(k), math.log(n)) for k, n in zip(kappas, layers, strict=True)
           if n is not None and n > 0]
    xs = [x for x, _ in pts]
    if not pts or max(xs) - min(xs) < math.log(MIN_KAPPA_SPAN):
        return None
    ys = [y for _, y in pts]
    return float(np.polyfit(xs, ys, 1)[0])


def measure_rates(
    kappas: Sequence[float],
    eps: float = 1e-6,
    dim: int = 30,
    seed: int = 0,
    variants: Sequence[str] | None = None,
    budget: float = 6.0,
) -> RatesResult:
    """Layers to eps for every variant and kappa; log-log slopes of layers against kappa (None
    where the kappas that reached eps span less than a factor of MIN_KAPPA_SPAN).

    A run stops after ``budget * kappa * ln(1/eps) + 100`` layers (GD needs about
    ``kappa ln(1/eps)``); a variant that has not reached eps by then counts as not reached.
    ``variants``: default every variant of the registered methods (:func:`list_variants`).
    """
    known = list_variants()
    variants = tuple(known) if variants is None else variants
    if not kappas:
        raise OptnetError("give at least one kappa")
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise OptnetError(f"eps must be in (0, 1), got {eps!r}")
    bad = []
    for v in variants:
        if v not in known:
            try:
                _grammar_spec(v)
            except OptnetError:
                bad.append(v)
    if bad:
        raise OptnetError(f"unknown variant(s) {bad}; choose from {', '.join(known)}, or give "
                          f"a method file (PATH.json) or a family string blend:A:B:T")
    energy = _tanh_energy()
    result = RatesResult([float(k) for k in kappas], float(eps), dim, seed)
    result.layers = {v: [] for v in variants}
    for kappa in result.kappas:
        inst = build_instance(kappa, dim, seed, energy)
        result.instances.append({"kappa": kappa, "mu": inst.mu, "L": inst.L,
                                 "kappa_from_curvature": inst.L / inst.mu,
                                 "x_star_norm": float(np.linalg.norm(inst.x_star)),
                                 "solve_residual": inst.solve_residual})
        cap = int(budget * kappa * math.log(1.0 / eps)) + 100
        for v in variants:
            result.layers[v].append(layers_to_eps(v, inst, eps, cap))
    result.slopes = {v: _slope(result.kappas, n) for v, n in result.layers.items()}
    return result


def format_rates(result: RatesResult) -> str:
    head = ["variant", "eq.", "momentum"] + [f"κ={k:g}" for k in result.kappas] + [
        "slope", "theory"]
    lines = [
        f"Layers to ||x_K - x*|| <= {result.eps:g} (||x_0 - x*|| = 1), tanh, d={result.dim}, "
        f"mu = 1/kappa and L = 1 from optnet_theory.energy.curvature",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    known = {v: variant_info(v) for v in result.layers}
    for v, counts in result.layers.items():
        eq, mom, theory = known[v]
        cells = [str(n) if n is not None else "not reached" for n in counts]
        s = result.slopes[v]
        lines.append(f"| {v} | {eq} | {mom} | " + " | ".join(cells) + " | "
                     + (f"{s:.3f}" if s is not None else "–") + " | "
                     + (f"{theory:g}" if theory is not None else "none stated") + " |")
    return "\n".join(lines)


def write_outputs(result: RatesResult, out: Path) -> list[Path]:
    """rates.json, rates.csv and (when matplotlib is installed) rates.png."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "rates.json").write_text(json.dumps(result.to_json(), indent=1))
    known = {v: variant_info(v) for v in result.layers}
    rows = ["variant,equation,kappa,layers,slope,theory_slope"]
    for v, counts in result.layers.items():
        for k, n in zip(result.kappas, counts, strict=True):
            rows.append(f"{v},{known[v][0]},{k!r},{'' if n is None else n},"
                        f"{result.slopes[v]!r},{known[v][2]!r}")
    (out / "rates.csv").write_text("\n".join(rows) + "\n")
    written = [out / "rates.json", out / "rates.csv"]
    try:
        import matplotlib
    except ImportError:
        return written
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (v, counts) in enumerate(result.layers.items()):
        pts = [(k, n) for k, n in zip(result.kappas, counts, strict=True) if n is not None]
        if pts:
            s = result.slopes[v]
            label = f"{v} {known[v][0]}" + (f", slope {s:.2f}" if s is not None else "")
            ax.loglog(*zip(*pts, strict=True), marker="o", color=f"C{i}", label=label)
    ax.set_xlabel("κ = L/μ")
    ax.set_ylabel(f"layers to ||x_K − x*|| ≤ {result.eps:g}")
    ax.set_title("Sec. 5.1: layers needed by the tied-weight networks")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rates.png", dpi=120)
    plt.close(fig)
    written.append(out / "rates.png")
    return written
