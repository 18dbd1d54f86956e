"""Nesterov's coefficients: the theta schedule of (3), beta_k, h_{k,j} of (5), footnote 4."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import optnet_theory
from optnet_theory.coefficients import (
    NesterovH,
    h_recursion,
    nesterov_beta,
    nesterov_h,
    nesterov_h_matrix,
    nesterov_theta,
    strongly_convex_beta,
    strongly_convex_h,
)
from optnet_theory.errors import OptnetError


def test_public_name_and_first_rows():
    h = optnet_theory.nesterov_h(5)
    assert len(h) == 6 and len(h[0]) == 0
    assert h[1][0] == 1.0
    assert [len(h[k]) for k in range(1, 6)] == [1, 2, 3, 4, 5]


def test_theta_satisfies_its_defining_equation_float_and_mp():
    th = nesterov_theta(2000)
    assert th[0] == 1.0
    for k in range(1, 2001):
        lhs, rhs = (1 - th[k]) / th[k] ** 2, 1 / th[k - 1] ** 2
        assert abs(lhs - rhs) <= 1e-12 * rhs
    with mpmath.workdps(60):
        tm = nesterov_theta(200, dps=60)
        worst = max(abs((1 - tm[k]) / tm[k] ** 2 - 1 / tm[k - 1] ** 2) for k in range(1, 201))
        assert worst < mpmath.mpf(10) ** -50


def test_exact_theta_is_the_golden_ratio_root_then_checks_at_80_digits():
    th = nesterov_theta(6, exact=True)
    assert sympy.simplify(th[1] - (sympy.sqrt(5) - 1) / 2) == 0
    for k in range(1, 7):
        residual = (1 - th[k]) / th[k] ** 2 - 1 / th[k - 1] ** 2
        assert abs(sympy.N(residual, 80)) < sympy.Float(10) ** -70


def test_beta_schedule_definition_and_first_values():
    th, b = nesterov_theta(50), nesterov_beta(50)
    assert b[0] == 0.0 and b[1] == 0.0
    for k in range(1, 51):
        assert b[k] == pytest.approx(th[k] * (1 - th[k - 1]) / th[k - 1], rel=1e-15)
    assert all(0 <= b[k] < b[k + 1] < 1 for k in range(1, 50))


def test_h_recursion_is_eq5_for_a_symbolic_beta():
    b = sympy.symbols("b0:5")
    h = h_recursion(list(b))
    assert h[1] == [1 + b[1]]
    assert sympy.expand(h[3][0]) == sympy.expand(b[3] * h[2][0])  # j <= k-2 branch
    assert sympy.expand(h[3][1] - b[3] * (h[2][1] - 1)) == 0  # j = k-1 branch
    assert h[4][3] == 1 + b[4]  # j = k branch


@given(st.lists(st.floats(min_value=0.0, max_value=0.999), min_size=1, max_size=60))
def test_float_rows_equal_the_literal_recursion(betas):
    # reference: (5) run literally in exact rational arithmetic. (5) run literally in finite
    # precision is NOT a reference: h_{k,k-1} - 1 cancels, e.g. beta_1 = 1e-76 gives h_{2,0} = 0
    # there, while the product form used by NesterovH keeps beta_1 beta_2 to full accuracy.
    beta = [0.0, *betas]
    lazy = NesterovH(beta)
    literal = h_recursion([Fraction(b) for b in beta])
    for k in range(1, len(beta)):
        ref = np.array([float(v) for v in literal[k]])
        # atol only forgives subnormal results (below 2.2e-308, relative accuracy is lost)
        np.testing.assert_allclose(lazy[k], ref, rtol=1e-12, atol=1e-300)


def test_literal_float_recursion_agrees_on_the_theta_schedule():
    beta = nesterov_beta(500)
    lazy, literal = NesterovH(beta), h_recursion(beta)
    for k in range(1, 501):
        np.testing.assert_allclose(lazy[k], literal[k], rtol=1e-13, atol=0)


def test_float64_h_matches_50_digit_recursion():
    K = 300
    ref = nesterov_h(K, dps=50)
    h = nesterov_h(K)
    for k in (1, 2, 3, 17, 150, K):
        np.testing.assert_allclose(h[k], np.array(ref[k], dtype=float), rtol=1e-13, atol=0)


def test_exact_dps_and_float_agree():
    ex, mp, fl = nesterov_h(8, exact=True), nesterov_h(8, dps=40), nesterov_h(8)
    for k in range(1, 9):
        for j in range(k):
            with mpmath.workdps(40):
                as_text = mpmath.nstr(mp[k][j], 40)
            assert abs(sympy.N(ex[k][j], 40) - sympy.Float(as_text, 40)) < 1e-35
            assert fl[k][j] == pytest.approx(float(mp[k][j]), rel=1e-14, abs=1e-300)


def test_h_of_theta_schedule_has_zero_first_column_from_row_two():
    # beta_1 = 0 because theta_0 = 1, so h_{k,0} = beta_1 ... beta_k = 0 for k >= 2
    h = nesterov_h(30)
    assert all(h[k][0] == 0.0 for k in range(2, 31))
    assert h[2][1] == pytest.approx(1 + nesterov_beta(2)[2])


def test_ten_thousand_layers_rows_and_matrix():
    K = 10_000
    h = nesterov_h(K)
    row = h[K]
    assert row.shape == (K,) and np.all(np.isfinite(row))
    assert row[K - 1] == pytest.approx(1 + nesterov_beta(K)[K])
    assert np.all(row[1:-1] > 0) and np.all(np.diff(row[:-1]) > 0)
    H = nesterov_h_matrix(200)
    assert H.shape == (201, 200)
    small = nesterov_h(200)
    for k in (1, 50, 200):
        np.testing.assert_array_equal(H[k, :k], small[k])
        assert np.all(H[k, k:] == 0)


def test_strongly_convex_footnote4():
    L, mu = 9.0, 1.0
    b = strongly_convex_beta(L, mu)
    assert b == pytest.approx(0.5)
    h = strongly_convex_h(6, L, mu)
    for k in range(1, 7):
        assert h[k][k - 1] == pytest.approx(1 + b)
        for j in range(k - 1):
            assert h[k][j] == pytest.approx(b ** (k - j))
    ex = strongly_convex_h(4, 4, 1, exact=True)
    assert ex[4] == [
        sympy.Rational(1, 81),
        sympy.Rational(1, 27),
        sympy.Rational(1, 9),
        sympy.Rational(4, 3),
    ]
    mp = strongly_convex_h(4, 4, 1, dps=30)
    with mpmath.workdps(30):
        assert abs(mp[4][0] - mpmath.mpf(1) / 81) < 1e-28


@pytest.mark.parametrize(
    "call",
    [
        lambda: nesterov_h(-1),
        lambda: nesterov_h(2.5),
        lambda: nesterov_h(3, exact=True, dps=20),
        lambda: nesterov_h(100, exact=True),
        lambda: nesterov_h(3, dps=0),
        lambda: strongly_convex_beta(1.0, 2.0),
        lambda: strongly_convex_beta("a", 1.0),
    ],
)
def test_bad_input_is_an_optnet_error(call):
    with pytest.raises(OptnetError):
        call()
