"""PEP certificates from method descriptions: agreement with published bounds, and controls."""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import pytest

pytest.importorskip("PEPit")

from optnet_nets.cli import main  # noqa: E402
from optnet_theory.certify import certify, fixed_point_defect  # noqa: E402
from optnet_theory.certify_table import certified_rates, format_table  # noqa: E402
from optnet_theory.errors import OptnetError  # noqa: E402
from optnet_theory.learned import (  # noqa: E402
    LearnedSchedule,
    learned_method,
    method_distance,
    report_learned,
)
from optnet_theory.methods import MethodSpec, Params, Step, get_method, get_spec  # noqa: E402

TOL = 1e-4
JSON_KEYS = [
    "method", "steps", "L", "mu", "metric", "initial_condition", "worst_case", "analytic",
    "solver", "solver_status", "seconds",
]


def _agrees(cert) -> None:
    assert cert.analytic is not None
    assert cert.solver_status in ("optimal", "optimal_inaccurate")
    assert abs(cert.worst_case / cert.analytic - 1.0) < TOL, (cert.steps, cert)


@pytest.mark.parametrize("name", ["gd", "ogm"])
def test_smooth_convex_bounds_are_exact(name: str) -> None:
    """gd: L/(4N+2) (Drori & Teboulle); ogm: L/(2 theta_N^2) (Kim & Fessler), N = 1..10."""
    for n in range(1, 11):
        _agrees(certify(get_method(name, L=3.0), n))


@pytest.mark.parametrize("q", [0.01, 0.1])
def test_item_bound_is_exact(q: float) -> None:
    """||z_N - x*||^2 <= 1/(1 + q A_N) (Taylor & Drori), N = 1..10."""
    for n in range(1, 11):
        _agrees(certify(get_method("item", L=1.0, mu=q), n))


def _nesterov_k3(j: int, p: Params) -> Step:
    """Nesterov's method with momentum (k-1)/(k+2): x_{k+1} = y_k - grad f(y_k)/L,
    y_{k+1} = x_{k+1} + k/(k+3) (x_{k+1} - x_k); state (x_k, x_{k-1}), y_j from the state."""
    one, zero = p.ar.one(), p.ar.zero()
    m = p.ar.num(max(j - 1, 0)) / (j + 2)
    return Step(A=((one + m, -m), (one, zero)), B=(-one / p.L, zero), C=(one + m, -m),
                D=(one, zero))


NESTEROV_K3 = MethodSpec(
    name="nesterov-k3",
    source="Nesterov 1983 with momentum k/(k+3); PEP bound: Taylor, Hendrickx & Glineur 2017",
    function_class="smooth-convex",
    state_size=2,
    initial=(1.0, 1.0),
    schedule=_nesterov_k3,
    output="x",
    metric="function-gap",
    guarantee="f(x_N) - f* <= 2 L ||x_0 - x*||^2 / (N^2 + 5N + 6)",
    analytic=lambda m, n: 2 * m.L / (n * n + 5 * n + 6),
)


def test_nesterov_bound_is_exact_for_a_user_defined_method() -> None:
    """The tight bound 2L/(N^2+5N+6) of Taylor, Hendrickx & Glineur (2017, Table 1), for a
    method defined outside the package in a few lines."""
    for n in range(1, 11):
        _agrees(certify(NESTEROV_K3.bind(L=3.0), n))


def test_heavy_ball_meets_ghadimi_bound() -> None:
    """HB with alpha = 1/(2L), beta = sqrt((1 - alpha mu)(1 - L alpha)):
    f(x_N) - f* <= (1 - alpha mu)^N (f(x_0) - f*) (Ghadimi et al. 2015, Thm 4). An upper bound,
    not a tight one, so the check is <=, and strict for N >= 2."""
    L, mu = 1.0, 0.1
    alpha = 1 / (2 * L)
    beta = math.sqrt((1 - alpha * mu) * (1 - L * alpha))
    method = get_method("hb", L=L, mu=mu, beta=beta, step=alpha)
    for n in range(1, 6):
        cert = certify(method, n, initial="function-gap")
        assert cert.initial_condition == "f(x_0) - f* <= 1"
        bound = (1 - alpha * mu) ** n
        assert cert.worst_case <= bound * (1 + TOL)
        if n >= 2:
            assert cert.worst_case < 0.9 * bound


def test_ogmg_and_tmm_published_bounds() -> None:
    """OGM-G: 2L/theta~_0^2 (Kim & Fessler 2021). TMM: rho^(2N) L kappa/2 with N, as PEPit's
    code has it; its docstring's rho^(2(N+1)) lies below the worst case (not a bound)."""
    for n in range(1, 6):
        _agrees(certify(get_method("ogmg", L=3.0), n))
        tmm = get_method("tmm", L=1.0, mu=0.1)
        cert = certify(tmm, n)
        _agrees(cert)
        rho = 1 - 1 / math.sqrt(10.0)
        assert cert.worst_case > rho ** (2 * (n + 1)) * 10.0 / 2 * 1.1


def _perturbed(name: str, j0: int, delta: float, **kw) -> MethodSpec:
    spec = get_spec(name)

    def schedule(j: int, p: Params) -> Step:
        st = spec.schedule(j, p)
        if j != j0:
            return st
        return dataclasses.replace(st, B=(st.B[0] * (1 + delta), *st.B[1:]))

    return dataclasses.replace(spec, name=f"{name}-perturbed", schedule=schedule)


def test_negative_control_a_perturbed_coefficient_changes_the_worst_case() -> None:
    """One step size of OGM off by 5 %: the certificate leaves the published bound."""
    n = 5
    exact = certify(get_method("ogm", L=3.0), n)
    _agrees(exact)
    broken = certify(_perturbed("ogm", 2, 0.05).bind(L=3.0), n)
    assert broken.analytic is not None
    assert abs(broken.worst_case / broken.analytic - 1.0) > 100 * TOL


def test_coefficients_that_move_the_minimiser_are_refused() -> None:
    """A momentum row whose coefficients do not sum to one: x* is no fixed point."""
    spec = get_spec("hb")

    def schedule(j: int, p: Params) -> Step:
        st = spec.schedule(j, p)
        return dataclasses.replace(st, A=((st.A[0][0] + 0.01, st.A[0][1]), st.A[1]))

    broken = dataclasses.replace(spec, name="hb-inconsistent", schedule=schedule).bind(L=1.0)
    assert fixed_point_defect(broken, 4) > 1e-3
    with pytest.raises(OptnetError, match="do not keep the minimiser x\\* fixed"):
        certify(broken, 4)


def test_every_registered_method_keeps_the_minimiser_fixed() -> None:
    for name, kw in [("gd", {}), ("hb", {}), ("agd", {}), ("agd2", {}), ("admm", {}),
                     ("ogm", {}), ("ogmg", {}), ("tmm", {"mu": 0.1}), ("item", {"mu": 0.1})]:
        assert fixed_point_defect(get_method(name, **kw), 6) < 1e-12, name


def test_missing_pepit_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PEPit", None)
    with pytest.raises(OptnetError, match=r"pip install 'optnet\[certify\]'"):
        certify(get_method("gd"), 2)


def test_bad_metric_and_initial_are_one_line_errors() -> None:
    with pytest.raises(OptnetError, match="unknown metric"):
        certify(get_method("gd"), 2, metric="speed")
    with pytest.raises(OptnetError, match="unknown initial condition"):
        certify(get_method("gd"), 2, initial="nowhere")


# ---------------------------------------------------------------- the command
def test_cli_json_keys_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "gd", "--steps", "3", "--L", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert list(record) == JSON_KEYS
    assert record["analytic"] == pytest.approx(3 / 14)
    assert record["worst_case"] == pytest.approx(3 / 14, rel=TOL)
    assert main(["certify", "hb", "--steps", "2", "--param", "beta=0.5"]) == 0
    out = capsys.readouterr().out
    assert "no published bound" in out and "f(x_N) - f*" in out


def test_cli_refuses_tmm_without_mu_and_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "tmm", "--steps", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--mu" in err and "strongly convex" in err
    assert main(["certify", "gd"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["certify", "gd", "--steps", "2", "--param", "beta"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


# ---------------------------------------------------------------- learned schedules
def test_relaxation_rule_16_with_beta_pairs_is_heavy_ball() -> None:
    """(16) with beta1 = beta, beta2 = -beta read through T = gradient step is hb (2)."""
    beta = 0.4
    learned = learned_method(LearnedSchedule("16", (beta,) * 4, (-beta,) * 4))
    hb = get_method("hb", beta=beta)
    assert method_distance(learned, hb, 4) < 1e-14
    assert certify(learned, 4).worst_case == pytest.approx(certify(hb, 4).worst_case, rel=1e-6)
    # negative control: another momentum is at a positive distance
    assert method_distance(learned, get_method("hb", beta=0.5), 4) > 1e-2


def test_relaxation_rule_17_with_nesterov_momentum_is_agd() -> None:
    """(17) over T(y) + y with beta1 = 1 + beta_k, beta2 = -beta_k is Nesterov's (3)."""
    agd = get_method("agd")
    betas = [float(st.C[0]) - 1 for st in agd.coefficients(5)[:5]]
    learned = learned_method(
        LearnedSchedule("17", tuple(1 + b for b in betas), tuple(-b for b in betas))
    )
    assert method_distance(learned, agd, 5) < 1e-14


def test_report_of_an_inconsistent_schedule_says_so_and_still_ranks() -> None:
    learned = LearnedSchedule("16", (0.9, 0.8, 1.0), (-1.0, -0.7, -1.0))
    assert learned.consistency() == pytest.approx(0.1)
    report = report_learned(learned)
    assert not report.convergent
    assert all(c["worst_case"] is None for c in report.certificates)
    assert all(c["worst_case"] is not None for c in report.consistent_certificates)
    assert report.nearest and "NOT a convergent method" in report.format()
    record = report.to_json()
    assert record["depth"] == 3 and record["keeps_minimiser_fixed"] is False


# ---------------------------------------------------------------- rates table
def test_table_is_cached_and_formats_a_measured_column(tmp_path, monkeypatch) -> None:
    cache = tmp_path / "rates.json"
    small = dict(cache=cache, kappas=(10.0,), steps=(2, 3), rows=("gd", "item"))
    table = certified_rates(**small)
    item = table["entries"]["item|kappa=10|N=3"]
    assert item["analytic"] == pytest.approx(item["worst_case"], rel=TOL)
    import optnet_theory.certify as certify_module

    def fail(*_a, **_k):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(certify_module, "certify", fail)
    again = certified_rates(**small)
    assert again["entries"] == table["entries"]
    text = format_table(again, {("gd", 10.0): 123})
    assert "| gd | 10 |" in text and "123" in text
