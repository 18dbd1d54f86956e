"""The FC unrolled networks (7), (11)-(14): ensemble semantics, special cases, AGD2's two forms."""

from __future__ import annotations

import pytest
import torch

from optnet_nets.unrolled import STRUCTURES, UnrolledEnsemble
from optnet_theory.errors import OptnetError

ALL = list(STRUCTURES)
D, DEPTH, BATCH = 6, 7, 5


def _x0(members: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randn(
        members, BATCH, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


def _net(structures, depth=DEPTH, **kw) -> UnrolledEnsemble:
    return UnrolledEnsemble(structures, depth, D, dtype=torch.float64, **kw)


def test_each_member_equals_that_network_alone():
    """Batching across members changes nothing: member e of a mixed ensemble = a 1-member net."""
    structures = ["gd", "hb", "hb", "admm", "agd", "agd2", "admm"]
    seeds = [3, 1, 4, 1, 5, 9, 2]
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


def test_agd2_recursive_equals_the_literal_sum_of_13():
    """S_{k+1} = beta_{k+1}(S_k - d_{k-1}) + (1+beta_{k+1}) d_k is (13)'s sum with h of (5)."""
    x0 = _x0()
    rec = _net(["agd2"], depth=12, seeds=[7])
    dense = _net(["agd2"], depth=12, seeds=[7], agd2_form="dense")
    torch.testing.assert_close(rec(x0), dense(x0), rtol=1e-12, atol=1e-12)
    # negative control: a different h (constant momentum) is caught
    other = _net(["agd2"], depth=12, seeds=[7], agd_beta=[0.0] + [0.5] * 12, agd2_form="dense")
    assert (other(x0) - rec(x0)).abs().max() > 1e-6


def test_tied_weights_equal_per_layer_weights_all_equal():
    tied = _net(ALL, tied=True)
    per_layer = _net(ALL)
    per_layer.set_matrices(tied.matrices().unsqueeze(1).expand(len(ALL), DEPTH, D, D))
    x0 = _x0(len(ALL))
    torch.testing.assert_close(tied(x0), per_layer(x0), rtol=1e-14, atol=1e-14)
    changed = per_layer.matrices().clone()  # negative control: one changed layer is seen
    changed[:, 3] += 0.01
    per_layer.set_matrices(changed)
    diff = (tied(x0) - per_layer(x0)).abs().flatten(1).max(1).values
    assert torch.all(diff > 1e-8)


def test_special_cases_reduce_to_gd():
    """(11) with beta = 0 and (12)/(13) with beta_k = 0 are the feedforward net (7)."""
    zero = [0.0] * (DEPTH + 1)
    gd = _net(["gd"])
    x0 = _x0()
    for s in ("hb", "agd", "agd2"):
        net = _net([s], hb_beta=0.0, agd_beta=zero)
        torch.testing.assert_close(net(x0), gd(x0), rtol=1e-14, atol=1e-14)
    for s in ("hb", "agd", "agd2", "admm"):  # negative control: the default momentum differs
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
        ({"structures": ["resnet"]}, "unknown structure"),
        ({"structures": []}, "at least one"),
        ({"depth": 0}, "depth"),
        ({"init": "he"}, "unknown init"),
        ({"activation": "relu6"}, "unknown activation"),
        ({"agd_beta": [0.0, 0.1]}, "agd_beta"),
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
    import numpy as np
    from scipy.special import expit

    from optnet_theory.networks import network_forward

    return np.stack([network_forward(structure, expit, W, x, K, **coefficients)[-1] for x in x0])


@pytest.mark.parametrize("K", [1, 2, 9])
def test_tied_float64_reproduces_the_reference_networks(K):
    """Tied weights, float64: each structure equals optnet_theory.networks to 1e-12."""
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
    import numpy as np

    from optnet_theory.networks import admm_network

    K = 6
    net = _net(["hb", "admm"], depth=K, tied=True)
    W = torch.randn(D, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net.set_matrices(W.expand(2, D, D))
    x0 = _x0()[0]
    out = net(x0).detach().numpy()
    wrong_hb = _reference_states("hb", W.numpy(), x0.numpy(), K, beta=0.31)
    assert np.abs(out[0] - wrong_hb).max() > 1e-6
    from scipy.special import expit

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
    beta_K = net.agd_beta[K]
    torch.testing.assert_close(out[1], z_K + beta_K * (z_K - z_prev), rtol=1e-13, atol=1e-13)
    assert (out[1] - z_K).abs().max() > 1e-6  # negative control: not AGD's output itself


@pytest.mark.parametrize("agd2_form", ["recursive", "dense"])
def test_members_of_different_depths_share_products_exactly(agd2_form):
    """depths=[...]: each member equals a net of its own depth built on its first K layers."""
    structures = ["gd", "gd", "hb", "agd", "agd", "agd", "agd2", "agd2", "admm", "admm"]
    depths = [7, 3, 5, 7, 7, 2, 6, 4, 7, 1]
    seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    ens = _net(structures, depth=7, seeds=seeds, depths=depths, agd2_form=agd2_form)
    x0 = _x0(len(structures))
    out = ens(x0)
    out.square().sum().backward()
    for e, (s, K) in enumerate(zip(structures, depths, strict=True)):
        alone = _net([s], depth=K, agd2_form=agd2_form)
        alone.set_matrices(ens.matrices()[e : e + 1, :K])
        torch.testing.assert_close(out[e], alone(x0[e : e + 1])[0], rtol=1e-13, atol=1e-13)
        unused = ens.weight.grad[e, K:]
        assert torch.all(unused == 0) and ens.weight.grad[e, K - 1].abs().sum() > 0
    with pytest.raises(OptnetError, match="must not increase"):
        _net(["gd", "gd"], depth=4, depths=[2, 4])
    with pytest.raises(OptnetError, match="depths"):
        _net(["gd"], depth=4, depths=[5])
