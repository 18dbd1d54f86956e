"""The multistep engine and its tables (16), (17), (18)/(21), (20) against direct formulas.

Every equivalence has a negative control: the same comparison with one coefficient perturbed
must fail, so the tolerance cannot hide a wrong table.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn

from optnet_nets.models.admm import dmrnet_coefficient
from optnet_nets.models.layers import DenseLayer, OptionAShortcut, ResidualBranch
from optnet_theory import nesterov_h
from optnet_theory.errors import OptnetError
from tests.nets.multistep import Learnable, Multistep, step, term
from tests.nets.multistep_tables import (
    admm_table,
    agd_beta,
    dense_table,
    heavy_ball_table,
    nesterov_residual_table,
    nesterov_table,
)

torch.set_num_threads(1)


def _branches(n: int, channels: int = 4, first_in: int | None = None) -> list[nn.Module]:
    torch.manual_seed(0)
    blocks: list[nn.Module] = []
    for i in range(n):
        in_ch = first_in if (i == 0 and first_in is not None) else channels
        blocks.append(ResidualBranch(in_ch, channels, 2 if in_ch != channels else 1))
    for b in blocks:  # non-trivial BN affine parameters
        for m in b.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.2, 0.2)
    return blocks


class ReferenceBasicBlock(nn.Module):
    """He et al.'s basic block, written out: ReLU(BN(conv(ReLU(BN(conv x)))) + shortcut(x))."""

    def __init__(self, branch: ResidualBranch, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.conv1, self.bn1 = copy.deepcopy(branch.conv1), copy.deepcopy(branch.bn1)
        self.conv2, self.bn2 = copy.deepcopy(branch.conv2), copy.deepcopy(branch.bn2)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.shortcut is None else self.shortcut(x)))


@pytest.mark.parametrize("table", [heavy_ball_table, nesterov_residual_table])
@pytest.mark.parametrize("perturb", [0.0, 1e-3])
def test_heavy_ball_with_beta2_zero_is_resnet(perturb: float, table: Callable) -> None:
    """Table 3: (16) with beta2 = 0 (and ReLU after the sum) is ResNet, down-sampling included;
    so is (17) over the residual unit T(y) + y."""
    blocks = _branches(3, channels=8, first_in=4)
    stage = Multistep(
        blocks,
        table(3, beta1=1.0, beta2=perturb),
        2,
        shortcut=OptionAShortcut(4, 8),
        activation=nn.ReLU(),
    )
    reference = nn.Sequential(
        ReferenceBasicBlock(blocks[0], OptionAShortcut(4, 8)),
        *(ReferenceBasicBlock(b, None) for b in blocks[1:]),
    )
    x = torch.randn(2, 4, 8, 8)
    stage.train(), reference.train()
    ours = stage(x, x)[-1]
    expected = reference(x)
    same = torch.allclose(ours, expected, rtol=0, atol=1e-6)
    assert same is (perturb == 0.0)


def test_heavy_ball_is_its_formula_in_float64() -> None:
    """(16) with beta1 = 1, beta2 = -1 (HB-Net, Sec. 6.1) step by step."""
    blocks = [b.double().eval() for b in _branches(4)]
    stage = Multistep(blocks, heavy_ball_table(4), 2)
    x_prev, x = torch.randn(2, 4, 5, 5, dtype=torch.float64), torch.randn(2, 4, 5, 5).double()
    states = stage(x_prev, x)
    a, b = x_prev, x
    for t in blocks:
        a, b = b, t(b) + b - a
    torch.testing.assert_close(states[-1], b, rtol=0, atol=1e-12)
    wrong = Multistep(blocks, heavy_ball_table(4, beta2=-1.001), 2)(x_prev, x)[-1]
    assert not torch.allclose(wrong, b, rtol=0, atol=1e-6)


def test_nesterov_table_and_learnable_schedule() -> None:
    """(17): x_{k+1} = T(beta1 x_k + beta2 x_{k-1}) with a schedule and learnable entries."""
    blocks = [b.double().eval() for b in _branches(3)]
    beta = [0.0, 0.3, 0.5]
    stage = Multistep(
        blocks, nesterov_table(3, lambda k: 1 + beta[k], lambda k: Learnable(-beta[k])), 2
    ).double()
    assert stage.coefficients is not None and stage.coefficients.numel() == 3
    x_prev, x = torch.randn(2, 4, 5, 5).double(), torch.randn(2, 4, 5, 5).double()
    out = stage(x_prev, x)[-1]
    a, b = x_prev, x
    learnt = stage.coefficients.tolist()  # -beta[k], as stored (float32 start values)
    for k, t in enumerate(blocks):
        a, b = b, t((1 + beta[k]) * b + learnt[k] * a)
    torch.testing.assert_close(out, b, rtol=0, atol=1e-12)
    out.sum().backward()
    assert stage.coefficients.grad is not None and stage.coefficients.grad.abs().sum() > 0
    with torch.no_grad():
        stage.coefficients[1] += 1e-3
    assert not torch.allclose(stage(x_prev, x)[-1], b, rtol=0, atol=1e-6)


def test_nesterov_over_residual_units_is_eq_3_in_resnet_terms() -> None:
    """(17) with T(y) = F(y) + y: y_k = x_k + beta_k (x_k - x_{k-1}), x_{k+1} = F(y_k) + y_k."""
    blocks = [b.double().eval() for b in _branches(3)]
    beta = [0.0, 0.3, 0.5]
    stage = Multistep(
        blocks, nesterov_residual_table(3, lambda k: 1 + beta[k], lambda k: -beta[k]), 2
    )
    x_prev, x = torch.randn(2, 4, 5, 5).double(), torch.randn(2, 4, 5, 5).double()
    a, b = x_prev, x
    for k, t in enumerate(blocks):
        y = b + beta[k] * (b - a)
        a, b = b, t(y) + y
    torch.testing.assert_close(stage(x_prev, x)[-1], b, rtol=0, atol=1e-12)
    wrong = Multistep(
        blocks, nesterov_residual_table(3, lambda k: 1 + beta[k], lambda k: -beta[k] * 1.01), 2
    )
    assert not torch.allclose(wrong(x_prev, x)[-1], b, rtol=0, atol=1e-6)


def _dense_layers(c0: int, g: int, n: int) -> list[DenseLayer]:
    torch.manual_seed(1)
    layers = [DenseLayer([c0] + [g] * k, g) for k in range(n)]
    for layer in layers:
        nn.init.uniform_(layer.norm1.weight, 0.5, 1.5)
        nn.init.uniform_(layer.norm1.bias, -0.2, 0.2)
    return layers


def test_dense_layer_folds_alpha_into_one_convolution() -> None:
    """sum_j alpha_j conv_j(ReLU(BN_j(z_j))) = conv(concat_j alpha_j ReLU(BN_j(z_j)))."""
    layer = _dense_layers(5, 3, 3)[2].double()
    zs = [torch.randn(2, c, 6, 6, dtype=torch.float64) for c in (5, 3, 3)]
    alpha = [0.7, -1.3, 2.0]
    ours = layer(zs, alpha)
    expected, start = 0, 0
    for a, z in zip(alpha, zs, strict=True):  # one convolution per input: the slow way
        c = z.shape[1]
        bn = torch.nn.functional.batch_norm(
            z, None, None, layer.norm1.weight[start : start + c],
            layer.norm1.bias[start : start + c], True, 0.0, layer.norm1.eps,
        )
        w = layer.conv1.weight[:, start : start + c]
        expected = expected + a * torch.nn.functional.conv2d(torch.relu(bn), w, padding=1)
        start += c
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)
    assert not torch.allclose(layer(zs, [0.7, -1.3, 2.001]), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("perturb", [0.0, 1e-3])
def test_dense_table_with_alpha_one_beta_zero_is_densenet(perturb: float) -> None:
    """Table 3: (18) with alpha = 1, beta = 0 is DenseNet (19), z_{k+1} = T([z_0..z_k])."""
    layers = _dense_layers(5, 3, 4)
    block = Multistep(
        layers, dense_table(4, lambda k1, j: 1.0 + (perturb if j == 0 else 0.0), 0.0), 1
    )
    z0 = torch.randn(2, 5, 6, 6)
    ours = torch.cat(block(z0), 1)
    feats = [z0]
    for layer in layers:  # DenseNet: concatenate, then BN-ReLU-conv
        x = torch.cat(feats, 1)
        feats.append(layer.conv1(torch.relu(layer.norm1(x))))
    same = torch.allclose(ours, torch.cat(feats, 1), rtol=0, atol=1e-6)
    assert same is (perturb == 0.0)


@pytest.mark.parametrize("c0", [3, 5])
def test_agd_table_is_eq_21(c0: int) -> None:
    """(21): z_{k+1} = sum_j alpha_j T(z_j) + beta (z_k - sum_j h_{k+1,j} z_j), h from (5).

    With c0 = growth rate z_0 takes part in the beta-term; with c0 = 5 it cannot (and does not).
    """
    n, beta, growth = 4, 0.1, 3
    first = 0 if c0 == growth else 1
    layers = [layer.double() for layer in _dense_layers(c0, growth, n)]
    h = nesterov_h(n)
    alpha = [[0.5 + 0.1 * (k + j) for j in range(k + 1)] for k in range(n)]

    def block(b: float) -> Multistep:
        table = dense_table(
            n, lambda k1, j: alpha[k1 - 1][j], agd_beta(b, h), lambda k: range(first, k + 1)
        )
        return Multistep(layers, table, 1)

    z = [torch.randn(2, c0, 4, 4, dtype=torch.float64)]
    ours = block(beta)(z[0])
    for k, layer in enumerate(layers):
        t_sum = layer(z, alpha[k])
        h_sum = sum(float(h[k + 1][j]) * z[j] for j in range(first, k + 1))
        z.append(t_sum + beta * (z[k] - h_sum) if k >= first else t_sum)
    for a, b in zip(ours, z, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert not torch.allclose(block(beta * 1.01)(z[0])[-1], z[-1], rtol=0, atol=1e-6)


class ReferenceMergeAndRun(nn.Module):
    """DMRNet [36]: x'_{k+1} = T'(x'_k) + (x'_k + x_k)/2, x_{k+1} = T(x_k) + (x'_k + x_k)/2."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = blocks

    def forward(self, xd: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for k in range(len(self.blocks) // 2):
            merged = xd / 2 + x / 2
            xd, x = self.blocks[2 * k](xd) + merged, self.blocks[2 * k + 1](x) + merged
        return xd, x


@pytest.mark.parametrize("perturb", [0.0, 1e-3])
def test_admm_table_with_one_half_is_dmrnet(perturb: float) -> None:
    """Table 3: (20) with alpha = beta = 1/2 on the newest pair is merge-and-run."""
    blocks = [b.double().eval() for b in _branches(6)]

    def alpha(k1: int, t: int) -> float:
        return dmrnet_coefficient(k1, t) + (perturb if (k1, t) == (2, 0) else 0.0)

    stage = Multistep(blocks, admm_table(3, alpha, dmrnet_coefficient), 2)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    states = stage(x, x)
    xd_ref, x_ref = ReferenceMergeAndRun(blocks)(x, x)
    same = torch.allclose(states[-2], xd_ref, rtol=0, atol=1e-10) and torch.allclose(
        states[-1], x_ref, rtol=0, atol=1e-10
    )
    assert same is (perturb == 0.0)


def test_admm_learnable_coefficients_are_shared_by_both_paths() -> None:
    """(20) has one pair of sums per step: a Learnable object used twice is one parameter."""
    shared = [Learnable(0.5)]
    stage = Multistep(_branches(4), admm_table(2, lambda k1, t: shared[0], 0.25), 2)
    assert stage.coefficients is not None and stage.coefficients.numel() == 1
    per_entry = Multistep(_branches(4), admm_table(2, lambda k1, t: Learnable(0.5), 0.25), 2)
    assert per_entry.coefficients is not None and per_entry.coefficients.numel() == 1 + 2


def test_extra_repr_shows_the_coefficients() -> None:
    tied = Learnable(-0.5)  # one object in both rows: one parameter
    stage = Multistep(_branches(2), heavy_ball_table(2, 1.0, tied), 2, equation="(16)")
    text = repr(stage)
    assert "(16)" in text and "x[3] = 1*T1(1*x[2]) + 1*x[2] + Learnable(-0.5)*x[1]" in text
    assert "learnable coefficients (1): [-0.5]" in text


@pytest.mark.parametrize(
    ("steps", "n_initial", "match"),
    [
        ([step([term(1.0, {5: 1.0})], {}, 0)], 2, "reads a state"),
        ([step([term(1.0, {1: 1.0})], {}, 3)], 2, "names transform 3"),
        ([step([], {}, 0)], 2, "neither terms nor skips"),
        (heavy_ball_table(1), 0, "n_initial"),
        ([step([term(0.0, {1: 1.0})], {0: 0.0}, 0)], 2, "only zero coefficients"),
    ],
)
def test_bad_tables_are_refused(steps: list, n_initial: int, match: str) -> None:
    with pytest.raises(OptnetError, match=match):
        Multistep(_branches(1), steps, n_initial)


def test_bad_coefficients_are_refused() -> None:
    with pytest.raises(OptnetError, match="finite"):
        heavy_ball_table(2, beta1=float("nan"))
    with pytest.raises(OptnetError, match="real number"):
        heavy_ball_table(2, beta1=lambda k: "one")


def test_memory_efficient_dense_layer_same_outputs_gradients_and_statistics() -> None:
    """Checkpointing (recompute in backward) changes nothing a user can observe."""
    plain = _dense_layers(4, 3, 3)
    efficient = copy.deepcopy(plain)
    for layer in efficient:
        layer.memory_efficient = True
    alpha = lambda k1, j: Learnable(1.0)  # noqa: E731 - a schedule
    beta = agd_beta(0.1, nesterov_h(3))  # the beta-term of (21) rides along the checkpoint
    blocks = [
        Multistep(ls, dense_table(3, alpha, beta, lambda k: range(1, k + 1)), 1)
        for ls in (plain, efficient)
    ]
    z0 = torch.randn(3, 4, 5, 5)
    outs = []
    for block in blocks:
        block.train()
        z = z0.clone().requires_grad_(True)
        out = torch.cat(block(z), 1)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append((out.detach(), z.grad, block.coefficients.grad))
    for a, b in zip(outs[0], outs[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for p, e in zip(plain, efficient, strict=True):  # running statistics updated once
        torch.testing.assert_close(p.norm1.running_mean, e.norm1.running_mean, rtol=0, atol=1e-7)
        assert int(p.norm1.num_batches_tracked) == int(e.norm1.num_batches_tracked) == 1
