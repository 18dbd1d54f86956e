"""Methods as data: the registry, the new methods against their published guarantees and against
implementations written here from their update equations, the dense form (18), user methods."""

from __future__ import annotations

import json
from dataclasses import replace

import mpmath
import numpy as np
import pytest
import sympy
from scipy.optimize import minimize

from optnet_nets.cli import main
from optnet_theory import derive_energy, get_method, list_methods
from optnet_theory.coefficients import h_recursion, nesterov_h
from optnet_theory.energy.activations import list_activations
from optnet_theory.energy.curvature import curvature
from optnet_theory.errors import OptnetError
from optnet_theory.methods import MethodSpec, Step, get_spec, register_method
from optnet_theory.methods.catalogue.paper import AGD, agd_step
from optnet_theory.methods.dense import dense_form
from optnet_theory.verify.matrices import random_spd, spd_sqrt, to_mp
from tests.theory import reference_networks as ref

NEW = ("ogm", "ogmg", "tmm", "item")


# --- implementations written here from the published update equations -----------------------


def ogm_by_hand(grad, x0, N, L):
    theta = [1.0]
    for t in range(1, N + 1):
        theta.append((1 + np.sqrt(1 + (8 if t == N else 4) * theta[-1] ** 2)) / 2)
    x, y, ys = x0.copy(), x0.copy(), [x0.copy()]
    for t in range(N):
        x_new = y - grad(y) / L
        y = (x_new + (theta[t] - 1) / theta[t + 1] * (x_new - x)
             + theta[t] / theta[t + 1] * (x_new - y))
        x = x_new
        ys.append(y)
    return np.array(ys)


def ogmg_by_hand(grad, x0, N, L):
    th = [0.0] * (N + 1)
    th[N] = 1.0
    for t in range(N - 1, -1, -1):
        th[t] = (1 + np.sqrt(1 + (8 if t == 0 else 4) * th[t + 1] ** 2)) / 2
    x, y, xs = x0.copy(), x0.copy(), [x0.copy()]
    for t in range(N):
        y_new = x - grad(x) / L
        x = (y_new + (th[t] - 1) * (2 * th[t + 1] - 1) / (th[t] * (2 * th[t] - 1)) * (y_new - y)
             + (2 * th[t + 1] - 1) / (2 * th[t] - 1) * (y_new - x))
        y = y_new
        xs.append(x)
    return np.array(xs)


def tmm_by_hand(grad, x0, N, L, mu):
    rho = 1 - np.sqrt(mu / L)
    alpha, beta = (1 + rho) / L, rho**2 / (2 - rho)
    gamma, delta = rho**2 / ((1 + rho) * (2 - rho)), rho**2 / (1 - rho**2)
    xi, xi_prev, xs = x0.copy(), x0.copy(), [x0.copy()]
    for _ in range(N):
        y = (1 + gamma) * xi - gamma * xi_prev
        xi, xi_prev = (1 + beta) * xi - beta * xi_prev - alpha * grad(y), xi
        xs.append((1 + delta) * xi - delta * xi_prev)
    return np.array(xs)


def item_by_hand(grad, x0, N, L, mu):
    q, A = mu / L, 0.0
    x, z, zs = x0.copy(), x0.copy(), [x0.copy()]
    for _ in range(N):
        A_next = ((1 + q) * A + 2 * (1 + np.sqrt((1 + A) * (1 + q * A)))) / (1 - q) ** 2
        beta = A / ((1 - q) * A_next)
        delta = 0.5 * ((1 - q) ** 2 * A_next - (1 + q) * A) / (1 + q + q * A)
        y = (1 - beta) * z + beta * x
        g = grad(y)
        x = y - g / L
        z = (1 - q * delta) * z + q * delta * y - delta / L * g
        A = A_next
        zs.append(z)
    return np.array(zs)


def by_hand(name, grad, x0, N, L, mu):
    if name == "ogm":
        return ogm_by_hand(grad, x0, N, L)
    if name == "ogmg":
        return ogmg_by_hand(grad, x0, N, L)
    if name == "tmm":
        return tmm_by_hand(grad, x0, N, L, mu)
    return item_by_hand(grad, x0, N, L, mu)


def bound(name, N, L, mu):
    m = get_method(name, L=L, mu=mu if name in ("tmm", "item") else 0.0, N=N)
    return m, m.spec.analytic(m, N)


# --- problems: random quadratics and energies (8) ---------------------------------------------


def quadratic_problem(seed, L, mu, n=8):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = (Q * np.concatenate([[mu, L], rng.uniform(mu, L, n - 2)])) @ Q.T
    star = rng.standard_normal(n)
    return (lambda z: 0.5 * (z - star) @ H @ (z - star)), (lambda z: H @ (z - star)), star


def energy_problem(activation, seed, n=6):
    """f of (8) for an SPD W that makes it strongly convex; (f, grad, z*, L, mu)."""
    energy = derive_energy(activation)
    rng = np.random.default_rng(seed)
    M = 1.0 if activation == "softplus" else 0.25  # sup Phi'
    U, _ = spd_sqrt(random_spd(n, 20.0, rng, top=0.8 / M))
    curv = curvature(energy, U)
    f, grad = energy.objective_fn(U), energy.gradient_fn(U)
    res = minimize(f, np.zeros(n), jac=grad, method="BFGS", options={"gtol": 1e-13})
    return f, grad, res.x, curv.L, curv.mu


def problems():
    for seed in range(3):
        f, g, star = quadratic_problem(seed, 3.0, 0.03)
        yield f"quadratic-{seed}", f, g, star, 3.0, 0.03
    for act in ("sigmoid", "softplus"):
        f, g, star, L, mu = energy_problem(act, 0)
        yield act, f, g, star, L, mu


@pytest.mark.parametrize("name", NEW)
def test_new_methods_meet_their_published_guarantee(name):
    """On quadratics and energies (8): the guarantee's metric after N steps is within its bound
    (times the initial quantity), and the bound is not vacuous (the metric decreased)."""
    for label, f, grad, star, L, mu in problems():
        rng = np.random.default_rng(11)
        x0 = star + rng.standard_normal(star.size)
        fstar = f(star)
        for N in (1, 5, 20):
            m, b = bound(name, N, L, mu)
            out = m.run(grad, x0, N)
            metric = m.spec.metric
            if metric == "function-gap":
                got, init = f(out[-1]) - fstar, np.sum((x0 - star) ** 2)
            elif metric == "distance":
                got, init = np.sum((out[-1] - star) ** 2), np.sum((x0 - star) ** 2)
            else:
                got, init = np.sum(grad(out[-1]) ** 2), f(x0) - fstar
            assert got <= b * init * (1 + 1e-9) + 1e-12, (label, N, got, b * init)
        assert got < (f(x0) - fstar if metric == "function-gap" else init), label


@pytest.mark.parametrize("name", NEW)
def test_new_methods_equal_their_update_equations_written_by_hand(name):
    f, grad, star = quadratic_problem(5, 2.0, 0.02)
    x0 = star + np.ones(star.size)
    L, mu, N = 2.0, 0.02, 30
    m = get_method(name, L=L, mu=mu if name in ("tmm", "item") else 0.0, N=N)
    np.testing.assert_allclose(m.run(grad, x0, N), by_hand(name, grad, x0, N, L, mu),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NEW)
def test_a_perturbed_coefficient_is_caught(name):
    f, grad, star = quadratic_problem(6, 1.0, 0.05)
    x0 = star + np.ones(star.size)
    m = get_method(name, mu=0.05 if name in ("tmm", "item") else 0.0, N=12)

    def perturbed(j, p):
        st = m.spec.schedule(j, p)
        if j != 3:
            return st
        A = (tuple(v * (1 + 1e-4) for v in st.A[0]), *st.A[1:])
        return Step(A=A, B=st.B, C=st.C, D=st.D)

    wrong = replace(m.spec, schedule=perturbed).bind(mu=m.mu, N=12)
    gap = np.max(np.abs(wrong.run(grad, x0, 12) - by_hand(name, grad, x0, 12, 1.0, 0.05)))
    assert gap > 1e-7  # far above the 1e-12 agreement of the true schedule


def test_strongly_convex_methods_refuse_mu_zero_and_horizons_are_enforced():
    for name in ("tmm", "item"):
        with pytest.raises(OptnetError, match="0 < mu < L"):
            get_method(name)
    with pytest.raises(OptnetError, match="horizon of N=5"):
        get_method("ogm", N=5).run(lambda z: z, np.ones(2), 6)
    with pytest.raises(OptnetError, match="unknown method"):
        get_method("fista")


# --- the generated networks are (7), (11)-(14) ------------------------------------------------

PAPER = {
    "gd": lambda phi, W, x0, K, dps: ref.feedforward_network(phi, W, x0, K),
    "hb": lambda phi, W, x0, K, dps: ref.hb_network(
        phi, W, x0, K, beta=0.3 if dps is None else mpmath.mpf(0.3)),
    "agd": lambda phi, W, x0, K, dps: ref.agd_network(phi, W, x0, K, dps=dps),
    "agd2": lambda phi, W, x0, K, dps: ref.agd2_network(phi, W, x0, K, dps=dps),
}


def _generated(name, phi, W, x0, K, **kw):
    method = get_method(name, **({"beta": 0.3, "step": 1.0} if name == "hb" else {}))
    traj = method.network(phi, W, x0, K, **kw)
    if name == "admm":
        return list(traj.states[::2, 0]) + list(traj.states[::2, 1])
    return list(traj.outputs)


def _reference(name, phi, W, x0, K, dps=None):
    if name == "admm":
        xp, x = ref.admm_network(phi, W, x0, K)
        return list(xp) + list(x)
    return PAPER[name](phi, W, x0, K, dps)


@pytest.mark.parametrize("activation", list_activations())
def test_generated_networks_equal_7_11_to_14_for_every_activation(activation):
    from optnet_theory.verify import TOLERANCE_FACTOR

    energy = derive_energy(activation)
    rng = np.random.default_rng(3)
    n, K = 6, 20
    W = random_spd(n, 30.0, rng, top=0.9)
    x0 = rng.standard_normal(n)
    tol = TOLERANCE_FACTOR * 2**-53 * n * (K + 1) ** 2 * np.sqrt(30.0)
    for name in ("gd", "hb", "agd", "agd2", "admm"):
        got = np.array(_generated(name, energy.phi_fn, W, x0, K))
        want = np.array(_reference(name, energy.phi_fn, W, x0, K))
        assert np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1.0) <= tol, name


def test_generated_networks_equal_the_references_below_1e_40_at_50_digits():
    rng = np.random.default_rng(4)
    W, x0 = random_spd(4, 10.0, rng, top=3.0), rng.standard_normal(4)
    with mpmath.workdps(50):
        phi = np.frompyfunc(lambda v: 1 / (1 + mpmath.exp(-v)), 1, 1)
        Wm, xm = to_mp(W), to_mp(x0)
        for name in ("gd", "hb", "agd", "agd2", "admm"):
            got = _generated(name, phi, Wm, xm, 12, arithmetic="mp", dps=50)
            want = _reference(name, phi, Wm, xm, 12, dps=50)
            gap = max(abs(a - b) for u, v in zip(got, want, strict=True)
                      for a, b in zip(u, v, strict=True))
            assert gap < mpmath.mpf(10) ** -40, name
        # negative control: beta off by 1e-30 is seen at this precision
        wrong = ref.hb_network(phi, Wm, xm, 12, beta=mpmath.mpf(0.3) + mpmath.mpf(10) ** -30)
        got = _generated("hb", phi, Wm, xm, 12, arithmetic="mp", dps=50)
        assert max(abs(a - b) for u, v in zip(got, wrong, strict=True)
                   for a, b in zip(u, v, strict=True)) > mpmath.mpf(10) ** -33


# --- the dense form (18) ------------------------------------------------------------------------


def test_dense_form_of_agd_is_the_h_table_of_5_exactly_for_any_momentum():
    """Unrolling (3) with symbolic beta_1..beta_12 gives (5)'s recursion as polynomials: the h
    table is derived, not assumed; the theta schedule is one instance of it."""
    K = 12
    betas = [sympy.Symbol(f"b{j}") for j in range(K + 1)]
    spec = replace(AGD, name="agd-symbolic", schedule=lambda j, p: agd_step(betas[j], p))
    form = dense_form(spec.bind(), K, arithmetic="exact")
    H = h_recursion([0, *betas[1:]])
    for k in range(1, K + 1):
        assert form.c[k] == 1
        for j in range(k):
            assert sympy.expand(form.h[k, j] - H[k][j]) == 0, (k, j)
    # negative control: a misindexed recursion differs
    wrong = h_recursion([0, *betas[:K]])
    assert sympy.expand(form.h[5, 2] - wrong[5][2]) != 0


def test_dense_form_of_agd_matches_5_in_float64_at_K_1000():
    K = 1000
    form = dense_form(get_method("agd"), K)
    H = nesterov_h(K).matrix()
    assert np.max(np.abs(form.h[1:] - H[1:])) <= 1e-12


def test_dense_transform_form_reproduces_the_network():
    """y_j = a_j x_0 + sum_i alpha_{j,i} T(y_i), with the coefficients of dense_form."""
    rng = np.random.default_rng(8)
    W, x0 = random_spd(5, 10.0, rng, top=0.9), rng.standard_normal(5)
    for name, kw in [("ogm", {"N": 6}), ("tmm", {"mu": 0.1}), ("item", {"mu": 0.1})]:
        m = get_method(name, **kw)
        traj = m.network(np.tanh, W, x0, 6)
        form = dense_form(m, 6)
        T = [np.tanh(W @ y) for y in traj.points]
        for j in range(7):
            rebuilt = form.a[j] * x0 + sum(form.alpha[j, i] * T[i] for i in range(j))
            np.testing.assert_allclose(rebuilt, traj.points[j], rtol=0, atol=1e-12)


# --- users define methods; the CLI lists them -------------------------------------------------


def test_a_user_defines_a_method_in_a_few_lines():
    def schedule(j, p):  # gradient descent with step 1/(2L), written by a user
        one = p.ar.one()
        return Step(A=((one,),), B=(-one / (2 * p.L),), C=(one,), D=(one,))

    spec = MethodSpec(name="half-gd", source="a user", function_class="smooth-convex",
                      state_size=1, initial=(1.0,), schedule=schedule, output="x",
                      metric="function-gap", guarantee="none claimed")
    register_method(spec, replace=True)
    try:
        assert "half-gd" in list_methods()
        m = get_method("half-gd", L=2.0)
        out = m.run(lambda z: 2.0 * z, np.ones(3), 4)
        np.testing.assert_allclose(out[-1], 0.5**4 * np.ones(3))
        from optnet_theory.verify import verify_claim

        assert verify_claim("half-gd", dim=4, depth=8, trials=1).passed
        with pytest.raises(OptnetError, match="registered"):
            register_method(spec)
    finally:
        from optnet_theory.methods import registry

        registry._REGISTRY.pop("half-gd", None)


def test_a_malformed_description_is_refused():
    with pytest.raises(OptnetError, match="function_class"):
        replace(get_spec("gd"), function_class="nonconvex")
    with pytest.raises(OptnetError, match=r"disagrees \(initial 2, slots 1, state_size 2\)"):
        replace(get_spec("gd"), name="bad", state_size=2, initial=(1.0, 1.0))  # one slot named
    with pytest.raises(OptnetError, match=r"disagrees \(initial 1, slots 2, state_size 2\)"):
        replace(get_spec("gd"), name="bad", state_size=2, slots=("z", "z'"))
    bad = replace(get_spec("gd"), name="bad", state_size=2, slots=("z", "z'"), initial=(1.0, 1.0))
    assert replace(bad, state_size=0).state_size == 2  # 0: len(initial)
    with pytest.raises(OptnetError, match="wrong size"):  # gd's schedule gives 1 x 1 steps
        bad.bind().coefficients(2)


def test_methods_command_lists_every_method(capsys):
    assert main(["methods", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows][:9] == [
        "gd", "hb", "agd", "agd2", "admm", "ogm", "ogmg", "tmm", "item"]
    for r in rows:
        assert {"source", "function_class", "state_size", "output", "guarantee"} <= set(r)
    assert main(["methods", "--dense", "tmm", "--steps", "3"]) == 0
    assert "T(y_2)" in capsys.readouterr().out
    assert main(["methods", "--dense", "nope"]) == 2
