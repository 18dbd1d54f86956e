"""OGM, TMM and ITEM written as their papers' loops (optnet_theory.methods.traced) equal the
hand-written (A, B, C, D) schedules they replaced, and the tracer refuses what has no such form.

The reference schedules below are the package's schedules before the loops replaced them (issue
23, item 5), kept here only as the reference; their scalar sequences (theta, A_t, the TMM
constants) are the package's, written once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import mpmath
import pytest

from optnet_theory.errors import OptnetError
from optnet_theory.methods import MethodSpec, Params, Step, get_method, get_spec
from optnet_theory.methods.catalogue.optimal import _ogm_thetas, _tmm_coefficients, item_A
from optnet_theory.methods.traced import Grad, Lin, traced

# --- the reference: the hand-written schedules the loops replaced ---------------------------


def _two_point(p: Params, a: Any, b: Any) -> Step:
    one, zero = p.ar.one(), p.ar.zero()
    s = one / p.L
    return Step(A=((one + a, -a), (one, zero)), B=(-(one + a + b) * s, -s), C=(one, zero),
                D=(one, zero))  # fmt: skip


def _hold(p: Params) -> Step:
    one, zero = p.ar.one(), p.ar.zero()
    return Step(A=((one, zero), (zero, one)), B=(zero, zero), C=(one, zero), D=(one, zero))


def reference_ogm(j: int, p: Params) -> Step:
    assert p.N is not None
    N = p.N
    theta = p.sequence("theta", lambda q: list(_ogm_thetas(q, min(N, q.last + 1))))
    if j >= N:
        return _hold(p)
    return _two_point(p, (theta[j] - 1) / theta[j + 1], theta[j] / theta[j + 1])


def reference_tmm(j: int, p: Params) -> Step:
    _rho, alpha, beta, gamma, delta = p.sequence("tmm", _tmm_coefficients)
    one, zero = p.ar.one(), p.ar.zero()
    return Step(A=((one + beta, -beta), (one, zero)), B=(-alpha, zero),
                C=(one + gamma, -gamma), D=(one + delta, -delta))  # fmt: skip


def reference_item(j: int, p: Params) -> Step:
    A = p.sequence("A", lambda q: item_A(q, q.last + 1))
    one, zero = p.ar.one(), p.ar.zero()
    q = p.mu / p.L
    beta = A[j] / ((one - q) * A[j + 1])
    delta = ((one - q) ** 2 * A[j + 1] - (one + q) * A[j]) / (2 * (one + q + q * A[j]))
    s = one / p.L
    return Step(
        A=((beta, one - beta), (q * delta * beta, one - q * delta + q * delta * (one - beta))),
        B=(-s, -delta * s),
        C=(beta, one - beta),
        D=(zero, one),
    )


REFERENCE = {"ogm": reference_ogm, "tmm": reference_tmm, "item": reference_item}
TAKES_MU = {"ogm": False, "tmm": True, "item": True}


def _entries(st: Step) -> list[Any]:
    return [v for row in st.A for v in row] + [*st.B, *st.C, *st.D]


def max_relative_difference(new: list[Step], old: list[Step]) -> float:
    """max |new - old| / |old| over every coefficient (an exact zero must stay an exact zero)."""
    assert len(new) == len(old)
    worst = 0.0
    for a, b in zip(new, old, strict=True):
        ea, eb = _entries(a), _entries(b)
        assert len(ea) == len(eb)
        for x, y in zip(ea, eb, strict=True):
            if y == 0:
                if x != 0:
                    return float("inf")
                continue
            worst = max(worst, float(abs((x - y) / y)))
    return worst


def _both(name: str, N: int, q: float, L: float, **kw: Any) -> tuple[list[Step], list[Step]]:
    mu = q * L if TAKES_MU[name] else 0.0
    m = get_method(name, L=L, mu=mu, N=N)
    old = replace(m.spec, schedule=REFERENCE[name]).bind(L=L, mu=mu, N=N)
    return m.coefficients(N, **kw), old.coefficients(N, **kw)


GRID = [(name, N, q) for name in ("ogm", "tmm", "item") for N in (1, 5, 20, 40)
        for q in ((0.1, 0.01, 0.001) if TAKES_MU[name] else (0.0,))]  # fmt: skip


@pytest.mark.parametrize("L", [1.0, 3.0])
@pytest.mark.parametrize(("name", "N", "q"), GRID)
def test_traced_loops_equal_the_hand_written_schedules(name: str, N: int, q: float,
                                                       L: float) -> None:  # fmt: skip
    new, old = _both(name, N, q, L)
    assert max_relative_difference(new, old) <= 1e-13


@pytest.mark.parametrize("name", ["ogm", "tmm", "item"])
def test_traced_loops_keep_the_mp_arithmetic(name: str) -> None:
    new, old = _both(name, 20, 0.001, 3.0, arithmetic="mp", dps=40)
    assert all(isinstance(v, mpmath.mpf) for st in new for v in _entries(st))
    with mpmath.workdps(40):
        assert max_relative_difference(new, old) <= 1e-35


@pytest.mark.parametrize("name", ["ogm", "tmm", "item"])
def test_traced_loops_keep_the_exact_arithmetic(name: str) -> None:
    new, old = _both(name, 2, 0.01, 1.0, arithmetic="exact")
    for a, b in zip(new, old, strict=True):
        for x, y in zip(_entries(a), _entries(b), strict=True):
            assert abs(float((x - y).evalf(50))) <= 1e-45 * max(1.0, abs(float(y)))


@pytest.mark.parametrize("name", ["tmm", "item"])
def test_the_large_coefficients_are_equal_too(name: str) -> None:
    """At mu/L = 0.001 TMM's D is 16 from the start, and ITEM's B passes 31.5 after about 100
    iterations (-delta_t/L tends to 1/sqrt(q) = 31.62): 200 iterations, same bound."""
    new, old = _both(name, 200, 0.001, 1.0)
    large = max(abs(v) for st in old for v in (st.B if name == "item" else st.D))
    assert large > (31.5 if name == "item" else 16)
    assert max_relative_difference(new, old) <= 1e-13


# --- negative controls -------------------------------------------------------------------


def _tmm_nudged(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    _rho, alpha, beta, gamma, _delta = _tmm_coefficients(p)
    beta = beta * (1 + 1e-10)  # one coefficient nudged by 1e-10 relative
    y = (1 + gamma) * xi - gamma * xi_prev
    return (1 + beta) * xi - beta * xi_prev - alpha * grad(y), xi


def _tmm_x(p: Params, xi: Lin, xi_prev: Lin) -> Lin:
    delta = _tmm_coefficients(p)[4]
    return (1 + delta) * xi - delta * xi_prev


def test_a_coefficient_nudged_by_1e10_is_caught() -> None:
    m = get_method("tmm", mu=0.01)
    nudged = replace(m.spec, schedule=traced(_tmm_nudged, _tmm_x)).bind(mu=0.01)
    gap = max_relative_difference(nudged.coefficients(5), m.coefficients(5))
    assert 1e-11 < gap < 1e-9


def _spec(body: Any, output: Any = None) -> MethodSpec:
    return replace(get_spec("tmm"), name="bad", schedule=traced(body, output or _tmm_x))


def _two_calls(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    return xi - grad(xi) - grad(xi_prev), xi


def _gradient_in_c(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    g = grad(xi)
    return xi - grad(xi + g), xi


def _affine(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    return xi - grad(xi) + 1.0, xi


def _product(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    return xi - grad(xi) * xi, xi


def _no_call(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    return xi + xi_prev, xi


def _one_state(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    return (xi - grad(xi),)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_two_calls, "a second gradient call in one sub-step"),
        (_gradient_in_c, "the gradient is taken at a point that holds a gradient"),
        (_affine, "must be linear in its points"),
        (_product, "must be linear in its points"),
        (_no_call, "no gradient call, yet the states changed"),
        (_one_state, "return the 2 new states"),
    ],
)
def test_loops_without_a_linear_one_call_form_are_refused(body: Any, message: str) -> None:
    with pytest.raises(OptnetError, match=message) as err:
        _spec(body).bind(mu=0.01).coefficients(2)
    assert "\n" not in str(err.value) and body.__name__ in str(err.value)


def test_an_output_holding_a_gradient_is_refused() -> None:
    leak: list[Lin] = []

    def body(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
        leak.append(grad(xi))
        return xi - leak[-1], xi

    def output(p: Params, xi: Lin, xi_prev: Lin) -> Lin:
        return xi + leak[-1] if leak else xi

    with pytest.raises(OptnetError, match="another sub-step|holds a gradient"):
        _spec(body, output).bind(mu=0.01).coefficients(2)


def test_body_and_output_must_name_the_same_states() -> None:
    def output(p: Params, x: Lin, z: Lin) -> Lin:
        return x

    with pytest.raises(OptnetError, match="must take the same"):
        traced(_two_calls, output)
