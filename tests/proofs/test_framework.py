"""The proof machinery: a proof with a failed check or with no check at all is FAILED."""

from __future__ import annotations

import sympy as sp

from optnet_proofs.algebra import Phi, Psi, gd_gradient, symmetric_matrix, use_psi_prime, vector
from optnet_proofs.framework import Equation, Proof, is_zero, render_math


def test_a_failed_check_fails_the_proof() -> None:
    proof = Proof("p", "t", "c")
    x = sp.Symbol("x")
    assert proof.check_zero("true", sp.expand((x + 1) ** 2 - x**2 - 2 * x - 1))
    assert not proof.check_zero("false", (x + 1) ** 2 - x**2)
    result = proof.finish()
    assert not result.proved
    assert result.failures == ["false"]
    assert "FAILED" in result.render()


def test_a_proof_without_checks_is_not_proved() -> None:
    proof = Proof("p", "t", "c")
    proof.note("words only")
    assert not proof.finish().proved


def test_is_zero_on_matrices() -> None:
    x = sp.Symbol("x")
    assert is_zero(sp.Matrix([0, x - x]))
    assert not is_zero(sp.Matrix([0, x]))


def test_psi_prime_becomes_phi_through_the_chain_rule() -> None:
    a, z = sp.symbols("a z")
    assert use_psi_prime(sp.diff(Psi(a * z), z)) == a * Phi(a * z)
    assert use_psi_prime(sp.diff(Psi(z), z)) == Phi(z)


def test_gradient_of_the_objective_is_nine_for_n2() -> None:
    U, z = symmetric_matrix(2), vector("z", 2)
    grad = gd_gradient(U, z)
    expected = z - U * sp.Matrix([Phi(sp.expand((U * z)[i])) for i in range(2)])
    assert (grad - expected).applyfunc(sp.expand) == sp.zeros(2, 1)


def test_latex_and_plain_rendering() -> None:
    x = sp.Symbol("x")
    assert render_math(Equation(x, 2 * x), latex=True) == "x = 2 x"
    assert "=" in render_math(Equation(x, 2 * x), latex=False)
