"""The checks of Lemma 1 and (11)-(14): they hold to rounding, and they catch wrong networks."""

from __future__ import annotations

import json
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optnet_theory.verify.claims as verify_mod
from optnet_nets.cli import main
from optnet_theory.coefficients import h_recursion, nesterov_beta
from optnet_theory.energy.activations import list_activations
from optnet_theory.errors import OptnetError
from optnet_theory.paper_values import SIMULATION_HB_BETA
from optnet_theory.strategies import conditions, depths, dims, registry_activations
from optnet_theory.verify import CLAIMS, claim_method, make_settings, verify_all, verify_claim
from optnet_theory.verify.matrices import NotSPDError, random_spd
from optnet_theory.verify.networks import hb_network, layer_map
from tests.theory.reference_algorithms import nesterov_agd_summed
from tests.theory.reference_networks import agd2_network, agd_network

DEPTH = 12


@pytest.fixture(scope="module")
def float_settings():
    return make_settings("sigmoid", dim=6, cond=10.0, trials=2, seed=1)


# --- the claims hold -----------------------------------------------------------------------


@settings(max_examples=10)
@given(registry_activations(), dims(32), depths(40), conditions(1e3), st.integers(0, 2**16))
def test_every_claim_holds_in_float64(activation, dim, depth, cond, seed):
    results = verify_all(activation, dim=dim, depth=depth, cond=cond, trials=1, seed=seed)
    assert [r.claim for r in results] == list(CLAIMS)
    for r in results:
        assert r.passed, r
        assert r.max_rel_error <= r.tolerance < 1e-8


def test_high_precision_path_runs_at_30_digits():
    for r in verify_all("tanh", dim=4, depth=6, cond=50.0, trials=1, precision=30):
        assert r.passed and r.precision == 30
        assert r.max_abs_error < 1e-26


@pytest.mark.slow
@pytest.mark.parametrize("activation", list_activations())
def test_every_registry_activation_at_50_digits(activation):
    for r in verify_all(activation, dim=6, depth=20, cond=100.0, trials=1, precision=50):
        assert r.passed, r
        assert r.max_abs_error < 1e-40 and r.max_rel_error < 1e-40


@pytest.mark.slow
@pytest.mark.parametrize("activation", list_activations())
def test_every_registry_activation_float64_largest_setting(activation):
    for r in verify_all(activation, dim=32, depth=40, cond=1e3, trials=2):
        assert r.passed, r


# --- negative controls: a wrong network is caught by the same checks -------------------------


def _caught(claim, float_settings, network, margin=1e3):
    r = verify_claim(claim, depth=DEPTH, settings=float_settings, network=network)
    assert not r.passed
    assert r.max_rel_error > margin * r.tolerance  # far outside rounding, not a near miss
    return r


def _misindexed_h(K):
    # (5) driven by beta_k where beta_{k+1} belongs: an off-by-one in the recursion
    beta = nesterov_beta(K)
    return h_recursion([0.0, *beta[:K]])


def test_reference_networks_pass_on_the_same_settings(float_settings):
    for claim in CLAIMS:
        assert verify_claim(claim, depth=DEPTH, settings=float_settings).passed


def test_hb_with_beta_off_by_1e_3_is_caught(float_settings):
    wrong = SIMULATION_HB_BETA + 1e-3
    _caught("hb", float_settings, lambda phi, W, x0, K: hb_network(phi, W, x0, K, beta=wrong))


def test_agd2_with_misindexed_h_is_caught(float_settings):
    _caught(
        "agd2",
        float_settings,
        lambda phi, W, x0, K: agd2_network(phi, W, x0, K, h=_misindexed_h(K)),
    )


def test_nesterov_forms_with_misindexed_h_is_caught(float_settings):
    _caught(
        "nesterov-forms",
        float_settings,
        lambda g, y0, K: nesterov_agd_summed(g, y0, K, h=_misindexed_h(K)),
    )


def test_agd_with_shifted_momentum_is_caught(float_settings):
    beta = nesterov_beta(DEPTH + 1)
    _caught("agd", float_settings, lambda phi, W, x0, K: agd_network(phi, W, x0, K, beta=beta[1:]))


def test_admm_with_a_sign_flip_in_14_is_caught(float_settings):
    def flipped(phi, W, x0, K):
        T = layer_map(phi, W)
        xp, x, acc = [x0], [x0], x0 * 0
        for k in range(K):
            xp.append((T(xp[k]) + x[k] + acc) / 2)  # sign of the sum flipped
            x.append((T(x[k]) + xp[k + 1] + acc) / 2)
            acc = acc + (xp[k + 1] - x[k + 1])
        return xp, x

    _caught("admm", float_settings, flipped)


def test_lemma1_with_w_off_by_one_part_per_million_is_caught(float_settings):
    def scaled(phi, W, x0, K):
        x = [x0]
        for _ in range(K):
            x.append(phi((1 + 1e-6) * W @ x[-1]))
        return x

    _caught("lemma1", float_settings, scaled, margin=10)


@pytest.mark.parametrize("claim", ["ogm", "ogmg", "tmm", "item"])
def test_new_methods_with_one_perturbed_coefficient_are_caught(float_settings, claim):
    """The network of a method whose schedule has one coefficient off by 1e-3 is caught."""
    from dataclasses import replace

    from optnet_theory.methods import Step

    method = claim_method(claim)
    spec = method.spec

    def perturbed(j, p):
        st = spec.schedule(j, p)
        if j != 2:
            return st
        return Step(A=st.A, B=(st.B[0] * (1 + 1e-3), *st.B[1:]), C=st.C, D=st.D)

    wrong = replace(spec, schedule=perturbed).bind(L=method.L, mu=method.mu, N=method.N,
                                                   **method.params)
    _caught(claim, float_settings, lambda phi, W, x0, K: list(wrong.network(phi, W, x0, K).outputs))


@pytest.mark.slow
def test_at_50_digits_beta_off_by_1e_30_is_caught():
    s = make_settings("sigmoid", dim=6, cond=10.0, trials=1, precision=50)
    with mpmath.workdps(50):
        wrong = mpmath.mpf(SIMULATION_HB_BETA) + mpmath.mpf(10) ** -30
    r = verify_claim(
        "hb", depth=DEPTH, settings=s, network=lambda p, W, x, K: hb_network(p, W, x, K, beta=wrong)
    )
    assert not r.passed and r.max_abs_error > 1e-33
    assert verify_claim("hb", depth=DEPTH, settings=s).max_abs_error < 1e-40


# --- W that is not SPD, given W and x0, bad input ------------------------------------------------


def test_non_spd_w_is_refused_with_the_reason():
    rng = np.random.default_rng(0)
    nonsym = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    with pytest.raises(NotSPDError, match="symmetric positive definite"):
        verify_claim("lemma1", W=nonsym)
    with pytest.raises(NotSPDError, match="sqrt"):
        verify_claim("hb", W=-np.eye(3))


def test_general_w_variant_when_asked():
    rng = np.random.default_rng(0)
    nonsym = 0.2 * rng.standard_normal((4, 4)) + np.eye(4)
    for r in verify_all("tanh", W=nonsym, general_w=True, trials=2, depth=10):
        assert r.passed and r.general_w, r
    with pytest.raises(OptnetError, match="negative real axis"):
        verify_claim("lemma1", W=-np.eye(2), general_w=True)


def test_given_w_and_x0_are_used():
    W = random_spd(3, 5.0, np.random.default_rng(9))
    r = verify_claim("agd", "relu", W=W, x0=np.array([1.0, -2.0, 0.5]), trials=1, depth=7)
    assert r.passed and r.dim == 3 and r.cond == pytest.approx(5.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"dim": 0}, {"cond": 0.5}, {"trials": 0}, {"precision": 3}, {"depth": -1}],
)
def test_bad_arguments_are_optnet_errors(kwargs):
    with pytest.raises(OptnetError):
        verify_claim("lemma1", **kwargs)
    with pytest.raises(OptnetError, match="choose from"):
        verify_claim("resnet")


def test_verify_imports_neither_torch_nor_hypothesis():
    code = (
        "import sys, optnet_theory.verify, optnet_theory.commands.verify; "
        "bad = {'torch', 'hypothesis'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


# --- command line ----------------------------------------------------------------------------


def test_cli_json_lines_and_exit_status(capsys):
    assert main(["verify", "all", "--json", "--dim", "4", "--depth", "6", "--trials", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["claim"] for r in rows] == list(CLAIMS)
    keys = {
        "claim",
        "max_abs_error",
        "max_rel_error",
        "passed",
        "trials",
        "precision",
        "tolerance",
        "activation",
        "dim",
        "depth",
        "cond",
    }
    assert all(keys <= set(r) and r["passed"] for r in rows)


def test_cli_table_and_failure_exit(capsys, monkeypatch):
    assert main(["verify", "hb", "--dim", "3", "--depth", "4"]) == 0
    out = capsys.readouterr().out
    assert "hb" in out and "pass" in out
    monkeypatch.setattr(verify_mod, "TOLERANCE_FACTOR", 0.0)  # nothing but exact equality passes
    assert main(["verify", "agd2", "--dim", "5", "--depth", "9"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_bad_input_is_one_line_exit_2(capsys):
    assert main(["verify", "all", "--cond", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cond" in err
