"""``design``: the best N-step method of the dense form (18) for a class and a metric.

The N(N+1)/2 numbers h of x_{k+1} = x_k - sum_{j<=k} h_{k,j} g_j / L are optimised against the
PEP worst case: a local method (L-BFGS-B) driven by the exact gradient of the SDP value in h
(the envelope theorem, :mod:`.envelope`), from several starts (gd, the class's accelerated
method, the known optimal method where there is one, and random points near gd). The answer is
then certified like any method (:func:`optnet_theory.certify.certify`: a checked interval),
compared with the proven optimum where one is known (OGM for the function gap on smooth convex
functions, Drori 2017; ITEM for the distance on strongly convex ones, Taylor & Drori 2023) or
the best known method (OGM-G for the gradient norm from a function-gap start), and otherwise
called locally optimal.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.optimize

from optnet_theory.design.envelope import flatten, unflatten, worst_case_and_gradient
from optnet_theory.errors import OptnetError
from optnet_theory.lazy import computed_names
from optnet_theory.methods import FUNCTION_CLASSES, METRICS, get_method, get_spec, list_methods
from optnet_theory.methods.dense.history import dense_h, history_spec
from optnet_theory.validation import check_int

__all__ = ["Design", "design", "known_references", "nearest_registered"]  # and KNOWN (computed)

def known_references() -> dict[tuple[str, str, str], tuple[str, bool]]:
    """(class, metric, initial) -> (the method whose bound is the reference, whether that bound
    is a proven optimum over all fixed-step methods): each registered method's
    :attr:`~optnet_theory.methods.MethodSpec.reference_for`, read when called."""
    out: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for name in list_methods():
        for ref in get_spec(name).reference_for:
            out.setdefault((ref.function_class, ref.metric, ref.initial), (name, ref.proven))
    return out


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"KNOWN": known_references})
#: the largest horizon ``design`` accepts (820 numbers at N = 40).
MAX_STEPS = 40


@dataclass
class Design:
    """The result: h, its certificate, the reference and the provenance."""

    h: list[list[float]]
    steps: int
    function_class: str
    metric: str
    initial: str
    mu: float
    certificate: dict[str, Any]
    method: str
    optimality: str
    reference: dict[str, Any] | None
    nearest: list[dict[str, Any]]
    starts: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _start_points(N: int, cls: str, metric: str, initial: str, mu: float, starts: int,
                  rng: np.random.Generator, known_start: bool
                  ) -> list[tuple[str, list[list[float]]]]:
    from optnet_theory.methods.catalogue.optimal import TMM
    from optnet_theory.methods.catalogue.paper import AGD, GD

    # the plain method and the accelerated one of the class, then the reference
    names = [GD.name, AGD.name if cls == "smooth-convex" else TMM.name]
    known = known_references().get((cls, metric, initial))
    if known is not None and known_start:
        names.append(known[0])
    points = []
    for name in names:
        try:
            extra: dict[str, Any] = {"momentum": "theta"} if name == AGD.name else {}
            method = get_method(name, mu=mu, N=N, **extra)
            points.append((name, dense_h(method, N)))
        except OptnetError:
            continue
    while len(points) < starts:
        h = [[(1.0 if j == k else 0.0) + 0.2 * float(rng.standard_normal()) for j in range(k + 1)]
             for k in range(N)]
        points.append((f"random {len(points) - len(names) + 1}", h))
    return points[:max(starts, len(points))]


def nearest_registered(h: list[list[float]], cls: str, mu: float, top: int = 3
                       ) -> list[dict[str, Any]]:
    """The registered methods closest to ``h`` (Frobenius distance of the dense forms, units
    of 1/L), among those defined on the class."""
    N = len(h)
    x = flatten(h)
    out: list[dict[str, Any]] = []
    for name in list_methods():
        try:
            method = get_method(name, mu=mu if mu > 0 else None, N=N)
            other = dense_h(method, N)
        except OptnetError:
            continue
        out.append({"method": name, "distance": float(np.linalg.norm(x - flatten(other)))})
    return sorted(out, key=lambda d: float(d["distance"]))[:top]


def design(steps: int, function_class: str, metric: str, *, initial: str | None = None,
           mu: float = 0.0, starts: int = 4, seed: int = 0, known_start: bool = True,
           progress: bool = False) -> Design:
    """Optimise h (module docstring); raise :class:`OptnetError` for a degenerate or
    ill-posed request. ``known_start=False`` leaves the known optimal method out of the
    starts (to see whether the search finds it on its own)."""
    from optnet_theory.certify import certify

    N = check_int(steps, "--steps", 1, MAX_STEPS)
    starts = check_int(starts, "--starts", 1, 64)
    if function_class not in FUNCTION_CLASSES:
        raise OptnetError(f"--class must be one of {', '.join(FUNCTION_CLASSES)}, "
                          f"got {function_class!r}")
    if metric not in METRICS:
        raise OptnetError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    initial = initial or ("function-gap" if metric == "gradient-norm" else "distance")
    if initial not in ("distance", "function-gap"):
        raise OptnetError(f"--initial must be distance or function-gap, got {initial!r}")
    strong = function_class == "smooth-strongly-convex"
    if strong != (mu > 0) or not 0 <= mu < 1:
        raise OptnetError("the strongly convex class needs 0 < mu < 1 (L = 1); the convex one "
                          f"mu = 0; got mu = {mu} for {function_class}")
    if not strong and metric == "distance":
        raise OptnetError(
            "smooth-convex with the distance metric is degenerate: on L-smooth convex "
            "functions the worst case of ||x_N - x*||^2 is the initial radius for every "
            "method (a flat direction never moves), so there is nothing to design; use "
            "--class smooth-strongly-convex or another metric")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        ev = worst_case_and_gradient(unflatten(x, N), function_class=function_class,
                                     metric=metric, initial=initial, mu=mu)
        return ev.value, ev.gradient

    best: tuple[float, np.ndarray, str] | None = None
    tried: list[dict[str, Any]] = []
    for label, h0 in _start_points(N, function_class, metric, initial, mu, starts, rng,
                                   known_start):
        try:
            value0, _ = fun(flatten(h0))
            res = scipy.optimize.minimize(fun, flatten(h0), jac=True, method="L-BFGS-B",
                                          options={"maxiter": 300, "ftol": 1e-12,
                                                   "gtol": 1e-9})
        except OptnetError as exc:
            tried.append({"start": label, "error": str(exc)})
            continue
        tried.append({"start": label, "start_value": value0, "value": float(res.fun),
                      "evaluations": int(res.nfev)})
        if progress:
            print(f"  start {label}: {value0:.8g} -> {res.fun:.10g} ({res.nfev} evaluations, "
                  f"{time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
        if best is None or res.fun < best[0]:
            best = (float(res.fun), res.x, label)
    if best is None:
        raise OptnetError(f"no start could be optimised: {tried}")
    h = unflatten(best[1], N)
    spec = history_spec("designed", h, source="optnet design", function_class=function_class,
                        metric=metric)
    cert = certify(spec.bind(L=1.0, mu=mu), N, metric=metric, initial=initial)
    reference, optimality = _reference(function_class, metric, initial, mu, N, cert)
    return Design(h, N, function_class, metric, initial, mu, cert.to_json(),
                  f"L-BFGS-B on the PEP value with its envelope gradient, {len(tried)} starts "
                  f"(best from {best[2]})", optimality, reference,
                  nearest_registered(h, function_class, mu), tried,
                  time.perf_counter() - start)


def _reference(cls: str, metric: str, initial: str, mu: float, N: int, cert: Any
               ) -> tuple[dict[str, Any] | None, str]:
    known = known_references().get((cls, metric, initial))
    if known is None:
        return None, "locally optimal (no optimal method is known for this class and metric)"
    name, proven = known
    method = get_method(name, mu=mu if mu > 0 else None, N=N)
    assert method.spec.analytic is not None
    value = method.spec.analytic(method, N)
    assert value is not None
    bound = float(value)
    ratio = cert.worst_case / bound
    what = "the proven optimum" if proven else "the best known method"
    return ({"method": name, "bound": bound, "proven_optimal": proven, "ratio": ratio},
            f"{ratio:.8f} x the bound of {name}, {what} for this class and metric")
