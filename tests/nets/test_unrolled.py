"""The FC unrolled networks of every registered method: ensemble semantics, special cases,
equality with optnet_theory's Method.network and with the reference networks (7), (11)-(14),
and the cost of the generated layer programs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.special import expit

from optnet_nets.unrolled import PAPER_LABELS, STRUCTURES, UnrolledEnsemble, label
from optnet_nets.unrolled.adjoint_plan import adjoint_plan
from optnet_nets.unrolled.plan import Lin, Product, build_plan, synthesize
from optnet_theory.errors import OptnetError
from optnet_theory.methods import get_method, list_methods
from optnet_theory.paper_values import TABLE2_MSE

ALL = list(STRUCTURES)  # Table 2's five
METHODS = list_methods()  # every registered method
MU = 0.1  # for tmm and item (Sec. 5's instances have L = 1)
D, DEPTH, BATCH = 6, 7, 5


def _x0(members: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randn(
        members, BATCH, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


def _net(structures, depth=DEPTH, **kw) -> UnrolledEnsemble:
    kw.setdefault("mu", MU)
    return UnrolledEnsemble(structures, depth, D, dtype=torch.float64, **kw)


def test_each_member_equals_that_network_alone():
    """Batching across members changes nothing: member e of a mixed ensemble = a 1-member net."""
    structures = ["gd", "hb", "hb", "admm", "agd", "agd2", "admm", "ogm", "tmm", "item", "ogmg"]
    seeds = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    ens = _net(structures, seeds=seeds)
    x0 = _x0(len(structures))
    out = ens(x0)
    for e, (s, sd) in enumerate(zip(structures, seeds, strict=True)):
        alone = _net([s], seeds=[sd])
        torch.testing.assert_close(alone.weight[0], ens.weight[e], rtol=0, atol=0)
        torch.testing.assert_close(alone(x0[e : e + 1])[0], out[e], rtol=1e-13, atol=1e-13)


def test_members_do_not_interact_in_gradients():
    structures = ALL
    ens = _net(structures)
    out = ens(_x0(len(structures)))
    out[2].square().sum().backward()
    grads = ens.weight.grad.flatten(1).abs().sum(1)
    assert grads[2] > 0
    assert torch.all(grads[[0, 1, 3, 4]] == 0)


def test_tied_weights_equal_per_layer_weights_all_equal():
    tied = _net(METHODS, tied=True)
    per_layer = _net(METHODS)
    per_layer.set_matrices(tied.matrices().unsqueeze(1).expand(len(METHODS), DEPTH, D, D))
    x0 = _x0(len(METHODS))
    torch.testing.assert_close(tied(x0), per_layer(x0), rtol=1e-14, atol=1e-14)
    changed = per_layer.matrices().clone()  # negative control: one changed layer is seen
    changed[:, 3] += 0.01
    per_layer.set_matrices(changed)
    diff = (tied(x0) - per_layer(x0)).abs().flatten(1).max(1).values
    assert torch.all(diff > 1e-8)


def test_special_cases_reduce_to_gd():
    """(11) with beta = 0 is the feedforward net (7); the methods' defaults are not."""
    gd = _net(["gd"])
    x0 = _x0()
    net = _net(["hb"], methods={"hb": {"beta": 0.0}})
    torch.testing.assert_close(net(x0), gd(x0), rtol=1e-14, atol=1e-14)
    for s in METHODS[1:]:  # negative control: every other method's network differs
        assert (_net([s])(x0) - gd(x0)).abs().max() > 1e-6


def test_first_layer_is_phi_of_w_x0():
    net = _net(ALL, depth=1)
    x0 = _x0(len(ALL))
    phi = torch.sigmoid(torch.einsum("eij,ebj->ebi", net.matrices()[:, 0], x0))
    out = net(x0)
    for e, s in enumerate(ALL):
        # x_1 = Phi(W x_0) except ADMM: x'_1 = (s + x0)/2, x_1 = (s + x'_1)/2
        want = 0.75 * phi[e] + 0.25 * x0[e] if s == "admm" else phi[e]
        torch.testing.assert_close(out[e], want, rtol=1e-14, atol=1e-14)


def test_set_matrices_roundtrip_and_shared_input():
    net = _net(["gd", "hb"])
    W = torch.randn(2, DEPTH, D, D, dtype=torch.float64)
    net.set_matrices(W)
    torch.testing.assert_close(net.matrices(), W, rtol=0, atol=0)
    x = torch.randn(BATCH, D, dtype=torch.float64)
    torch.testing.assert_close(net(x), net(x.expand(2, BATCH, D)), rtol=0, atol=0)
    with pytest.raises(OptnetError, match="shape"):
        net.set_matrices(W[:, :2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"structures": ["resnet"]}, "unknown method .resnet.; give a registered method"),
        ({"structures": []}, "at least one"),
        ({"depth": 0}, "depth"),
        ({"init": "he"}, "unknown init"),
        ({"activation": "nosuch"}, "unknown name .nosuch."),
        ({"structures": ["hb"], "methods": {"hb": {"gamma": 0.1}}}, "no parameter"),
        ({"methods": {"resnet": {}}}, "not members: gd"),
        ({"structures": ["tmm"]}, "needs 0 < mu < L"),
        ({"structures": ["item"], "mu": 1.5}, "mu must satisfy"),
        ({"seeds": [1, 2, 3]}, "seeds"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    args = {"structures": ["gd"], "depth": 3}
    args.update(kwargs)
    with pytest.raises(OptnetError, match=match):
        UnrolledEnsemble(args.pop("structures"), args.pop("depth"), D, **args)


def test_bad_input_shape_is_refused():
    with pytest.raises(OptnetError, match="input must have shape"):
        _net(["gd", "hb"])(torch.zeros(3, 4, D, dtype=torch.float64))


def _reference_states(structure: str, W, x0, K: int, **coefficients):
    """optnet_theory's reference network, one sample at a time (float64 NumPy)."""
    from optnet_theory.verify.networks import network_forward

    return np.stack([network_forward(structure, expit, W, x, K, **coefficients)[-1] for x in x0])


@pytest.mark.parametrize("K", [1, 2, 9])
def test_tied_float64_reproduces_the_reference_networks(K):
    """Tied weights, float64: each structure equals optnet_theory.verify.networks to 1e-12."""
    net = _net(ALL, depth=K, tied=True)
    W = torch.randn(D, D, generator=torch.Generator().manual_seed(K), dtype=torch.float64)
    W = (W + W.T) / 2  # symmetric, as in Lemma 1 (not needed for the forward pass)
    net.set_matrices(W.expand(len(ALL), D, D))
    x0 = _x0()[0]
    out = net(x0)
    for e, s in enumerate(ALL):
        want = _reference_states(s, W.numpy(), x0.numpy(), K)  # defaults: beta 0.3, theta, h (5)
        torch.testing.assert_close(out[e], torch.from_numpy(want), rtol=1e-12, atol=1e-12)


def test_cross_check_catches_a_wrong_network():
    """Negative controls: a different beta, or ADMM's other path, is not within 1e-12."""
    from optnet_theory.verify.networks import admm_network

    K = 6
    net = _net(["hb", "admm"], depth=K, tied=True)
    W = torch.randn(D, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net.set_matrices(W.expand(2, D, D))
    x0 = _x0()[0]
    out = net(x0).detach().numpy()
    wrong_hb = _reference_states("hb", W.numpy(), x0.numpy(), K, beta=0.31)
    assert np.abs(out[0] - wrong_hb).max() > 1e-6
    xprime = np.stack([admm_network(expit, W.numpy(), x, K)[0][-1] for x in x0.numpy()])
    assert np.abs(out[1] - xprime).max() > 1e-6


def test_agd2_is_agd_plus_one_extrapolation_even_with_per_layer_weights():
    """(13) is the y-sequence of (3)-(4), (12) the z-sequence: with the same per-layer W_k,
    AGD2's output is z_K + beta_K (z_K - z_{K-1}) of AGD, to rounding (model (15) included)."""
    K = 12
    net = _net(["agd", "agd2"], depth=K, seeds=[5, 5])
    shorter = _net(["agd"], depth=K - 1, seeds=[5])
    shorter.set_matrices(net.matrices()[:1, : K - 1])
    x0 = _x0()[0]
    out = net(x0)
    z_K, z_prev = out[0], shorter(x0)[0]
    beta_K = -get_method("agd").coefficients(K)[K].A[0][1]  # A_K = ((1 + b_K, -b_K), ...)
    torch.testing.assert_close(out[1], z_K + beta_K * (z_K - z_prev), rtol=1e-13, atol=1e-13)
    assert (out[1] - z_K).abs().max() > 1e-6  # negative control: not AGD's output itself


def test_members_of_different_depths_share_products_exactly():
    """depths=[...]: each member equals a net of its own depth built on its first K layers
    (ogm and ogmg, built for their horizon N = K, run as one group per depth)."""
    structures = ["gd", "gd", "hb", "agd", "agd", "agd", "agd2", "agd2", "admm", "admm",
                  "ogm", "ogm", "tmm", "item", "item"]
    depths = [7, 3, 5, 7, 7, 2, 6, 4, 7, 1, 7, 4, 5, 6, 2]
    ens = _net(structures, depth=7, seeds=list(range(len(structures))), depths=depths)
    x0 = _x0(len(structures))
    out = ens(x0)
    out.square().sum().backward()
    for e, (s, K) in enumerate(zip(structures, depths, strict=True)):
        alone = _net([s], depth=K)
        alone.set_matrices(ens.matrices()[e : e + 1, :K])
        torch.testing.assert_close(out[e], alone(x0[e : e + 1])[0], rtol=1e-13, atol=1e-13)
        unused = ens.weight.grad[e, K:]
        assert torch.all(unused == 0) and ens.weight.grad[e, K - 1].abs().sum() > 0
    with pytest.raises(OptnetError, match="must not increase"):
        _net(["gd", "gd"], depth=4, depths=[2, 4])
    with pytest.raises(OptnetError, match="depths"):
        _net(["gd"], depth=4, depths=[5])


# --------------------------------------------------------------------------- Method.network
def _perturbed(method, K: int, j: int, delta: float = 1e-3):
    """The method's Steps for K layers with every entry of A_j scaled by 1 + ``delta``."""
    steps = method.coefficients(K)
    A = tuple(tuple(a * (1 + delta) for a in row) for row in steps[j].A)
    steps[j] = dataclasses.replace(steps[j], A=A)
    return steps


@pytest.mark.parametrize("K", [1, 2, 9])
def test_tied_float64_equals_the_method_network_for_every_method(K):
    """The torch ensemble (tied, float64) equals optnet_theory's Method.network to 1e-12 for
    every registered method; a plan built from one perturbed coefficient is not within 1e-6."""
    net = _net(METHODS, depth=K, tied=True)
    W = torch.randn(D, D, generator=torch.Generator().manual_seed(K), dtype=torch.float64)
    net.set_matrices(W.expand(len(METHODS), D, D))
    x0 = _x0()[0]
    out = net(x0).detach()
    for e, s in enumerate(METHODS):
        method = net.methods[s]
        want = np.stack([method.network(expit, W.numpy(), x, K).outputs[-1] for x in x0.numpy()])
        torch.testing.assert_close(out[e], torch.from_numpy(want), rtol=1e-12, atol=1e-12)
        # negative control: the same network with A_0 off by a factor 1 + 1e-3
        spec = method.spec
        net._plans[e] = build_plan(_perturbed(method, K, 0), spec.substeps, spec.initial)
        assert (net(x0)[e] - out[e]).abs().max() > 1e-6
        net._plans[e] = net.plan(s, K)


def test_method_parameters_reach_the_network():
    """hb's beta and tmm's mu are method parameters: the network equals Method.network built
    with them, and not the one with the default."""
    K = 5
    W = torch.randn(D, D, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x0 = _x0()[0]
    for s, params, default in (("hb", {"beta": 0.5}, {}), ("tmm", {"mu": 0.3}, {"mu": MU})):
        net = _net([s], depth=K, tied=True, methods={s: params})
        net.set_matrices(W.unsqueeze(0))
        out = net(x0)[0].detach().numpy()
        for kw, close in ((params, True), (default, False)):
            method = get_method(s, **{"mu": MU, **kw})
            want = np.stack([method.network(expit, W.numpy(), x, K).outputs[-1]
                             for x in x0.numpy()])
            assert bool(np.abs(out - want).max() < 1e-12) == close


# --------------------------------------------------------------------------- programs
def _calls(statements, kind) -> int:
    return sum(len(st.ops) for st in statements if isinstance(st, kind))


@pytest.mark.parametrize(
    ("structure", "forward", "backward"),
    # element-wise torch calls of one middle layer in the hand-written code this replaced
    [("gd", 0, 0), ("hb", 2, 2), ("agd", 1, 2), ("agd2", 5, 6), ("admm", 5, 9)],
)
def test_generated_programs_do_no_more_work_than_the_hand_written_layers(
    structure, forward, backward
):
    """Per middle layer: one product (ADMM's two sub-steps stacked into one), and no more
    element-wise calls forward and backward than the hand-written (7), (11)-(14) made."""
    method = get_method(structure)
    K = 12
    plan = build_plan(method.coefficients(K), method.spec.substeps, method.spec.initial)
    layer = plan.statements[plan.ends[6] : plan.ends[7]]
    assert sum(isinstance(st, Product) for st in layer) == 1
    assert _calls(layer, Lin) <= forward
    back = adjoint_plan(plan).statements
    starts = [i for i, st in enumerate(back) if not isinstance(st, Lin)]  # one per layer
    middle = back[starts[K - 1 - 7] + 1 : starts[K - 1 - 6]]  # between layers 7 and 6
    assert _calls(middle, Lin) <= backward


def test_synthesized_combinations_evaluate_the_sum():
    """Every way synthesize() writes sum c_i v_i (add, lerp, in-place, rescale) is the sum;
    a wrong coefficient is caught (negative control)."""
    from optnet_nets.unrolled import run_ops

    gen = torch.Generator().manual_seed(0)
    vals = {v: torch.randn(3, generator=gen, dtype=torch.float64) for v in range(5)}
    cases = [((1.0, 0),), ((2.5, 1),), ((1.0, 0), (-1.0, 1)), ((0.5, 0), (0.5, 1)),
             ((0.3, 0), (0.7, 1), (-0.2, 2)), ((0.5, 0), (-0.5, 1), (0.5, 2)),
             ((1.3, 0), (-0.3, 1), (2.0, 2), (-4.0, 3), (0.25, 4))]
    for terms in cases:
        want = sum(c * vals[v] for c, v in terms)
        got = run_ops(synthesize(terms), vals.__getitem__, vals[0])
        torch.testing.assert_close(got, want, rtol=1e-14, atol=1e-14)
        wrong = ((terms[0][0] + 1e-3, terms[0][1]), *terms[1:])
        bad = run_ops(synthesize(wrong), vals.__getitem__, vals[0])
        assert (bad - want).abs().max() > 1e-6


def test_structure_names_come_from_the_registry_and_table_2():
    """One source: Table 2's labels name registered methods, in its column order."""
    assert list(PAPER_LABELS.values()) == list(TABLE2_MSE)
    assert set(STRUCTURES) <= set(METHODS)
    assert label("agd2") == "AGD2 (13)" and label("ogm") == "OGM"
