"""Issue 15, theory side: no wrong answer with exit code 0, bounded resources, one-line errors.

Each probe of the issue has a test here; each check keeps a negative control.
"""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_theory import derive_energy
from optnet_theory.antiderivative.numeric import (
    ACCURACY_LIMIT,
    ChebyshevAntiderivative,
    NumericFailure,
    establish,
)
from optnet_theory.energy.curvature import slope_bounds_report
from optnet_theory.errors import OptnetError
from optnet_theory.verify.claims import _errors, verify_claim

PROBE_POINTS = (1.0, 10.0, 45.0, 100.0, 300.0)


def _quadrature(energy: object, t: float) -> mpmath.mpf:
    """integral_0^t Phi by mpmath Gauss-Legendre (20 digits) on [0, 1, 2, 4, ..., t], the
    nodes refined (midpoints) until mpmath's own error estimate is below 1e-16."""
    phi = energy.phi_mp  # type: ignore[attr-defined]
    sign = 1 if t > 0 else -1
    nodes = sorted({0.0, *(sign * 2.0**k for k in range(int(math.log2(abs(t))) + 1)), t})
    with mpmath.workdps(20):
        for _ in range(10):
            value, err = mpmath.quad(
                phi, nodes[::sign], method="gauss-legendre", error=True, maxdegree=6
            )
            if err <= 1e-16 * max(1, abs(value)):
                return value
            nodes = sorted({*nodes, *((a + b) / 2 for a, b in zip(nodes, nodes[1:], strict=False))})
    raise AssertionError(f"reference quadrature did not converge at x={t}")


def _fresnel_quadrature(t: float) -> mpmath.mpf:
    """integral_0^t sin(s^2) ds by mpmath.quadosc (zeros of sin(s^2) at sqrt(k pi))."""
    with mpmath.workdps(20):

        def f(s: mpmath.mpf) -> mpmath.mpf:
            return mpmath.sin(s**2)

        def tail(a: float) -> mpmath.mpf:  # integral_a^inf, zeros beyond a
            first = math.ceil(a * a / math.pi)
            return mpmath.quadosc(
                f, [a, mpmath.inf], zeros=lambda n: mpmath.sqrt((first + n) * mpmath.pi)
            )

        return (tail(0.0) - tail(abs(t))) * (1 if t > 0 else -1)


def _stated(energy: object) -> float:
    accuracy = energy.accuracy  # type: ignore[attr-defined]
    return accuracy if accuracy is not None else 1e-12  # closed forms: float64 evaluation


@pytest.mark.parametrize(
    "spec",
    ["mish", "tanh(tanh(x))", "erf(erf(x))", "tanh(erf(x))", "x*tanh(tanh(x))", "tanh(sin(x**2))"],
)
def test_numeric_psi_agrees_with_mpmath_quadrature_on_its_domain(spec: str) -> None:
    """Every Psi returned agrees with quadrature at |x| in {1, 10, 45, 100, 300} (or is nan
    there because its stated domain ends before: never a silent wrong value)."""
    energy = derive_energy(spec)
    assert energy.verified and energy.method == "numeric"
    lo, hi = energy.domain
    checked = 0
    for t in (s * v for v in PROBE_POINTS for s in (-1.0, 1.0)):
        got = float(energy.psi_fn(np.array([t]))[0])
        if not lo <= t <= hi:
            assert math.isnan(got), (spec, t)
            continue
        ref = float(_quadrature(energy, t))
        assert abs(got - ref) <= _stated(energy) * max(1.0, abs(ref)), (spec, t, got, ref)
        checked += 1
    assert checked >= 4


def test_tanh_tanh_far_out_is_right_not_rounding_noise() -> None:
    """The probe: psi_fn(45) was -7e17; the true value is about 28.6 + ... (quadrature)."""
    energy = derive_energy("tanh(tanh(x))")
    got = float(energy.psi_fn(np.array([45.0]))[0])
    assert got == pytest.approx(float(_quadrature(energy, 45.0)), rel=1e-12)
    assert energy.domain == (-math.inf, math.inf)


def test_oscillating_sin_x2_agrees_with_quadosc() -> None:
    """Inside its stated domain Psi agrees with quadosc; outside it is NaN, never a wrong value.

    (The closed form (Fresnel S) covers all of R; when the rule chain's time budget runs out on a
    loaded machine, the numeric Psi with a stated domain is returned instead: both are honest.)
    """
    energy = derive_energy("sin(x**2)")
    lo, hi = energy.domain if energy.domain is not None else (-math.inf, math.inf)
    inside = 0
    for t in (s * v for v in PROBE_POINTS for s in (-1.0, 1.0)):
        got = float(energy.psi_fn(np.array([t]))[0])
        if not lo <= t <= hi:
            assert math.isnan(got), (t, got)
            continue
        inside += 1
        ref = float(_fresnel_quadrature(t))
        assert abs(got - ref) <= _stated(energy) * max(1.0, abs(ref)), (t, got, ref)
    assert inside >= 6  # |x| in {1, 10} at least (and up to 300 with the closed form)


def test_restricted_domain_is_shown_in_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "tanh(sin(x**2))", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verified"] is True and record["method"] == "numeric"
    lo, hi = record["domain"]
    assert -300 < lo < 0 < hi < 300
    assert main(["derive", "tanh(sin(x**2))"]) == 0
    text = capsys.readouterr().out
    assert f"x in [{lo:g}, {hi:g}] only" in text and "verified: True" in text


def test_saturating_domain_is_all_of_r_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "tanh(tanh(x))", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verified"] is True and record["domain"] is None


def test_a_wrong_tail_is_caught_by_the_check() -> None:
    """Negative control: an asymptotic line off by 1e-6 (like the old float-rounded tail)."""
    energy = derive_energy("tanh(tanh(x))")
    approx = ChebyshevAntiderivative(energy.phi_fn, energy.phi_mp, [])
    assert establish(approx, energy.phi_mp, []).accuracy <= ACCURACY_LIMIT
    a, b = approx.lines[1]  # type: ignore[misc]
    approx.lines[1] = (a, b + 1e-6)
    with pytest.raises(NumericFailure, match="stated accuracy"):
        establish(approx, energy.phi_mp, [])


def test_unestablished_accuracy_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "tanh(sqrt(abs(x)))"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("optnet derive: error:") and "\n" not in err


@pytest.mark.parametrize(
    ("spec", "low", "high"),
    [
        ("x**3", False, True),
        ("max(x,0)**2", False, True),
        ("x**64", True, True),
        ("sqrt(abs(x))", True, True),
        ("sign(x)", False, True),
    ],
)
def test_unbounded_slopes_are_infinite(spec: str, low: bool, high: bool) -> None:
    report = slope_bounds_report(derive_energy(spec), False)
    assert (report.m == -math.inf) == low and (report.M == math.inf) == high, report


def test_bounded_slopes_stay_finite() -> None:
    """Negative control for the unboundedness test: tanh and softplus keep their bounds."""
    for spec, bounds in (("tanh", (0.0, 1.0)), ("softplus", (0.0, 1.0))):
        report = slope_bounds_report(derive_energy(spec), False)
        assert (report.m, report.M) == pytest.approx(bounds, abs=1e-8)


def test_pole_at_a_breakpoint_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "Piecewise((1/x, x>0), (0, True))"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("optnet derive: error:") and "\n" not in err


def test_non_finite_states_fail_the_comparison() -> None:
    finite = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    assert _errors(finite, finite) == (0.0, 0.0)  # negative control: equal finite states pass
    for bad in (np.array([np.nan, 2.0]), np.array([np.inf, 2.0])):
        assert _errors([finite[0], bad], finite) == (math.inf, math.inf)
        assert _errors(finite, [finite[0], bad]) == (math.inf, math.inf)  # overflowed reference
    mp_bad = np.array([mpmath.mpf(1), mpmath.nan], dtype=object)
    assert _errors([mp_bad], [mp_bad]) == (math.inf, math.inf)


def test_overflowing_heavy_ball_fails() -> None:
    result = verify_claim("hb", "sigmoid", depth=200, beta=1e9, dim=4, trials=1)
    assert not result.passed and result.max_rel_error == math.inf
    assert verify_claim("hb", "sigmoid", depth=20, dim=4, trials=1).passed  # negative control


def test_verify_overflow_prints_its_own_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "hb", "--beta", "1e9", "--depth", "200", "--dim", "4"]) == 1
    out = capsys.readouterr().out
    assert "hb: FAIL, a compared state is not finite" in out
    assert main(["verify", "hb", "--beta", "1e9", "--depth", "200", "--dim", "4", "--json"]) == 1
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    assert record["passed"] is False and record["max_rel_error"] == "inf" and record["problem"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["verify", "hb", "--beta", "nan"], "--beta must be a finite number"),
        (["verify", "lemma1", "--dim", "100000"], "GiB of memory, over the limit"),
        (["verify", "lemma1", "--depth", "1000000000"], "over the limit"),
        (["verify", "lemma1", "--trials", "100000000"], "over the limit"),
        (["verify", "agd2", "--depth", "100000"], "over the limit"),
        (["verify", "lemma1", "--seed", "-1"], "--seed must be a non-negative integer"),
        (["verify", "lemma1", "--cond", "1e20"], "not reliably positive definite in float64"),
        (["verify", "lemma1", "--dim", "0"], "--dim must be a positive integer"),
        (["rates", "--dim", "0"], "--dim must be an integer >= 2"),
        (["rates", "--dim", "100000"], "over the limit"),
        (["rates", "--kappas", "1e12"], "over the limit"),
    ],
)
def test_refusals_are_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err, err


def test_cond_refusal_does_not_blame_a_user_matrix() -> None:
    with pytest.raises(OptnetError) as info:
        verify_claim("lemma1", "sigmoid", dim=4, cond=1e20)
    assert "drawn" in str(info.value) and "not symmetric" not in str(info.value)


def test_force_overrides_the_caps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import optnet_theory.energy.limits as limits

    monkeypatch.setattr(limits, "MAX_SECONDS", 1e-9)
    argv = ["verify", "lemma1", "--dim", "2", "--depth", "2", "--trials", "1"]
    assert main(argv) == 2
    assert "over the limit" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
