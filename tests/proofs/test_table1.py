"""Table 1 proof: a wrong Psi fails, a constant shift does not, and the printed rows are audited."""

from __future__ import annotations

import pytest
import sympy as sp

from optnet_proofs import table1
from optnet_proofs.table1 import Table1Claim, s


def test_a_wrong_slope_fails() -> None:
    result = table1.prove(Table1Claim(activations=("relu",), psi_edits=(("relu", s),)))
    assert not result.proved


def test_a_jump_on_one_branch_fails() -> None:
    edit = sp.Piecewise((1, s < 0), (0, True))
    result = table1.prove(Table1Claim(activations=("elu",), psi_edits=(("elu", edit),)))
    assert not result.proved
    assert any("jumps" in f for f in result.failures)


def test_a_constant_shift_is_still_an_antiderivative() -> None:
    result = table1.prove(Table1Claim(activations=("relu",), psi_edits=(("relu", sp.Integer(5)),)))
    assert result.proved


def test_printed_rows_are_audited(monkeypatch: pytest.MonkeyPatch) -> None:
    result = table1.prove(Table1Claim(activations=("relu", "elu", "softsign")))
    assert result.proved
    assert sorted(e.where for e in result.errata) == ["Table 1, row elu", "Table 1, row softsign"]
    elu = next(e for e in result.errata if e.where.endswith("elu"))
    assert "jumps by -a at s = 0" in elu.note
    a = sp.Symbol("a", real=True)
    corrected = dict(table1.PRINTED_ROWS)
    phi, _ = corrected["elu"]
    corrected["elu"] = (phi, sp.Piecewise((s**2 / 2, s > 0), (a * (sp.exp(s) - s - 1), True)))
    monkeypatch.setattr(table1, "PRINTED_ROWS", corrected)
    result = table1.prove(Table1Claim(activations=("elu",)))
    assert result.errata == []
    # the audit of optnet_theory.energy.table1 agrees that the row is now right
    assert result.proved


def test_sign_slips_are_named() -> None:
    result = table1.prove(Table1Claim(activations=("sigmoid", "tanh")))
    notes = {e.where: e.note for e in result.errata}
    assert "Psi' = Phi(-s)" in notes["Table 1, row sigmoid"]
    assert "Psi' = -Phi(s)" in notes["Table 1, row tanh"]


def test_a_numeric_only_energy_fails_the_row(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    fake = SimpleNamespace(psi=None, method="numeric", steps=("sympy: time budget spent",))
    monkeypatch.setattr(table1, "derive_energy", lambda name: fake)
    result = table1.prove(Table1Claim(activations=("relu",)))
    assert not result.proved
    assert "numeric" in result.failures[0]
