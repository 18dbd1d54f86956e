"""Methods that beat Nesterov's worst case, from their published update equations.

- ``ogm``: optimized gradient method, Kim & Fessler, "Optimized first-order methods for smooth
  convex minimization", Math. Program. 159 (2016).
- ``ogmg``: OGM-G, Kim & Fessler, "Optimizing the efficiency of first-order methods for
  decreasing the gradient of smooth convex functions", JOTA 188 (2021), Sec. 6.3.
- ``tmm``: triple momentum method, Van Scoy, Freeman & Lynch, "The fastest known globally
  convergent first-order method for minimizing strongly convex functions", IEEE L-CSS 2 (2018).
- ``item``: information-theoretic exact method, Taylor & Drori, "An optimal gradient method for
  smooth strongly convex minimization", Math. Program. 199 (2023; arXiv 2021).

Step 1/L throughout. The scalar sequences (theta, theta-tilde, A_t) are written once here and
evaluate in any arithmetic of :mod:`optnet_theory.methods.arith`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.arith import arith
from optnet_theory.methods.core import Method
from optnet_theory.methods.spec import MethodSpec, Params, Step

__all__ = ["ITEM", "OGM", "OGMG", "OPTIMAL_METHODS", "TMM", "item_A", "ogm_theta", "ogmg_theta"]


def _horizon(p: Params, name: str) -> int:
    if p.N is None:
        raise OptnetError(f"method {name!r} needs its horizon N")
    return p.N


def _ogm_thetas(p: Params, count: int) -> Iterator[Any]:
    """theta_0..theta_count of OGM (count <= N), one at a time."""
    N = _horizon(p, "ogm")
    one = p.ar.one()
    theta = one
    yield theta
    for t in range(1, count + 1):
        c = 8 if t == N else 4
        theta = (one + p.ar.sqrt(one + c * theta**2)) / 2
        yield theta


def ogm_theta(p: Params) -> list[Any]:
    """theta_0..theta_N of OGM: theta_0 = 1, theta_t = (1 + sqrt(1 + 4 theta_{t-1}^2))/2 for
    1 <= t < N, theta_N = (1 + sqrt(1 + 8 theta_{N-1}^2))/2."""
    return list(_ogm_thetas(p, _horizon(p, "ogm")))


def _two_point(p: Params, a: Any, b: Any) -> Step:
    """The shared shape of OGM and OGM-G on the state (w_t, v_t), gradient at w_t:

    v_{t+1} = w_t - u/L,  w_{t+1} = v_{t+1} + a (v_{t+1} - v_t) + b (v_{t+1} - w_t).
    """
    one, zero = p.ar.one(), p.ar.zero()
    s = one / p.L
    return Step(
        A=((one + a, -a), (one, zero)),
        B=(-(one + a + b) * s, -s),
        C=(one, zero),
        D=(one, zero),
    )


def _hold(p: Params) -> Step:
    """After the horizon: no motion (only C and D are read, for the last point)."""
    one, zero = p.ar.one(), p.ar.zero()
    return Step(A=((one, zero), (zero, one)), B=(zero, zero), C=(one, zero), D=(one, zero))


def _ogm(j: int, p: Params) -> Step:
    """OGM on the state (y_t, x_t): x_{t+1} = y_t - grad f(y_t)/L,
    y_{t+1} = x_{t+1} + (theta_t - 1)/theta_{t+1} (x_{t+1} - x_t)
              + theta_t/theta_{t+1} (x_{t+1} - y_t);  x_0 = y_0; output y."""
    N = _horizon(p, "ogm")
    # only as far as the run goes (sub-step p.last), not to the horizon N
    theta = p.sequence("theta", lambda q: list(_ogm_thetas(q, min(N, q.last + 1))))
    if j >= N:
        return _hold(p)
    return _two_point(p, (theta[j] - 1) / theta[j + 1], theta[j] / theta[j + 1])


def _ogm_bound(m: Method, N: int) -> float:
    *_, theta_n = _ogm_thetas(m._params(arith("float"), N), N)
    return m.L / (2 * theta_n**2)


OGM = MethodSpec(
    name="ogm",
    source="Kim & Fessler 2016 (Math. Program. 159); PEPit examples/optimized_gradient",
    function_class="smooth-convex",
    state_size=2,
    slots=("y_t", "x_t"),
    initial=(1.0, 1.0),
    schedule=_ogm,
    output="y",
    metric="function-gap",
    guarantee="f(y_N) - f* <= L ||x_0 - x*||^2 / (2 theta_N^2)",
    rate="O(L ||x_0 - x*||^2 / N^2), the exact optimum for this class (Drori 2017)",
    needs_horizon=True,
    analytic=_ogm_bound,
)


def _ogmg_head(p: Params, count: int) -> list[Any]:
    """theta~_0..theta~_count of OGM-G (count <= N). The recursion runs backwards from
    theta~_N, so all N steps are computed, but only the first count + 1 values are kept."""
    N = _horizon(p, "ogmg")
    one = p.ar.one()
    theta, head = one, [one] if count >= N else []  # theta~_N
    for t in range(N - 1, -1, -1):
        c = 8 if t == 0 else 4
        theta = (one + p.ar.sqrt(one + c * theta**2)) / 2
        if t <= count:
            head.append(theta)
    return head[::-1]


def ogmg_theta(p: Params) -> list[Any]:
    """theta~_0..theta~_N of OGM-G: theta~_N = 1, theta~_t = (1 + sqrt(1 + 4 theta~_{t+1}^2))/2
    for t = N-1..1, theta~_0 = (1 + sqrt(1 + 8 theta~_1^2))/2."""
    return _ogmg_head(p, _horizon(p, "ogmg"))


def _ogmg(j: int, p: Params) -> Step:
    """OGM-G on the state (x_t, y_t): y_{t+1} = x_t - grad f(x_t)/L,
    x_{t+1} = y_{t+1} + (th_t - 1)(2 th_{t+1} - 1)/(th_t (2 th_t - 1)) (y_{t+1} - y_t)
              + (2 th_{t+1} - 1)/(2 th_t - 1) (y_{t+1} - x_t);  y_0 = x_0; output x."""
    N = _horizon(p, "ogmg")
    th = p.sequence("theta", lambda q: _ogmg_head(q, min(N, q.last + 1)))
    if j >= N:
        return _hold(p)
    a = (th[j] - 1) * (2 * th[j + 1] - 1) / (th[j] * (2 * th[j] - 1))
    b = (2 * th[j + 1] - 1) / (2 * th[j] - 1)
    return _two_point(p, a, b)


def _ogmg_bound(m: Method, N: int) -> float:
    th = _ogmg_head(m._params(arith("float"), N), 0)
    return 2 * m.L / th[0] ** 2


OGMG = MethodSpec(
    name="ogmg",
    source="Kim & Fessler 2021 (JOTA 188), Sec. 6.3; "
    "PEPit examples/optimized_gradient_for_gradient",
    function_class="smooth-convex",
    state_size=2,
    slots=("x_t", "y_t"),
    initial=(1.0, 1.0),
    schedule=_ogmg,
    output="x",
    metric="gradient-norm",
    guarantee="||grad f(x_N)||^2 <= 2 L (f(x_0) - f*) / theta~_0^2",
    rate="O(L (f(x_0) - f*) / N^2) for the squared gradient norm",
    needs_horizon=True,
    analytic=_ogmg_bound,
    work=lambda J, N: max(J, N or 0),  # theta~ runs backwards from the horizon
)


def _tmm_coefficients(p: Params) -> tuple[Any, Any, Any, Any, Any]:
    one = p.ar.one()
    rho = one - one / p.ar.sqrt(p.L / p.mu)
    alpha = (one + rho) / p.L
    beta = rho**2 / (2 - rho)
    gamma = rho**2 / ((one + rho) * (2 - rho))
    delta = rho**2 / (one - rho**2)
    return rho, alpha, beta, gamma, delta


def _tmm(j: int, p: Params) -> Step:
    """TMM on the state (xi_t, xi_{t-1}): xi_{t+1} = (1+beta) xi_t - beta xi_{t-1} - alpha u,
    y_t = (1+gamma) xi_t - gamma xi_{t-1}; output x_t = (1+delta) xi_t - delta xi_{t-1}."""
    _rho, alpha, beta, gamma, delta = p.sequence("tmm", _tmm_coefficients)
    one, zero = p.ar.one(), p.ar.zero()
    return Step(
        A=((one + beta, -beta), (one, zero)),
        B=(-alpha, zero),
        C=(one + gamma, -gamma),
        D=(one + delta, -delta),
    )


def _tmm_bound(m: Method, N: int) -> float:
    rho = _tmm_coefficients(m._params(arith("float"), N))[0]
    return float(rho ** (2 * N) * m.L / 2 * (m.L / m.mu))


TMM = MethodSpec(
    name="tmm",
    source="Van Scoy, Freeman & Lynch 2018 (IEEE L-CSS 2); PEPit examples/triple_momentum",
    function_class="smooth-strongly-convex",
    state_size=2,
    slots=("xi_t", "xi_{t-1}"),
    initial=(1.0, 1.0),
    schedule=_tmm,
    output="x",
    metric="function-gap",
    guarantee="f(x_N) - f* <= rho^(2N) (L/2) kappa ||x_0 - x*||^2, rho = 1 - 1/sqrt(kappa)",
    rate="rho = 1 - 1/sqrt(kappa) for the iterates",
    analytic=_tmm_bound,
)


def item_A(p: Params, count: int) -> list[Any]:
    """A_0..A_count of ITEM: A_0 = 0,
    A_{t+1} = ((1+q) A_t + 2 (1 + sqrt((1 + A_t)(1 + q A_t)))) / (1-q)^2, q = mu/L."""
    one = p.ar.one()
    q = p.mu / p.L
    A = [p.ar.zero()]
    for _ in range(count):
        a = A[-1]
        root = p.ar.sqrt((one + a) * (one + q * a))
        A.append(((one + q) * a + 2 * (one + root)) / (one - q) ** 2)
    return A


def _item(j: int, p: Params) -> Step:
    """ITEM on the state (x_t, z_t): y_t = (1 - beta_t) z_t + beta_t x_t,
    x_{t+1} = y_t - u/L, z_{t+1} = (1 - q delta_t) z_t + q delta_t y_t - (delta_t/L) u, with
    beta_t = A_t/((1-q) A_{t+1}), delta_t = ((1-q)^2 A_{t+1} - (1+q) A_t)/(2 (1 + q + q A_t));
    x_0 = z_0; output z."""
    A = p.sequence("A", lambda q: item_A(q, q.last + 1))  # as far as the run goes
    one, zero = p.ar.one(), p.ar.zero()
    q = p.mu / p.L
    beta = A[j] / ((one - q) * A[j + 1])
    delta = ((one - q) ** 2 * A[j + 1] - (one + q) * A[j]) / (2 * (one + q + q * A[j]))
    s = one / p.L
    # y = beta x + (1 - beta) z; x' = y - s u; z' = (1 - q delta) z + q delta y - delta s u
    return Step(
        A=((beta, one - beta), (q * delta * beta, one - q * delta + q * delta * (one - beta))),
        B=(-s, -delta * s),
        C=(beta, one - beta),
        D=(zero, one),
    )


def _item_bound(m: Method, N: int) -> float:
    A = item_A(m._params(arith("float"), N), N)
    return 1.0 / (1.0 + (m.mu / m.L) * A[N])


ITEM = MethodSpec(
    name="item",
    source="Taylor & Drori 2023 (Math. Program. 199); "
    "PEPit examples/information_theoretic_exact_method",
    function_class="smooth-strongly-convex",
    state_size=2,
    slots=("x_t", "z_t"),
    initial=(1.0, 1.0),
    schedule=_item,
    output="z",
    metric="distance",
    guarantee="||z_N - x*||^2 <= ||z_0 - x*||^2 / (1 + q A_N), q = mu/L",
    rate="(1 - sqrt(q))^2 per iteration asymptotically, the exact optimum for this class",
    analytic=_item_bound,
)


OPTIMAL_METHODS: tuple[MethodSpec, ...] = (OGM, OGMG, TMM, ITEM)
