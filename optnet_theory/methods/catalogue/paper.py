"""The paper's methods (1)-(6) as descriptions: gd, hb, agd, agd2, admm.

Each is the one hand-written definition of its network structure: (7), (11), (12), (13) and
(14) are generated from these by :meth:`~optnet_theory.methods.core.Method.network`. The step is
1/L (footnote 3: L = 1 after scaling f, the paper's unit step); the ADMM penalty is 1
(footnote 7).
"""

from __future__ import annotations

import math
from typing import Any

from optnet_theory.coefficients import nesterov_beta, strongly_convex_beta, tuned_hb_beta
from optnet_theory.errors import OptnetError
from optnet_theory.methods.core import Method
from optnet_theory.methods.spec import MethodSpec, Params, RateVariant, Step
from optnet_theory.paper_values import SIMULATION_HB_BETA

__all__ = ["ADMM", "AGD", "AGD2", "GD", "HB", "PAPER_METHODS", "agd2_step", "agd_step"]

_PAPER = "Li, Yang, Chen, Lin 2018"


def _inverse_L(L: float, _mu: float) -> float:
    """1/L"""
    return 1.0 / L


def _hb_tuned(L: float, mu: float) -> dict[str, Any]:
    """the unit-step optimal momentum (1 - sqrt(h mu))^2 for step h = 1/L"""
    return {"beta": tuned_hb_beta(1.0 / L, mu), "step": 1.0 / L}


def _hb_polyak(L: float, mu: float) -> dict[str, Any]:
    return {"beta": strongly_convex_beta(L, mu) ** 2, "step": 1.0 / L}


def _hb_quadratic(L: float, mu: float) -> dict[str, Any]:
    return {"beta": strongly_convex_beta(L, mu) ** 2,
            "step": 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2}


def _hb_table2(L: float, _mu: float) -> dict[str, Any]:
    return {"beta": SIMULATION_HB_BETA, "step": 1.0 / L}


def _constant_momentum(_L: float, _mu: float) -> dict[str, Any]:
    return {"momentum": "constant"}


def _theta_momentum(_L: float, _mu: float) -> dict[str, Any]:
    return {"momentum": "theta"}


_AGD_FN4_RATE = (lambda k: math.sqrt(1 - 1 / math.sqrt(k)), "sqrt(1 - 1/sqrt(kappa))",
                 "f - f* + mu/2 ||z - x*||^2 shrinks by 1 - 1/sqrt(kappa) per step "
                 "(Nesterov 2004, Thm 2.2.3; footnote 4's momentum)")


def _gd(j: int, p: Params) -> Step:
    """(1): z_{k+1} = z_k - a grad f(z_k); state (z_k)."""
    one = p.ar.one()
    return Step(A=((one,),), B=(-p["step"],), C=(one,), D=(one,))


def _gd_bound(m: Method, N: int) -> float | None:
    """Drori & Teboulle 2014: L ||z_0 - z*||^2 / (4N + 2), for the step 1/L only."""
    if abs(m.params["step"] * m.L - 1.0) > 1e-15:
        return None
    return m.L / (4 * N + 2)


GD = MethodSpec(
    name="gd",
    network="(7)",
    source=f"{_PAPER}, eq. (1); Cauchy 1847",
    equation="(1) -> network (7)",
    function_class="smooth-convex",
    slots=("z_k",),
    initial=(1.0,),
    schedule=_gd,
    output="z",
    metric="function-gap",
    guarantee="f(z_N) - f* <= L ||z_0 - z*||^2 / (4N + 2) for step 1/L (Drori & Teboulle 2014)",
    rate="O(L/mu log 1/eps) iterations (strongly convex)",
    params={"step": _inverse_L},
    analytic=_gd_bound,
    rate_variants=(
        RateVariant("", "(7)", "-", 1.0, table2=True,
                    published=(lambda k: 1 - 1 / k, "1 - 1/kappa",
                               "step 1/L; Nesterov 2004, Thm 2.1.15")),
    ),
    claim=("lemma1", "Lemma 1: GD (1) on f = network (7)"),
    error_growth=1,
)


def _hb(j: int, p: Params) -> Step:
    """(2): z_{k+1} = z_k - a grad f(z_k) + beta (z_k - z_{k-1}); state (z_k, z_{k-1})."""
    one, zero, b = p.ar.one(), p.ar.zero(), p["beta"]
    return Step(
        A=((one + b, -b), (one, zero)),
        B=(-p["step"], zero),
        C=(one, zero),
        D=(one, zero),
    )


HB = MethodSpec(
    name="hb",
    network="(11)",
    source=f"{_PAPER}, eq. (2); Polyak 1964",
    equation="(2) -> network (11)",
    function_class="smooth-convex",
    slots=("z_k", "z_{k-1}"),
    initial=(1.0, 1.0),
    schedule=_hb,
    output="z",
    metric="function-gap",
    guarantee="O(sqrt(L/mu) log 1/eps) near the minimiser with tuned beta (Polyak 1964); "
    "no global accelerated guarantee",
    rate="O(sqrt(L/mu) log 1/eps) with tuned beta",
    params={"beta": SIMULATION_HB_BETA, "step": _inverse_L},
    rate_variants=(
        RateVariant("tuned", "(11)", "beta = (1 - sqrt(mu))^2", 0.5, _hb_tuned),
        RateVariant("polyak", "(11)",
                    "Polyak beta ((sqrt L - sqrt mu)/(sqrt L + sqrt mu))^2, unit step", 0.5,
                    _hb_polyak),
        RateVariant("quadratic", "(11)",
                    "Polyak's quadratic tuning: that beta and step 4/(sqrt L + sqrt mu)^2", 0.5,
                    _hb_quadratic,
                    published=(lambda k: (math.sqrt(k) - 1) / (math.sqrt(k) + 1),
                               "(sqrt(kappa) - 1)/(sqrt(kappa) + 1)",
                               "on quadratics only (Polyak 1964); no global rate (Lessard, "
                               "Recht & Packard 2016)")),
        RateVariant("0.3", "(11)", "beta = 0.3 (Sec. 5.3)", 1.0, _hb_table2, table2=True),
    ),
    claim=("hb", "heavy ball (2) on f = network (11)"),
)


def _momentum(p: Params) -> list[Any]:
    """beta_0..beta_J (J the last sub-step): the theta schedule of (3), or footnote 4's, only
    as far as the run goes (a horizon N given to agd does not lengthen it)."""
    count = p.last
    if p["momentum"] == "constant":
        sL, sm = p.ar.sqrt(p.L), p.ar.sqrt(p.mu)
        b = (sL - sm) / (sL + sm)
        return [p.ar.zero()] + [b] * count
    if p.ar.name == "exact":
        return nesterov_beta(count, exact=True)
    if p.ar.name == "mp":
        return nesterov_beta(count, dps=p.ar.dps)
    return nesterov_beta(count)


def _agd_beta(j: int, p: Params) -> Any:
    """beta_j; beyond the last sub-step (read-out only) 0, which A and B never use there."""
    beta = p.sequence("beta", _momentum)
    return beta[j] if j < len(beta) else p.ar.zero()


def _check_momentum(L: float, mu: float, params: dict[str, Any]) -> None:
    choice = params.get("momentum")
    if choice not in ("theta", "constant"):
        raise OptnetError(
            f"momentum must be 'theta' (the schedule of (3)) or 'constant' (footnote 4), "
            f"got {choice!r}"
        )
    if choice == "constant" and not 0 < mu < L:
        raise OptnetError(f"footnote 4's constant momentum needs 0 < mu < L, got mu={mu:g}")


def _agd(j: int, p: Params) -> Step:
    return agd_step(_agd_beta(j, p), p)


def agd_step(b: Any, p: Params) -> Step:
    """(3) with momentum b = beta_k: y_k = z_k + b (z_k - z_{k-1}), z_{k+1} = y_k - grad f(y_k)/L.

    State (z_k, z_{k-1}). Any number type for b (a SymPy symbol derives (5), see ``dense``).
    """
    one, zero = p.ar.one(), p.ar.zero()
    a = one / p.L
    return Step(
        A=((one + b, -b), (one, zero)),
        B=(-a, zero),
        C=(one + b, -b),
        D=(one, zero),
    )


AGD = MethodSpec(
    name="agd",
    network="(12)",
    source=f"{_PAPER}, eq. (3) and footnote 4; Nesterov 1983",
    equation="(3) -> network (12)",
    function_class="smooth-convex",
    slots=("z_k", "z_{k-1}"),
    initial=(1.0, 1.0),
    schedule=_agd,
    output="z",
    metric="function-gap",
    guarantee="f(z_N) - f* = O(L ||z_0 - z*||^2 / N^2) (theta schedule); "
    "O(sqrt(L/mu) log 1/eps) with footnote 4's constant momentum",
    rate="O(sqrt(L/mu) log 1/eps) with footnote 4",
    params={"momentum": "theta"},
    check=_check_momentum,
    rate_variants=(
        RateVariant("fn4", "(12)", "footnote 4: beta = (sqrt L - sqrt mu)/(sqrt L + sqrt mu)",
                    0.5, _constant_momentum, published=_AGD_FN4_RATE),
        RateVariant("theta", "(12)", "theta schedule of (3)", None, _theta_momentum,
                    table2=True),
    ),
    claim=("agd", "Nesterov (3) on f = network (12)"),
)


def _agd2(j: int, p: Params) -> Step:
    return agd2_step(_agd_beta(j + 1, p), p)


def agd2_step(b: Any, p: Params) -> Step:
    """(4)+(5) through the recursion (5) implies, with b = beta_{k+1}; state (y_k, G_k, u_{k-1}).

    y_{k+1} = y_k - G_{k+1}/L with G_{k+1} = sum_j h_{k+1,j} u_j, and (5) gives
    G_{k+1} = beta_{k+1} (G_k - u_{k-1}) + (1 + beta_{k+1}) u_k (G_0 = u_{-1} = 0).
    """
    one, zero = p.ar.one(), p.ar.zero()
    a = one / p.L
    return Step(
        A=((one, -a * b, a * b), (zero, b, -b), (zero, zero, zero)),
        B=(-a * (one + b), one + b, one),
        C=(one, zero, zero),
        D=(one, zero, zero),
    )


AGD2 = MethodSpec(
    name="agd2",
    network="(13)",
    source=f"{_PAPER}, eqs. (4) and (5)",
    equation="(4)+(5) -> network (13)",
    function_class="smooth-convex",
    slots=("y_k", "G_k = sum_j h_{k,j} u_j", "u_{k-1}"),
    initial=(1.0, 0.0, 0.0),
    schedule=_agd2,
    output="y",
    metric="function-gap",
    guarantee="the y-iterates of (3), so (3)'s guarantee holds for f at its z-points",
    rate="as agd",
    params={"momentum": "theta"},
    check=_check_momentum,
    rate_variants=(
        RateVariant("fn4", "(13)", "h of (5) with footnote 4's constant beta", 0.5,
                    _constant_momentum),
        RateVariant("theta", "(13)", "h of (5) with the theta schedule", None, _theta_momentum,
                    table2=True),
    ),
    claim=("agd2", "summed Nesterov (4)+(5) on f = network (13)"),
)


def _admm(j: int, p: Params) -> Step:
    """(6) in two one-gradient sub-steps; state (z_k, y_k, lambda_k), gradient step 1/L.

    j even (gradient at z_k): z_{k+1} = (z_k - u/L + y_k - lambda_k) / 2.
    j odd (gradient at y_k):  y_{k+1} = (y_k - u/L + z_{k+1} + lambda_k) / 2,
                              lambda_{k+1} = lambda_k + z_{k+1} - y_{k+1}.
    """
    one, zero = p.ar.one(), p.ar.zero()
    half, a = one / 2, one / p.L
    if j % 2 == 0:
        return Step(
            A=((half, half, -half), (zero, one, zero), (zero, zero, one)),
            B=(-a * half, zero, zero),
            C=(one, zero, zero),
            D=(zero, one, zero),
        )
    return Step(
        A=((one, zero, zero), (half, half, half), (half, -half, half)),
        B=(zero, -a * half, a * half),
        C=(zero, one, zero),
        D=(zero, one, zero),
    )


ADMM = MethodSpec(
    name="admm",
    network="(14)",
    source=f"{_PAPER}, eq. (6) and footnote 7; Gabay 1983, Lin, Liu & Su 2011",
    equation="(6) -> network (14)",
    function_class="smooth-convex",
    slots=("z_k (x'_k)", "y_k (x_k)", "lambda_k"),
    initial=(1.0, 1.0, 0.0),
    schedule=_admm,
    output="y",
    metric="function-gap",
    guarantee="O(1/N) ergodic (no faster theoretical rate than gd, Sec. 5.3)",
    rate="O(L/mu log 1/eps)",
    substeps=2,
    rate_variants=(RateVariant("", "(14)", "-", 1.0, table2=True),),
    claim=("admm", "linearized ADMM (6) on f = network (14)"),
    error_growth=1,
)

PAPER_METHODS: tuple[MethodSpec, ...] = (GD, HB, AGD, AGD2, ADMM)
