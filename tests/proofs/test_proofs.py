"""Every proof runs and is PROVED, and each one FAILS when one coefficient of its claim changes."""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
import sympy as sp

from optnet_proofs import (
    admm,
    heavy_ball,
    lemma1,
    methods,
    nesterov,
    nesterov_sum,
    recursion5,
    table3_cnn,
    table3_densenet,
    table3_dmrnet,
    table3_resnet,
)
from optnet_proofs.registry import list_proofs, load


@pytest.mark.parametrize("name", list_proofs())
def test_every_proof_is_proved(name: str) -> None:
    module = load(name)
    start = time.perf_counter()
    result = module.prove()
    wall = time.perf_counter() - start
    assert result.proved, result.failures
    assert result.name == name
    assert any(step.ok for step in result.steps)
    # measured, not typed in: the proof's own clock lies inside the call's (in seconds)
    assert math.isfinite(result.seconds) and 0 < result.seconds <= wall


def _perturbed(module, **changes):  # type: ignore[no-untyped-def]
    return dataclasses.replace(module.CLAIM, **changes)


half = sp.Rational(1, 2)

PERTURBATIONS = [
    # (module, field, new value, keyword arguments that keep the run short)
    (lemma1, "grad_phi", sp.Integer(-2), {"dimensions": (1, 2)}),
    (lemma1, "grad_z", sp.Integer(2), {"dimensions": (2,)}),
    (lemma1, "layer_power", 1, {"dimensions": (2,)}),
    (heavy_ball, "x_km1_coef", heavy_ball.beta, {}),
    (heavy_ball, "phi", sp.Integer(2), {}),
    (heavy_ball, "x_k_coef", 1 + heavy_ball.beta, {}),
    (nesterov, "inner_x_k", 1 + 2 * nesterov.BETA_K, {"dimensions": (2,)}),
    (
        nesterov,
        "inner_x_km1",
        -nesterov.theta_k * (1 - nesterov.theta_k) / nesterov.theta_km1,
        {"dimensions": (1,)},
    ),
    (nesterov_sum, "phi", 2 * nesterov_sum.H, {"dimensions": (1,)}),
    (nesterov_sum, "x_k_coef", sp.Integer(0), {"dimensions": (1,)}),
    (nesterov_sum, "x_j", nesterov_sum.H, {"dimensions": (1,)}),
    (admm, "c1", half, {"dimensions": (1,), "unrolled": 1}),
    (admm, "b2", sp.Integer(1), {"dimensions": (1,), "unrolled": 1}),
    (admm, "a1", sp.Integer(1), {"dimensions": (2,), "unrolled": 0}),
    (methods, "b_scale", 1 + sp.Rational(1, 100), {"sizes": ((2, 1),), "methods": ("ogm",)}),
    (methods, "phi_scale", sp.Integer(2), {"sizes": (), "methods": ("item",)}),
    (table3_cnn, "sign_a", 1, {}),
    (table3_cnn, "sign_b", 1, {}),
    (table3_resnet, "beta_1", sp.Integer(2), {}),
    (table3_resnet, "beta_2", sp.Integer(1), {}),
    (table3_densenet, "alpha", sp.Integer(2), {}),
    (table3_densenet, "beta", sp.Integer(1), {}),
    (table3_dmrnet, "alpha_current", sp.Integer(1), {}),
    (table3_dmrnet, "beta_older", half, {}),
    (table3_dmrnet, "first", 1, {}),
]


@pytest.mark.parametrize(
    ("module", "field", "value", "kwargs"),
    PERTURBATIONS,
    ids=[f"{m.NAME}-{f}" for m, f, _, _ in PERTURBATIONS],
)
def test_a_false_claim_fails(module, field, value, kwargs) -> None:  # type: ignore[no-untyped-def]
    result = module.prove(_perturbed(module, **{field: value}), **kwargs)
    assert not result.proved
    assert result.verdict == "FAILED"
    assert result.failures


@pytest.mark.parametrize("field", ["older", "previous", "newest"])
def test_recursion5_fails_in_the_inductive_step_and_the_explicit_run(field: str) -> None:
    claim = recursion5.CLAIM
    wrong = dataclasses.replace(claim, **{field: getattr(claim, field) + recursion5.th1})
    result = recursion5.prove(wrong, iterations=4)
    assert not result.proved
    assert any("inductive step" in f for f in result.failures)
    assert any("explicit" in f for f in result.failures)


def test_the_all_n_step_of_lemma1_alone_catches_a_wrong_gradient() -> None:
    result = lemma1.prove(dataclasses.replace(lemma1.CLAIM, grad_phi=sp.Integer(1)), dimensions=())
    assert any("symbolic n" in f or "j-th entry" in f for f in result.failures)


def test_errata_are_computed_from_the_transcriptions(monkeypatch: pytest.MonkeyPatch) -> None:
    wheres = {e.where for e in lemma1.prove(dimensions=(1,)).errata}
    assert any("Sec. 3, last sentence" in w for w in wheres)
    assert any("Proof 1" in w for w in wheres)
    # A correct transcription produces no erratum: the errata are not typed in.
    monkeypatch.setattr(lemma1, "PRINTED_SECTION3_OBJECTIVES_TABLE", "Table 1")
    monkeypatch.setattr(lemma1, "PRINTED_PROOF1_LAST_ARGUMENT_POWER", 2)
    assert lemma1.prove(dimensions=(1,)).errata == []


def test_table3_errata_follow_the_printed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(table3_resnet.prove().errata) == 1
    monkeypatch.setattr(
        table3_resnet,
        "PRINTED_SETTING",
        {table3_resnet.beta_1: sp.Integer(1), table3_resnet.beta_2: sp.Integer(0)},
    )
    assert table3_resnet.prove().errata == []
    assert len(table3_dmrnet.prove().errata) == 2
    monkeypatch.setattr(table3_dmrnet, "PRINTED", table3_dmrnet.CLAIM)
    assert table3_dmrnet.prove().errata == []


def test_recursion5_reports_a_slip_in_the_printed_coefficients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert recursion5.prove(iterations=2).errata == []
    slipped = dataclasses.replace(recursion5.PRINTED, newest=sp.Integer(1) + recursion5.th0)
    monkeypatch.setattr(recursion5, "PRINTED", slipped)
    errata = recursion5.prove(iterations=2).errata
    assert [e.where for e in errata] == ["(5), case newest"]


def test_index_errata_are_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [e.where for e in nesterov_sum.prove(dimensions=(1,), max_k=0).errata] == [
        "Sec. 6, text on Figure 1(c)"
    ]
    monkeypatch.setattr(nesterov_sum, "PRINTED_FIG1C_FIRST_INDEX", 0)
    assert nesterov_sum.prove(dimensions=(1,), max_k=0).errata == []


def test_admm_reports_that_20_is_not_a_rewriting_of_14() -> None:
    (erratum,) = admm.prove(dimensions=(1,), unrolled=1).errata
    assert "Phi(W x'_2) with coefficient 1/4" in erratum.note
    assert "x_1 by 1/2 but x_2 by 1" in erratum.note
