"""The method a trained multistep network defines, and the registered method nearest to it.

The relaxation of Sec. 6 ("Relax Phi and W") replaces the gradient step of a method, which on f
of (8) is Phi(W y) = y - grad f(y) (Lemma 1, L = 1 by footnote 3), by a learned operator T.
Reading it backwards, T is the gradient step G(y) = y - grad f(y)/L, and a network's
coefficient table is a method:

* (16), x_{k+1} = T(x_k) + beta1_k x_k + beta2_k x_{k-1} (HB-Net, ResNet), is

      x_{k+1} = (1 + beta1_k) x_k + beta2_k x_{k-1} - grad f(x_k)/L,

  the heavy ball (2) with momentum beta exactly when beta1_k = beta, beta2_k = -beta
  (HB-Net: beta = 1); state (x_k, x_{k-1}), x_{-1} = x_0;
* (17) over T(y) + y (HB-Net option ``structure="nesterov"``), x_{k+1} = T(y_k) + y_k with
  y_k = beta1_k x_k + beta2_k x_{k-1}, reads T(y) + y as the gradient step:

      x_{k+1} = y_k - grad f(y_k)/L,   y_k = beta1_k x_k + beta2_k x_{k-1},

  Nesterov's (3) when beta1_k = 1 + beta_k, beta2_k = -beta_k.

x* is a fixed point of G, so such a method keeps x* fixed (its consistency condition) exactly
when 1 + beta1_k + beta2_k = 1 in (16) and beta1_k + beta2_k = 1 in (17), at every layer. A
stage that restarts its momentum (``momentum="restart"``) sets x_{k-1} = x_k before its first
layer. An activation after the sum (ResNet's ReLU) is not part of the linear method.

Nearness is measured on the dense form (:mod:`optnet_theory.methods.dense`), which does not
depend on how a method writes its state: every gradient point y_j = c_j x_0 - sum_i g_{j,i} u_i
and the output. The distance of two methods over the same number J of gradient calls is the
Frobenius norm of the difference of their (c, L g) rows (the J gradient points) and of their
final output rows, divided by sqrt(J + 1)
(an RMS per point, in units of the step 1/L).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods import MethodSpec, Params, Step, get_spec, list_methods
from optnet_theory.methods.catalogue.paper import HB
from optnet_theory.methods.core import Method
from optnet_theory.methods.dense import dense_form

__all__ = [
    "CONSISTENCY_TOL",
    "RULES",
    "LearnedReport",
    "LearnedSchedule",
    "MethodDistance",
    "learned_method",
    "method_distance",
    "nearest_methods",
    "report_learned",
]

#: |beta1 + beta2 - offset| below which a learned schedule counts as keeping x* fixed.
CONSISTENCY_TOL = 1e-9

#: relaxation rules a learned table can be read back through -> the equation it relaxes.
RULES: dict[str, str] = {
    "16": "(16) x[k+1] = T(x[k]) + beta1 x[k] + beta2 x[k-1], T = gradient step",
    "17": "(17) x[k+1] = T(y) + y, y = beta1 x[k] + beta2 x[k-1], T(y) + y = gradient step",
}


@dataclass(frozen=True)
class LearnedSchedule:
    """A trained network's coefficients, one (beta1_k, beta2_k) per layer k, in order.

    ``restarts``: the layers whose stage restarts the momentum (x_{k-1} = x_k first).
    """

    rule: str
    beta1: tuple[float, ...]
    beta2: tuple[float, ...]
    restarts: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise OptnetError(
                f"unknown relaxation rule {self.rule!r}; accepted: {', '.join(RULES)}"
            )
        if len(self.beta1) != len(self.beta2) or not self.beta1:
            raise OptnetError(
                f"a learned schedule needs one beta1 and one beta2 per layer, got "
                f"{len(self.beta1)} and {len(self.beta2)}"
            )
        if not all(math.isfinite(v) for v in self.beta1 + self.beta2):
            raise OptnetError("the learned coefficients are not all finite")

    @property
    def depth(self) -> int:
        return len(self.beta1)

    def _offset(self) -> float:
        """The sum beta1 + beta2 that keeps x* fixed: 0 in (16), 1 in (17)."""
        return 1.0 if self.rule == "17" else 0.0

    def _sums(self) -> list[float]:
        pairs = zip(self.beta1, self.beta2, strict=True)
        return [b1 + b2 - self._offset() for b1, b2 in pairs]

    def consistency(self) -> float:
        """The largest |beta1_k + beta2_k - offset| over the layers (0: x* is kept fixed)."""
        return max(abs(s) for s in self._sums())

    def consistent_part(self) -> LearnedSchedule:
        """The nearest consistent schedule (least squares per layer, restarts kept)."""
        shift = [s / 2 for s in self._sums()]
        return LearnedSchedule(
            self.rule,
            tuple(b - s for b, s in zip(self.beta1, shift, strict=True)),
            tuple(b - s for b, s in zip(self.beta2, shift, strict=True)),
            self.restarts,
        )


def _schedule(learned: LearnedSchedule) -> Any:
    def schedule(j: int, p: Params) -> Step:
        k = j % learned.depth  # beyond the trained depth the schedule repeats
        one, zero = p.ar.one(), p.ar.zero()
        b1, b2 = p.ar.num(learned.beta1[k]), p.ar.num(learned.beta2[k])
        s = one / p.L
        # momentum restart: the state (x_k, x_{k-1}) becomes (x_k, x_k) before this layer
        restart = k in learned.restarts
        if learned.rule == "16":
            row = (one + b1 + b2, zero) if restart else (one + b1, b2)
            return Step(A=(row, (one, zero)), B=(-s, zero), C=(one, zero), D=(one, zero))
        c = (b1 + b2, zero) if restart else (b1, b2)
        return Step(A=(c, (one, zero)), B=(-s, zero), C=c, D=(one, zero))

    return schedule


def learned_method(
    learned: LearnedSchedule, *, name: str = "learned", L: float = 1.0, mu: float = 0.0
) -> Method:
    """The method of ``learned`` (module docstring), step 1/L, state (x_k, x_{k-1}).

    Its schedule has period ``learned.depth``: asked for more iterations than the network has
    layers, it runs the trained layers again (the network applied twice).
    """
    spec = MethodSpec(
        name=name,
        source=f"coefficients of a trained network read back through {RULES[learned.rule]}",
        function_class="smooth-convex",
        slots=("x_k", "x_{k-1}"),
        initial=(1.0, 1.0),
        schedule=_schedule(learned),
        output="x",
        metric="function-gap",
        guarantee="none published: the PEP certificate is its guarantee",
    )
    return spec.bind(L=L, mu=mu)


@dataclass(frozen=True)
class MethodDistance:
    """Distance (module docstring) from a method to the registered ``name`` (with ``params``)."""

    name: str
    params: dict[str, Any]
    distance: float


def _rows(method: Method, calls: int) -> np.ndarray:
    iterations = calls // method.spec.substeps
    form = dense_form(method, iterations)
    # rows 0..J-1: the gradient points (row J is only a read-out of C, not a query)
    grads = np.column_stack([form.c[:-1], method.L * form.g[:-1]])
    outs = np.column_stack([form.output_c[-1:], method.L * form.output_g[-1:]])
    return np.vstack([grads, outs]).astype(float)


def method_distance(a: Method, b: Method, calls: int) -> float:
    """The dense-form distance of ``a`` and ``b`` over ``calls`` gradient evaluations."""
    ra, rb = _rows(a, calls), _rows(b, calls)
    return float(np.linalg.norm(ra - rb) / math.sqrt(ra.shape[0]))


def nearest_methods(method: Method, calls: int) -> list[MethodDistance]:
    """Every registered method that can run ``calls`` gradient evaluations at ``method``'s
    (L, mu) with its default parameters (horizon N = its iterations), nearest first.

    Methods that refuse these constants (tmm and item need mu > 0) or whose sub-steps do not
    divide ``calls`` are left out.
    """
    out = []
    for name in list_methods():
        spec = get_spec(name)
        if calls % spec.substeps:
            continue
        try:
            other = spec.bind(L=method.L, mu=method.mu)
        except OptnetError:
            continue
        out.append(MethodDistance(name, dict(other.params), method_distance(method, other, calls)))
    return sorted(out, key=lambda d: d.distance)



@dataclass(frozen=True)
class LearnedReport:
    """What a learned schedule is as a method: certificates at its depth and twice it, the
    same for its nearest consistent schedule, and the registered methods nearest to it."""

    schedule: LearnedSchedule
    L: float
    mu: float
    defect: float
    certificates: list[dict[str, Any]]
    consistent_certificates: list[dict[str, Any]]
    nearest: list[MethodDistance]

    @property
    def convergent(self) -> bool:
        return self.defect <= CONSISTENCY_TOL

    def to_json(self) -> dict[str, Any]:
        s = self.schedule
        return {
            "rule": RULES[s.rule],
            "depth": s.depth,
            "beta1": list(s.beta1),
            "beta2": list(s.beta2),
            "restarts": sorted(s.restarts),
            "L": self.L,
            "mu": self.mu,
            "consistency_defect": self.defect,
            "keeps_minimiser_fixed": self.convergent,
            "certificates": self.certificates,
            "consistent_part_certificates": self.consistent_certificates,
            "nearest": [
                {"method": d.name, "params": d.params, "distance": d.distance}
                for d in self.nearest
            ],
        }

    def format(self) -> str:
        s = self.schedule
        lines = [
            f"relaxation rule {RULES[s.rule]}; {s.depth} layers",
            "  beta1 = [" + ", ".join(f"{v:.4f}" for v in s.beta1) + "]",
            "  beta2 = [" + ", ".join(f"{v:.4f}" for v in s.beta2) + "]",
        ]
        if self.convergent:
            lines.append("x* is kept fixed: the coefficients define a consistent method")
        else:
            lines.append(
                f"NOT a convergent method: beta1 + beta2 misses its fixed-point value by up to "
                f"{self.defect:.3g}, so x* is not a fixed point of the learned scheme"
            )
        for title, certs in (
            ("certified worst case", self.certificates),
            ("nearest consistent schedule (beta1, beta2 shifted equally)",
             self.consistent_certificates),
        ):
            lines.append(title + ":")
            for c in certs:
                value = "none" if c["worst_case"] is None else f"{c['worst_case']:.6g}"
                why = f" ({c['error']})" if c.get("error") else ""
                lines.append(f"  N = {c['steps']}: f(x_N) - f* <= {value} ||x_0 - x*||^2{why}")
            finite = [c["worst_case"] for c in certs if c["worst_case"] is not None]
            if len(finite) == 2 and finite[1] > finite[0]:
                lines.append("  the worst case grows from depth D to 2D: not convergent here")
        lines.append("nearest registered methods (dense-form distance, step units of 1/L):")
        for d in self.nearest[:3]:
            lines.append(f"  {d.name} {d.params}: {d.distance:.4f}")
        return "\n".join(lines)


def _certificates(method: Method, depths: tuple[int, ...]) -> list[dict[str, Any]]:
    from optnet_theory.certify import certify, require_solver

    require_solver()  # a missing extra is an error, not a property of the method
    out = []
    for n in depths:
        try:
            cert = certify(method, n)
        except OptnetError as exc:
            out.append({"steps": n, "worst_case": None, "error": str(exc)})
            continue
        out.append({**cert.to_json(), "error": None})
    return out


def report_learned(learned: LearnedSchedule, *, L: float = 1.0, mu: float = 0.0) -> LearnedReport:
    """Certify ``learned`` at its depth D and at 2D, and its nearest consistent schedule; rank
    the registered methods by distance over D gradient calls."""
    method = learned_method(learned, L=L, mu=mu)
    depths = (learned.depth, 2 * learned.depth)
    consistent = learned_method(learned.consistent_part(), name="learned-consistent", L=L, mu=mu)
    return LearnedReport(
        schedule=learned,
        L=L,
        mu=mu,
        defect=learned.consistency(),
        certificates=_certificates(method, depths),
        consistent_certificates=_certificates(consistent, depths),
        nearest=sorted(
            nearest_methods(method, learned.depth) + _fitted_hb(method, learned),
            key=lambda d: d.distance,
        ),
    )


def _fitted_hb(method: Method, learned: LearnedSchedule) -> list[MethodDistance]:
    """hb (2) with the mean momentum of the consistent part of a (16) schedule (rule (16) only:
    beta1 = beta, beta2 = -beta is hb with momentum beta, so its mean is the best constant)."""
    if learned.rule != "16":
        return []
    part = learned.consistent_part()
    beta = sum(part.beta1) / part.depth
    other = HB.bind(L=method.L, mu=method.mu, beta=beta)
    distance = method_distance(method, other, learned.depth)
    return [MethodDistance(HB.name, dict(other.params), distance)]
