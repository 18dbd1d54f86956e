"""Checked certificates: published bounds inside the interval, scale laws, rates, and controls."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("clarabel")

from optnet_nets.cli import main  # noqa: E402
from optnet_theory.certify import certificate as certificate_module  # noqa: E402
from optnet_theory.certify import certify, certify_rate, fixed_point_defect  # noqa: E402
from optnet_theory.certify.bounds import lower_bound, upper_bound  # noqa: E402
from optnet_theory.certify.exact import RatMatrix, is_positive_definite  # noqa: E402
from optnet_theory.certify.problem import build_pep, scale_factor  # noqa: E402
from optnet_theory.certify.rate import _checked, _Lmi, steady_steps  # noqa: E402
from optnet_theory.certify.sdp import SolverResult, assemble  # noqa: E402
from optnet_theory.errors import OptnetError  # noqa: E402
from optnet_theory.learned import (  # noqa: E402
    LearnedSchedule,
    learned_method,
    method_distance,
    report_learned,
)
from optnet_theory.methods import MethodSpec, Params, Step, get_method, get_spec  # noqa: E402

#: what a certificate must reach against a published bound: the bound inside [lower, upper]
#: and the point value within this relative distance of it.
TOL = 1e-6
JSON_KEYS = [
    "method", "steps", "L", "mu", "metric", "initial_condition", "worst_case", "lower", "upper",
    "relative_gap", "analytic", "scaling", "n_step_rate", "lower_instance", "solver",
    "solver_status", "attempts", "seconds",
]


def _agrees(cert, tol: float = TOL) -> None:
    assert cert.analytic is not None
    assert cert.lower <= cert.analytic * (1 + 1e-12) and cert.analytic <= cert.upper * (
        1 + 1e-12), (cert.steps, cert.lower, cert.analytic, cert.upper)
    assert abs(cert.worst_case / cert.analytic - 1.0) < tol, (cert.steps, cert)
    assert cert.lower <= cert.worst_case <= cert.upper


@pytest.mark.parametrize("name", ["gd", "ogm"])
def test_smooth_convex_bounds_are_exact(name: str) -> None:
    """gd: L/(4N+2) (Drori & Teboulle); ogm: L/(2 theta_N^2) (Kim & Fessler), N = 1..8."""
    for n in range(1, 9):
        _agrees(certify(get_method(name, L=3.0), n))


@pytest.mark.parametrize("q", [0.01, 0.1])
def test_item_bound_is_exact(q: float) -> None:
    """||z_N - x*||^2 <= 1/(1 + q A_N) (Taylor & Drori), N = 1..8."""
    for n in range(1, 9):
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
    for n in range(1, 8):
        _agrees(certify(NESTEROV_K3.bind(L=3.0), n))


def test_ogmg_and_tmm_published_bounds() -> None:
    """OGM-G: 2L/theta~_0^2 (Kim & Fessler 2021). TMM: rho^(2N) L kappa/2 with N, as PEPit's
    code has it; its docstring's rho^(2(N+1)) lies below the worst case (not a bound)."""
    for n in range(1, 6):
        _agrees(certify(get_method("ogmg", L=3.0), n))
        cert = certify(get_method("tmm", L=1.0, mu=0.1), n)
        _agrees(cert, 1e-5)
        rho = 1 - 1 / math.sqrt(10.0)
        assert cert.lower > rho ** (2 * (n + 1)) * 10.0 / 2 * 1.1


def test_heavy_ball_meets_ghadimi_bound() -> None:
    """HB with alpha = 1/(2L), beta = sqrt((1 - alpha mu)(1 - L alpha)):
    f(x_N) - f* <= (1 - alpha mu)^N (f(x_0) - f*) (Ghadimi et al. 2015, Thm 4). An upper bound,
    not a tight one, so the certified upper end is checked against it, strictly for N >= 2."""
    L, mu = 1.0, 0.1
    alpha = 1 / (2 * L)
    beta = math.sqrt((1 - alpha * mu) * (1 - L * alpha))
    method = get_method("hb", L=L, mu=mu, beta=beta, step=alpha)
    for n in range(1, 6):
        cert = certify(method, n, initial="function-gap")
        assert cert.initial_condition == "f(x_0) - f* <= 1"
        bound = (1 - alpha * mu) ** n
        assert cert.upper <= bound * (1 + 1e-9)
        if n >= 2:
            assert cert.upper < 0.9 * bound


@pytest.mark.parametrize("name,kw,metric,initial", [
    ("gd", {"L": 2.0}, None, None),
    ("hb", {"beta": 0.5, "mu": 0.05}, "distance", None),
    ("agd", {}, None, None),
    ("admm", {"mu": 0.1}, "distance", None),
    ("ogmg", {}, None, None),
    ("tmm", {"mu": 0.2}, "gradient-norm", "function-gap"),
])
def test_independent_pepit_formulation_agrees(name, kw, metric, initial) -> None:
    """PEPit's own statement of the same PEP (tests/theory/pepit_reference.py) lands inside
    the certified interval, widened by PEPit's solver tolerance."""
    pytest.importorskip("PEPit")
    from tests.theory.pepit_reference import reference_worst_case

    method = get_method(name, **kw, **({"N": 4} if get_spec(name).needs_horizon else {}))
    cert = certify(method, 4, metric=metric, initial=initial)
    ref = reference_worst_case(method, 4, cert.metric,
                               "distance" if cert.initial_condition.startswith("||") else
                               "function-gap")
    assert cert.lower * (1 - 1e-6) - 1e-9 <= ref <= cert.upper * (1 + 1e-6) + 1e-9


# ---------------------------------------------------------------- scale laws
SCALE_CASES = [
    ("gd", 0.0, None, None, {}),
    ("ogm", 0.0, None, None, {}),
    ("ogmg", 0.0, None, None, {}),
    ("item", 0.1, None, None, {}),
    ("tmm", 0.1, None, None, {}),
    ("hb", 0.1, "gradient-norm", "function-gap", {"beta": 0.4}),
]


@pytest.mark.parametrize("name,q,metric,initial,params", SCALE_CASES)
def test_scale_law_keeps_the_normalised_value(name, q, metric, initial, params) -> None:
    """mu/L fixed, L from 1e-8 to 1e10: the value is the L = 1 value times the metric's law,
    to 1e-6, and the published bound (where one exists) to 1e-6. A step given in absolute
    units (hb's step) scales as 1/L, so the method is the same in normalised units."""
    steps = 5

    def at(L: float):
        extra = {"step": 1.0 / L} if name == "hb" else {}
        return certify(get_method(name, L=L, mu=q * L, **params, **extra), steps,
                       metric=metric, initial=initial)

    base = at(1.0)
    law = base.scaling["law"]
    for L in (1e-8, 1e-3, 1e4, 1e10):
        cert = at(L)
        factor = scale_factor(cert.metric, "distance" if law.endswith("R^2") else
                              "function-gap", L)
        assert cert.scaling["factor"] == pytest.approx(factor, rel=1e-15)
        assert cert.worst_case / factor == pytest.approx(base.worst_case, rel=1e-6), (L, law)
        assert cert.upper / factor == pytest.approx(base.upper, rel=1e-6)
        if cert.analytic is not None:
            _agrees(cert, 1e-5 if name == "tmm" else TOL)
        # negative control: a law off by one power of L misses by orders of magnitude
        assert abs(cert.worst_case / (factor * L) / base.worst_case - 1) > 1e-2


def test_issue_probes_are_now_correct() -> None:
    """The values of the issue that were printed wrong: gd N = 7 at L = 1e4 (L/30), item N = 5
    at L = 1e6, mu = 1e5 (equal to L = 1, mu = 0.1)."""
    gd = certify(get_method("gd", L=1e4), 7)
    assert gd.lower <= 1e4 / 30 <= gd.upper
    item = certify(get_method("item", L=1e6, mu=1e5), 5)
    assert item.worst_case == pytest.approx(certify(get_method("item", mu=0.1), 5).worst_case,
                                            rel=1e-6)
    assert item.worst_case == pytest.approx(0.04508475927, rel=1e-6)


def test_item_at_depth_40_holds_its_tiny_bound() -> None:
    """1.3e-13 at N = 40, mu/L = 0.1: inside the interval, the point value within 1 %."""
    cert = certify(get_method("item", mu=0.1), 40)
    _agrees(cert, 1e-2)
    assert cert.relative_gap < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("name,q", [("item", 0.01), ("tmm", 0.01), ("tmm", 0.1)])
def test_depth_40_bounds(name: str, q: float) -> None:
    _agrees(certify(get_method(name, mu=q), 40), 1e-2)


# ---------------------------------------------------------------- the checks themselves
def test_a_perturbed_dual_is_rejected() -> None:
    """The verifier accepts the solver's dual and rejects it with tau lowered by 1 % (its
    matrix is no longer positive semidefinite) or with a multiplier's sign flipped."""
    method = get_method("ogm")
    pep = build_pep(method, 4, "function-gap", "distance")
    data = assemble(pep)
    cert = certify(method, 4)
    main = cert.evidence.main
    robust = cert.evidence.robust
    assert upper_bound(pep, data, (main[0], np.array(main[1])),
                       None if robust is None else (robust[0], np.array(robust[1]))) is not None
    low_tau = (main[0] * 0.99, np.array(main[1]))
    assert upper_bound(pep, data, low_tau) is None
    flipped = np.array(main[1])
    flipped[int(np.argmax(flipped))] *= -1
    assert upper_bound(pep, data, (main[0], flipped)) is None


def test_exact_positive_definiteness_has_both_answers() -> None:
    good = RatMatrix.of(np.array([[2.0, 1.0], [1.0, 1.0]]))
    assert is_positive_definite(good)[0]
    # [[1, 1], [1, 1 - 2^-60]] has determinant -2^-60: indefinite, by a hair
    bad = RatMatrix.of(np.array([[Fraction(1), Fraction(1)],
                                 [Fraction(1), 1 - Fraction(1, 2**60)]], dtype=object))
    assert not is_positive_definite(bad)[0]


def test_a_violating_instance_cannot_raise_the_lower_bound() -> None:
    """The lower bound reads only exactly feasible instances: a 'primal' that violates the
    interpolation conditions (a Gram matrix 10x too large) is mixed down to feasibility, so the
    bound stays below the exact value."""
    method = get_method("gd")
    pep = build_pep(method, 3, "function-gap", "distance")
    cert = certify(method, 3)
    G, phi = (np.array(x) for x in cert.evidence.primals[0])
    found = lower_bound(pep, [(10 * G, phi)])
    assert float(found.value / pep.objective_scale) <= 1 / 14 * (1 + 1e-12)


def _fake_solver(status: str, solved: bool, tau_scale: float = 1.0):
    real = certificate_module.solve

    def fake(data, eps, solver, tol, rows=None):
        r = real(data, eps, solver, tol, rows)
        return SolverResult(solver, status, solved, r.tau * tau_scale, r.lam, r.phi, r.G)

    return fake


def test_an_inaccurate_solver_status_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(certificate_module, "solve", _fake_solver("InsufficientProgress", False))
    with pytest.raises(OptnetError, match="no checked certificate.*InsufficientProgress"):
        certify(get_method("gd"), 3)


def test_a_solver_claiming_success_with_a_wrong_bound_is_refused(monkeypatch) -> None:
    """'Solved' with a bound 2 % too low: the exact checks refuse it."""
    monkeypatch.setattr(certificate_module, "solve", _fake_solver("Solved", True, 0.98))
    with pytest.raises(OptnetError, match="no checked certificate"):
        certify(get_method("gd"), 3)


def test_tampered_cache_entries_are_recomputed(tmp_path, capsys) -> None:
    from optnet_theory.certify.cache import cached_certify

    method = get_method("item", mu=0.1)
    first = cached_certify(method, 4, root=tmp_path)
    (entry,) = tmp_path.glob("*.json")
    again = cached_certify(method, 4, root=tmp_path)
    assert again == first and "failed its checks" not in capsys.readouterr().err
    for tamper in ("value", "evidence"):
        data = json.loads(entry.read_text())
        if tamper == "value":
            data["certificate"]["upper"] *= 2
            data["certificate"]["worst_case"] *= 2
        else:
            data["evidence"]["main"][1] = [v * 0.5 for v in data["evidence"]["main"][1]]
        entry.write_text(json.dumps(data))
        fresh = cached_certify(method, 4, root=tmp_path)
        assert "failed its checks" in capsys.readouterr().err
        assert fresh.lower <= fresh.analytic <= fresh.upper


def test_default_cache_is_the_user_cache(monkeypatch, tmp_path) -> None:
    from optnet_theory.certify.cache import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "optnet" / "certificates"


# ---------------------------------------------------------------- rates
@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_certified_rates_match_the_known_ones(kappa: float) -> None:
    mu = 1 / kappa
    gd = certify_rate(get_method("gd", mu=mu))
    assert gd.rate == pytest.approx(1 - mu, abs=1e-6) and gd.rate >= 1 - mu - 1e-12
    short = certify_rate(get_method("gd", mu=mu, step=2 / (1 + mu)))
    assert short.rate == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-6)
    tmm = certify_rate(get_method("tmm", mu=mu))
    assert tmm.rate == pytest.approx(1 - math.sqrt(mu), abs=1e-6)
    assert tmm.rate_lower == pytest.approx(1 - math.sqrt(mu), abs=1e-6)


def test_a_rate_below_the_true_one_is_not_certified() -> None:
    """Negative control: no Lyapunov certificate passes the exact check at 1 - mu - 1e-3."""
    method = get_method("gd", mu=0.1)
    lmi = _Lmi(steady_steps(method), Fraction(1, 10) * 0 + Fraction(method.mu),
               Fraction(method.L))
    assert _checked(lmi, 0.9 + 1e-4) is not None
    assert _checked(lmi, 0.9 - 1e-3) is None


def test_quadratic_tuned_heavy_ball_has_no_rate(capsys) -> None:
    """Polyak's quadratic parameters at kappa = 100: no certificate below 1; exit 0, null."""
    kappa = 100.0
    beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    step = 4 / (1 + math.sqrt(1 / kappa)) ** 2
    args = ["certify", "hb", "--rate", "--mu", str(1 / kappa), "--param", f"beta={beta!r}",
            "--param", f"step={step!r}", "--json"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["rate"] is None and "below 1" in record["reason"]
    assert main(args[:-1]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_time_varying_methods_have_no_lyapunov_rate_but_an_n_step_rate() -> None:
    assert "time-varying" in certify_rate(get_method("item", mu=0.1)).reason
    cert = certify(get_method("item", mu=0.1), 6)
    low, high = cert.n_step_rate
    assert low <= (cert.analytic) ** (1 / 12) <= high + 1e-12


# ---------------------------------------------------------------- methods and inputs
def _perturbed(name: str, j0: int, delta: float) -> MethodSpec:
    spec = get_spec(name)

    def schedule(j: int, p: Params) -> Step:
        st = spec.schedule(j, p)
        if j != j0:
            return st
        return dataclasses.replace(st, B=(st.B[0] * (1 + delta), *st.B[1:]))

    return dataclasses.replace(spec, name=f"{name}-perturbed", schedule=schedule)


def test_negative_control_a_perturbed_coefficient_changes_the_worst_case() -> None:
    """One step size of OGM off by 5 %: the published bound leaves the certified interval."""
    exact = certify(get_method("ogm", L=3.0), 5)
    _agrees(exact)
    broken = certify(_perturbed("ogm", 2, 0.05).bind(L=3.0), 5)
    assert broken.analytic is not None
    assert not broken.lower <= broken.analytic <= broken.upper


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


def test_missing_solver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "clarabel", None)
    with pytest.raises(OptnetError, match=r"pip install 'optnet\[certify\]'"):
        certify(get_method("gd"), 2)


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(OptnetError, match="unknown metric"):
        certify(get_method("gd"), 2, metric="speed")
    with pytest.raises(OptnetError, match="unknown initial condition"):
        certify(get_method("gd"), 2, initial="nowhere")
    with pytest.raises(OptnetError, match="single|one function"):
        certify(get_method("gd", mu=1.0), 2)
    with pytest.raises(OptnetError, match="no finite worst case"):
        certify(get_method("gd"), 2, metric="distance", initial="function-gap")


# ---------------------------------------------------------------- the command
def test_cli_json_keys_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "gd", "--steps", "3", "--L", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert list(record) == JSON_KEYS
    assert record["analytic"] == pytest.approx(3 / 14)
    assert record["lower"] <= 3 / 14 <= record["upper"]
    assert record["scaling"]["law"] == "L R^2"
    assert main(["certify", "hb", "--steps", "2", "--param", "beta=0.5"]) == 0
    out = capsys.readouterr().out
    assert "no published bound" in out and "f(x_N) - f*" in out and "certified interval" in out


def test_cli_json_is_the_only_stdout() -> None:
    """A separate process: whatever the solvers print must not reach stdout."""
    out = subprocess.run(
        [sys.executable, "-m", "optnet_nets.cli", "certify", "tmm", "--steps", "12",
         "--L", "2.5e5", "--mu", "1e4", "--json"],
        capture_output=True, text=True, check=True,
    )
    record = json.loads(out.stdout)
    assert record["lower"] <= 14757.395258967663 <= record["upper"]


def test_cli_refuses_bad_usage_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for args, needle in [
        (["certify", "tmm", "--steps", "3"], "--mu"),
        (["certify", "gd"], "--steps"),
        (["certify", "gd", "--steps", "2", "--param", "beta"], "NAME=VALUE"),
        (["certify", "hb", "--steps", "2", "--param", "step=abc"], "finite number"),
        (["certify", "gd", "--steps", "2", "--L", "1", "--mu", "1"], "mu = L"),
        (["certify", "gd", "--rate"], "strongly convex"),
        (["certify", "gd", "--steps", "2", "--max-gap", "2"], "--max-gap"),
    ]:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, (args, err)


# ---------------------------------------------------------------- learned schedules
def test_relaxation_rule_16_with_beta_pairs_is_heavy_ball() -> None:
    """(16) with beta1 = beta, beta2 = -beta read through T = gradient step is hb (2)."""
    beta = 0.4
    learned = learned_method(LearnedSchedule("16", (beta,) * 4, (-beta,) * 4))
    hb = get_method("hb", beta=beta)
    assert method_distance(learned, hb, 4) < 1e-14
    a, b = certify(learned, 4), certify(hb, 4)
    assert a.lower <= b.upper and b.lower <= a.upper
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
def test_table_rows_are_certified_cached_and_formatted(tmp_path, monkeypatch) -> None:
    from optnet_theory.certify.table import TIED, certified_rates, compare_rates, format_table

    small = dict(cache=tmp_path, kappas=(10.0,), steps=(2, 3), variants=("gd", "item"))
    table = certified_rates(**small)
    gd = table["rows"]["gd|kappa=10"]
    assert gd["rate"] == pytest.approx(0.9, abs=1e-6) and gd["published"]["rate"] == 0.9
    assert table["rows"]["item|kappa=10"]["rate"] is None
    import optnet_theory.certify.cache as cache_module

    def fail(*_a, **_k):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(cache_module, "certify", fail)
    again = certified_rates(**small)
    assert again["rows"] == table["rows"]
    text = format_table(again, {("gd", 10.0): 123})
    assert "| gd | 10 |" in text and "123" in text and "time-varying" in text
    assert compare_rates((0.5, 0.6), (0.7, 0.8)) == "faster"
    assert compare_rates((0.5, 0.75), (0.7, 0.8)) == TIED
