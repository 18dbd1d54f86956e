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
evaluate in any arithmetic of :mod:`optnet_theory.methods.arith`. OGM, TMM and ITEM are written
as their papers' loops and traced into (A, B, C, D) by :mod:`optnet_theory.methods.traced`;
OGM-G gives its (A, B, C, D) by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.arith import arith
from optnet_theory.methods.core import Method
from optnet_theory.methods.spec import MethodSpec, Params, RateVariant, Reference, Step
from optnet_theory.methods.traced import Grad, Lin, traced

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
    """The shape of OGM-G on the state (w_t, v_t), gradient at w_t:

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


def _ogm_loop(t: int, p: Params, grad: Grad, y: Lin, x: Lin) -> tuple[Lin, Lin]:
    """OGM: Kim & Fessler 2016, Algorithm OGM1 (bound: Theorem 2), in the naming of PEPit's
    example (Kim & Fessler exchange x and y), for t = 0 .. N-1 from x_0 = y_0:

        x_{t+1} = y_t - grad f(y_t) / L
        y_{t+1} = x_{t+1} + (theta_t - 1)/theta_{t+1} (x_{t+1} - x_t)
                          + theta_t/theta_{t+1} (x_{t+1} - y_t)

    with theta of :func:`ogm_theta`. After the horizon N the point y_N is held."""
    N = _horizon(p, "ogm")
    if t >= N:
        return y, x
    # only as far as the run goes (sub-step p.last), not to the horizon N
    theta = p.sequence("theta", lambda q: list(_ogm_thetas(q, min(N, q.last + 1))))
    x_next = y - grad(y) / p.L
    y_next = (x_next + (theta[t] - 1) / theta[t + 1] * (x_next - x)
              + theta[t] / theta[t + 1] * (x_next - y))  # fmt: skip
    return y_next, x_next


def _ogm_output(p: Params, y: Lin, x: Lin) -> Lin:
    """The output of OGM: y_N (Kim & Fessler's x_N)."""
    return y


def _ogm_bound(m: Method, N: int) -> float:
    *_, theta_n = _ogm_thetas(m._params(arith("float"), N), N)
    return m.L / (2 * theta_n**2)


OGM = MethodSpec(
    name="ogm",
    source="Kim & Fessler 2016 (Math. Program. 159); PEPit examples/optimized_gradient",
    function_class="smooth-convex",
    slots=("y_t", "x_t"),
    initial=(1.0, 1.0),
    schedule=traced(_ogm_loop, _ogm_output),
    output="y",
    metric="function-gap",
    guarantee="f(y_N) - f* <= L ||x_0 - x*||^2 / (2 theta_N^2)",
    rate="O(L ||x_0 - x*||^2 / N^2), the exact optimum for this class (Drori 2017)",
    needs_horizon=True,
    analytic=_ogm_bound,
    network_prefix="ogmnet",
    reference_for=(Reference("smooth-convex", "function-gap", "distance", proven=True),),
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
    reference_for=(Reference("smooth-convex", "gradient-norm", "function-gap", proven=False),),
)


def _tmm_coefficients(p: Params) -> tuple[Any, Any, Any, Any, Any]:
    one = p.ar.one()
    rho = one - one / p.ar.sqrt(p.L / p.mu)
    alpha = (one + rho) / p.L
    beta = rho**2 / (2 - rho)
    gamma = rho**2 / ((one + rho) * (2 - rho))
    delta = rho**2 / (one - rho**2)
    return rho, alpha, beta, gamma, delta


def _tmm_loop(t: int, p: Params, grad: Grad, xi: Lin, xi_prev: Lin) -> tuple[Lin, Lin]:
    """TMM: Van Scoy, Freeman & Lynch 2018, the triple momentum method of Sec. II (bound:
    Theorem 1, eq. (4)), from xi_0 = xi_{-1} = x_0:

        y_t      = (1 + gamma) xi_t - gamma xi_{t-1}
        xi_{t+1} = (1 + beta) xi_t - beta xi_{t-1} - alpha grad f(y_t)

    with rho = 1 - 1/sqrt(kappa), (alpha, beta, gamma, delta) = ((1 + rho)/L, rho^2/(2 - rho),
    rho^2/((1 + rho)(2 - rho)), rho^2/(1 - rho^2))."""
    _rho, alpha, beta, gamma, _delta = p.sequence("tmm", _tmm_coefficients)
    y = (1 + gamma) * xi - gamma * xi_prev
    return (1 + beta) * xi - beta * xi_prev - alpha * grad(y), xi


def _tmm_output(p: Params, xi: Lin, xi_prev: Lin) -> Lin:
    """The output of TMM: x_t = (1 + delta) xi_t - delta xi_{t-1}."""
    delta = p.sequence("tmm", _tmm_coefficients)[4]
    return (1 + delta) * xi - delta * xi_prev


def _tmm_bound(m: Method, N: int) -> float:
    rho = _tmm_coefficients(m._params(arith("float"), N))[0]
    return float(rho ** (2 * N) * m.L / 2 * (m.L / m.mu))


TMM = MethodSpec(
    name="tmm",
    source="Van Scoy, Freeman & Lynch 2018 (IEEE L-CSS 2); PEPit examples/triple_momentum",
    function_class="smooth-strongly-convex",
    slots=("xi_t", "xi_{t-1}"),
    initial=(1.0, 1.0),
    schedule=traced(_tmm_loop, _tmm_output),
    output="x",
    metric="function-gap",
    guarantee="f(x_N) - f* <= rho^(2N) (L/2) kappa ||x_0 - x*||^2, rho = 1 - 1/sqrt(kappa)",
    rate="rho = 1 - 1/sqrt(kappa) for the iterates",
    analytic=_tmm_bound,
    network_prefix="tmmnet",
    rate_variants=(
        RateVariant("", "TMM", "Van Scoy, Freeman & Lynch 2018, rho = 1 - sqrt(mu/L)", 0.5,
                    table2=True,
                    published=(lambda k: 1 - 1 / math.sqrt(k), "1 - 1/sqrt(kappa)",
                               "Van Scoy, Freeman & Lynch 2018")),
    ),
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


def _item_loop(t: int, p: Params, grad: Grad, x: Lin, z: Lin) -> tuple[Lin, Lin]:
    """ITEM: Taylor & Drori 2023, the information-theoretic exact method (bound: Theorem 3),
    from x_0 = z_0, with q = mu/L:

        y_t     = (1 - beta_t) z_t + beta_t x_t
        x_{t+1} = y_t - grad f(y_t) / L
        z_{t+1} = (1 - q delta_t) z_t + q delta_t y_t - delta_t grad f(y_t) / L

    with A of :func:`item_A`, beta_t = A_t / ((1 - q) A_{t+1}) and
    delta_t = ((1 - q)^2 A_{t+1} - (1 + q) A_t) / (2 (1 + q + q A_t))."""
    A = p.sequence("A", lambda r: item_A(r, r.last + 1))  # as far as the run goes
    q = p.mu / p.L
    beta = A[t] / ((1 - q) * A[t + 1])
    delta = ((1 - q) ** 2 * A[t + 1] - (1 + q) * A[t]) / (2 * (1 + q + q * A[t]))
    y = (1 - beta) * z + beta * x
    g = grad(y) / p.L  # grad f(y_t) / L
    return y - g, (1 - q * delta) * z + q * delta * y - delta * g


def _item_output(p: Params, x: Lin, z: Lin) -> Lin:
    """The output of ITEM: z_N."""
    return z


def _item_bound(m: Method, N: int) -> float:
    A = item_A(m._params(arith("float"), N), N)
    return 1.0 / (1.0 + (m.mu / m.L) * A[N])


ITEM = MethodSpec(
    name="item",
    source="Taylor & Drori 2023 (Math. Program. 199); "
    "PEPit examples/information_theoretic_exact_method",
    function_class="smooth-strongly-convex",
    slots=("x_t", "z_t"),
    initial=(1.0, 1.0),
    schedule=traced(_item_loop, _item_output),
    output="z",
    metric="distance",
    guarantee="||z_N - x*||^2 <= ||z_0 - x*||^2 / (1 + q A_N), q = mu/L",
    rate="(1 - sqrt(q))^2 per iteration asymptotically, the exact optimum for this class",
    analytic=_item_bound,
    network_prefix="itemnet",
    rate_variants=(
        RateVariant("", "ITEM", "Taylor & Drori 2023, q = mu/L", 0.5, table2=True,
                    published=(lambda k: 1 - 1 / math.sqrt(k), "1 - 1/sqrt(kappa)",
                               "asymptotically; Taylor & Drori 2023")),
    ),
    reference_for=(Reference("smooth-strongly-convex", "distance", "distance", proven=True),),
)


OPTIMAL_METHODS: tuple[MethodSpec, ...] = (OGM, OGMG, TMM, ITEM)
