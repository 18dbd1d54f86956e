"""derive_energy: Psi' = Phi for every activation, eq. (8)'s gradient is eq. (9), checks bite."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from optnet_nets.cli import main
from optnet_theory import derive_energy, list_activations
from optnet_theory.antiderivative.check import check_antiderivative
from optnet_theory.antiderivative.piecewise import float_breakpoints
from optnet_theory.energy.activations import X
from optnet_theory.energy.formula import FormulaError
from optnet_theory.errors import OptnetError

NAMES = list_activations()


def _cuts(name: str) -> list[float]:
    return float_breakpoints(derive_energy(name).phi)


@pytest.mark.parametrize("name", NAMES)
def test_every_registry_activation_is_verified(name: str) -> None:
    energy = derive_energy(name)
    assert energy.verified, energy.steps
    expected = "numeric" if name == "mish" else "closed-form"
    assert energy.method == expected
    assert (energy.psi is None) == (expected == "numeric")
    assert energy.steps


@given(name=st.sampled_from(NAMES), t=st.floats(-30, 30))
def test_psi_derivative_is_phi_at_drawn_points(name: str, t: float) -> None:
    """Psi'(t) = Phi(t): mpmath differentiation at 30 digits (closed form) or float64."""
    assume(all(abs(t - c) > 1e-3 for c in _cuts(name)))
    energy = derive_energy(name)
    if energy.method == "closed-form":
        with mpmath.workdps(30):
            slope = mpmath.diff(energy.psi_mp, mpmath.mpf(t))
            assert abs(slope - energy.phi_mp(mpmath.mpf(t))) < 1e-20 * max(1, abs(slope))
    else:
        h = 1e-4
        slope = (energy.psi_fn(np.array([t + h])) - energy.psi_fn(np.array([t - h]))) / (2 * h)
        assert abs(slope[0] - energy.phi_fn(np.array([t]))[0]) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_float_callables_are_finite_quiet_and_accurate_up_to_1e3(name: str) -> None:
    energy = derive_energy(name)
    t = np.concatenate([np.linspace(-1e3, 1e3, 2001), [-745.5, -709.9, 709.9, 745.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [energy.phi_fn(t), energy.psi_fn(t), energy.dphi_fn(t)]
    assert all(np.all(np.isfinite(v)) and v.shape == t.shape for v in values)
    assert energy.float_check_error < 1e-9
    assert energy.psi_fn(np.array([0.0]))[0] == pytest.approx(0.0, abs=1e-14)


def test_mish_numeric_antiderivative_is_vectorised_with_stated_accuracy() -> None:
    energy = derive_energy("mish")
    assert energy.accuracy is not None and energy.accuracy < 1e-12
    t = np.linspace(-60, 60, 100_000)
    assert energy.psi_fn(t).shape == t.shape
    with mpmath.workdps(30):
        for point in (-50.5, -3.3, 0.7, 12.25, 55.0):
            exact = energy.psi_mp(mpmath.mpf(point))
            got = energy.psi_fn(np.array([point]))[0]
            assert abs(got - exact) <= energy.accuracy * max(1, abs(exact))


def _sym_matrix(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) / np.sqrt(n)
    return (a + a.T) / 2


GRADIENT_NAMES = ["sigmoid", "tanh", "softplus", "swish", "elu", "gelu", "softsign", "hard_swish"]


@given(name=st.sampled_from(GRADIENT_NAMES), seed=st.integers(0, 2**32 - 1))
def test_gradient_matches_central_differences_at_30_digits(name: str, seed: int) -> None:
    """eq. (9) is the gradient of eq. (8): mpmath differentiation of f along each axis."""
    energy = derive_energy(name)
    u = _sym_matrix(seed, 3)
    z = np.random.default_rng(seed + 1).normal(size=3) * 2
    with mpmath.workdps(30):
        f = energy.objective_mp(u.tolist())
        grad = energy.gradient_mp(u.tolist())(z.tolist())
        for i in range(3):

            def along(s: mpmath.mpf, i: int = i) -> mpmath.mpf:
                w = [mpmath.mpf(v) for v in z]
                w[i] += s
                return f(w)

            fd = mpmath.diff(along, 0)
            assert abs(fd - grad[i]) < 1e-20


def test_gradient_check_catches_a_wrong_gradient() -> None:
    """Negative control: a gradient with U Phi(U z) replaced by U Phi(2 U z) is caught."""
    energy = derive_energy("sigmoid")
    u = _sym_matrix(7, 3)
    z = [0.3, -1.2, 0.8]
    with mpmath.workdps(30):
        f = energy.objective_mp(u.tolist())
        um = mpmath.matrix(u.tolist())
        s = um.T * mpmath.matrix(z)
        wrong = mpmath.matrix(z) - um * mpmath.matrix([energy.phi_mp(2 * c) for c in s])
        fd = mpmath.diff(lambda h: f([z[0] + h, z[1], z[2]]), 0)
        assert abs(fd - wrong[0]) > 1e-6


@pytest.mark.parametrize("name", ["sigmoid", "elu", "mish", "hard_swish"])
def test_float_gradient_and_batches(name: str) -> None:
    energy = derive_energy(name)
    u = _sym_matrix(3, 4)
    z = np.random.default_rng(4).normal(size=(4, 5))
    f, g = energy.objective_fn(u), energy.gradient_fn(u)
    assert f(z).shape == (5,) and g(z).shape == (4, 5)
    assert np.ndim(f(z[:, 0])) == 0
    h = 1e-6
    for i in range(4):
        step = np.zeros((4, 1))
        step[i] = h
        fd = (f(z + step) - f(z - step)) / (2 * h)
        np.testing.assert_allclose(fd, g(z)[i], atol=1e-7)


def test_verifier_catches_wrong_antiderivatives() -> None:
    """Negative controls: wrong derivative, a jump, a complex log, a shift are all refused."""
    phi = derive_energy("sigmoid").phi
    psi = derive_energy("sigmoid").psi
    assert psi is not None
    assert check_antiderivative(phi, psi, X).verified
    wrong = [
        X + sp.log(1 / (sp.exp(X) + 1)),  # Table 1's printed sigmoid row
        psi + X**3 / 10**12,
        psi + sp.Piecewise((1, X < 0), (0, True)),
        psi + sp.log(X - 30) - sp.log(-30),
        psi + 1,
    ]
    for candidate in wrong:
        assert not check_antiderivative(phi, candidate, X).verified, candidate


def test_parameters_bind_and_change_psi() -> None:
    e = derive_energy("leaky_relu", alpha=0.1)
    assert e.params == {"alpha": 0.1}
    assert e.psi_fn(np.array([-2.0]))[0] == pytest.approx(0.2)
    assert derive_energy("leaky_relu").psi_fn(np.array([-2.0]))[0] == pytest.approx(0.02)


def test_formula_and_sympy_specs() -> None:
    e = derive_energy("x*tanh(x)")
    assert e.method == "closed-form" and e.verified
    p = derive_energy("Piecewise((x, x > 0), (alpha*x, True))", alpha=0.2)
    assert p.psi_fn(np.array([-1.0]))[0] == pytest.approx(0.1)
    s = derive_energy(sp.Symbol("x") ** 3 / (1 + sp.Symbol("x") ** 2))
    assert s.verified and s.method == "closed-form"


@pytest.mark.parametrize(
    ("spec", "params", "error", "match"),
    [
        ("leaky_relu", {"alph": 0.1}, OptnetError, "accepted: alpha"),
        ("alpha*x", {}, FormulaError, "unknown name 'alpha'"),
        ("log(x)", {}, OptnetError, "not (real|finite)"),
        ("sqrt(x - 1)", {}, OptnetError, "not real"),
        ("exp(exp(exp(x)))", {}, OptnetError, "exceeds 1e300"),
        ("1/x", {}, OptnetError, "x=0|undefined|finite"),
        ("leaky_relu", {"alpha": float("nan")}, OptnetError, "finite"),
    ],
)
def test_bad_specs_raise_clear_errors(spec: str, params: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        derive_energy(spec, **params)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optnet_nets.cli", *args], capture_output=True, text=True
    )


def test_cli_derive_json_and_clean_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "leaky_relu", "--param", "alpha=0.2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("phi", "psi", "psi_latex", "method", "verified", "max_check_error", "steps"):
        assert key in record
    assert record["params"] == {"alpha": 0.2} and record["verified"] is True
    assert record["slope_bounds"]["m"] == pytest.approx(0.2)
    bad = _cli("derive", "x.__class__", "--json")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert main(["derive", "relu", "--param", "alpha"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["derive", "swish", "--latex"]) == 0
    assert "Psi(x) = " in capsys.readouterr().out


def test_cli_activations_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["activations", "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert names == NAMES
    assert main(["activations"]) == 0
    assert "mish" in capsys.readouterr().out

