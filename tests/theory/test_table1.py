"""The Table 1 audit: computed verdicts, derived replacements, negative controls, CLI."""

from __future__ import annotations

import json

import pytest
import sympy as sp

from optnet_nets.cli import main
from optnet_theory.antiderivative.check import check_antiderivative
from optnet_theory.energy.activations import X
from optnet_theory.energy.table1 import audit_row, audit_table1
from optnet_theory.paper_values import table1_transcription


@pytest.fixture(scope="module")
def rows() -> dict[str, object]:
    return {r.activation: r for r in audit_table1()}


def test_every_printed_row_is_audited(rows: dict) -> None:
    assert list(rows) == list(table1_transcription())
    assert all(r.verdict in ("correct", "erratum") and r.detail for r in rows.values())


def test_verdicts_match_the_hand_derivations(rows: dict) -> None:
    """Worked by hand in docs: sigmoid/tanh derivative, softsign log, ELU jump, Swish sign."""
    errata = {k for k, r in rows.items() if r.verdict == "erratum"}
    assert errata == {"Sigmoid", "tanh", "Softsign", "ELU", "Swish"}
    assert "Phi(-x)" in rows["Sigmoid"].detail
    assert "-Phi(x)" in rows["tanh"].detail
    assert "negative" in rows["Softsign"].detail and "x <= 0" in rows["Softsign"].detail
    assert "jump of a at x = 0" in rows["ELU"].detail
    assert "C" in rows["Softplus"].detail


def test_derived_replacements_are_verified(rows: dict) -> None:
    printed = table1_transcription()
    bind = {sp.Symbol("alpha", real=True): sp.Rational(1, 10), sp.Symbol("a", real=True): 2}
    for label, row in rows.items():
        phi = printed[label][0].subs(bind)  # type: ignore[attr-defined]
        assert check_antiderivative(phi, row.derived.subs(bind), X).verified, label


def test_corrected_row_is_correct_and_broken_row_is_erratum(rows: dict) -> None:
    """Negative controls: the audit passes the derived ELU row and fails a broken ReLU row."""
    phi_elu, _ = table1_transcription()["ELU"]
    assert audit_row("ELU", phi_elu, rows["ELU"].derived).verdict == "correct"
    phi_relu, _ = table1_transcription()["ReLU"]
    broken = sp.Piecewise((X**2, X > 0), (0, True))
    assert audit_row("ReLU", phi_relu, broken).verdict == "erratum"


def test_cli_json_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 8
    for row in data:
        assert set(row) == {"activation", "printed", "derived", "verdict", "detail"}
    for flags in (["--markdown"], ["--markdown", "--latex"], ["--latex"], []):
        assert main(["table1", *flags]) == 0
        assert "Softsign" in capsys.readouterr().out
