"""Fidelity options of the CNN families: DenseNet's dropout, one BN pass in hbnet34's projection
shortcut, and the momentum at stage boundaries (carry or restart).

Negative controls: without dropout train-mode passes agree (so "differs" means dropout); a
projection without ``map_states`` (two BN passes) is caught by the same counter; the two momentum
modes give different outputs, and the carrying model is not the stage-by-stage restart.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optnet_nets.models import create_model
from optnet_nets.models.densenet import _h_rows
from optnet_nets.models.layers import Projection
from optnet_nets.train.config import DENSENET_DROPOUT, TrainConfig
from optnet_theory import nesterov_h
from optnet_theory.errors import OptnetError

torch.set_num_threads(1)


# ------------------------------------------------------------------ dropout
@pytest.mark.parametrize("name", ["densenet40", "agdnet40", "densenet_bc100"])
def test_dropout_follows_every_convolution_but_the_first(name: str) -> None:
    with torch.device("meta"):
        plain = create_model(name)
        dropped = create_model(name, dropout=0.3)
    convs = sum(isinstance(m, nn.Conv2d) for m in dropped.modules())
    drops = [m for m in dropped.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == convs - 1 and all(m.p == 0.3 for m in drops)
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    assert list(plain.state_dict()) == list(dropped.state_dict())


def test_dropout_rate_is_honoured_and_eval_is_deterministic() -> None:
    torch.manual_seed(0)
    model = create_model("densenet40", in_channels=1, dropout=0.2)
    plain = create_model("densenet40", in_channels=1)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 28, 28)
    zeros: list[float] = []
    layer = model.blocks[0].blocks[3]
    assert layer.drop1 is not None
    handle = layer.drop1.register_forward_hook(
        lambda m, i, o: zeros.append(float(((o == 0) & (i[0] != 0)).float().mean()))
    )
    model.train()
    first, second = model(x), model(x)
    handle.remove()
    assert not torch.allclose(first, second)  # a fresh mask each pass
    assert abs(zeros[0] - 0.2) < 0.03  # 12 x 28 x 28 x 2 = 18816 entries
    plain.train()
    assert torch.equal(plain(x), plain(x))  # negative control: no dropout, no difference
    model.eval()
    plain.load_state_dict(model.state_dict())  # the same running statistics
    plain.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        torch.testing.assert_close(model(x), plain(x))  # eval: dropout is the identity


def test_dropout_bad_values_and_families() -> None:
    with pytest.raises(OptnetError, match=r"accepted: a rate in \[0, 1\)"):
        create_model("agdnet40", dropout=1.0)
    with pytest.raises(OptnetError, match="hbnet20 has no option dropout"):
        create_model("hbnet20", dropout=0.2)


def test_recipe_turns_dropout_on_for_densenets_on_unaugmented_cifar_only() -> None:
    def options(**overrides: object) -> dict:
        return TrainConfig.from_preset("cifar", **overrides).model_options

    assert options(model="agdnet40", dataset="cifar10", augment=False) == {
        "dropout": DENSENET_DROPOUT
    }
    assert options(model="densenet40", dataset="cifar100", augment=False)["dropout"] == 0.2
    assert options(model="densenet40", dataset="cifar10", augment=True) == {}
    assert options(model="densenet40", dataset="fashion-mnist", augment=False) == {}
    assert options(model="hbnet20", dataset="cifar10", augment=False) == {}
    given = options(model="densenet40", dataset="cifar10", augment=False,
                    model_options={"dropout": 0.0})  # fmt: skip
    assert given == {"dropout": 0.0}


# ------------------------------------------------------------------ hbnet34's shortcut
def _tracked(model: nn.Module) -> list[int]:
    return [int(m.num_batches_tracked) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


class TwoPassProjection(nn.Sequential):
    """The old shortcut: the same modules, but one BN pass per state (no ``map_states``)."""


def test_hbnet34_updates_each_batchnorm_once_per_forward() -> None:
    torch.manual_seed(0)
    model = create_model("hbnet34", num_classes=5).train()
    x = torch.randn(2, 3, 32, 32)
    model(x)
    assert set(_tracked(model)) == {1}
    model(x)
    assert set(_tracked(model)) == {2}
    # negative control: the per-state shortcut is caught by the same count
    for stage in model.stages:
        if isinstance(stage.shortcut, Projection):
            stage.shortcut = TwoPassProjection(*stage.shortcut)
    model(x)
    assert max(_tracked(model)) == 4


def test_projection_maps_both_states_by_one_affine_map() -> None:
    """Training: BN statistics of both states together; eval: per-state application."""
    torch.manual_seed(0)
    proj = Projection(4, 8, 2)
    a, b = torch.randn(3, 4, 6, 6), torch.randn(3, 4, 6, 6)
    conv, bn = proj[0], proj[1]
    y = torch.cat([conv(a), conv(b)])
    mean, var = y.mean((0, 2, 3), keepdim=True), y.var((0, 2, 3), unbiased=False, keepdim=True)
    ref = ((y - mean) / torch.sqrt(var + bn.eps)).chunk(2)
    got = proj.train().map_states([a, b])
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])
    assert not torch.allclose(got[0], proj(a))  # a's own statistics differ
    proj.eval()
    with torch.no_grad():
        torch.testing.assert_close(proj.map_states([a, b])[1], proj(b))


def test_resnet34_shortcut_is_unchanged_by_map_states() -> None:
    """ResNet maps only x_k: one state, exactly the plain projection."""
    torch.manual_seed(0)
    model = create_model("resnet34", num_classes=5).train()
    model(torch.randn(2, 3, 32, 32))
    assert set(_tracked(model)) == {1}


# ------------------------------------------------------------------ momentum across stages
def _stagewise_restart(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Each stage run as a network of its own, begun at x_{-1} = x_0."""
    x = model.stem(x)
    for stage in model.stages:
        x, _ = stage([x, x])  # the state (x_k, x_{k-1})
    return model.fc(torch.flatten(model.pool(x), 1))


@pytest.mark.parametrize("name", ["hbnet20", "hbnet34"])
def test_hbnet_restart_is_each_stage_alone_and_differs_from_carry(name: str) -> None:
    torch.manual_seed(0)
    carry = create_model(name, in_channels=1).eval()
    restart = create_model(name, in_channels=1, momentum="restart").eval()
    restart.load_state_dict(carry.state_dict())
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(restart(x), _stagewise_restart(carry, x))
        assert not torch.allclose(carry(x), restart(x), atol=1e-4)  # negative control
        assert not torch.allclose(carry(x), _stagewise_restart(carry, x), atol=1e-4)


def test_agdnet_carry_continues_the_h_schedule_across_blocks() -> None:
    h = nesterov_h(36)
    rows = _h_rows(12, 12)  # the second block of agdnet40 under "carry"
    assert rows[5][2] == float(h[17][14]) and rows[1][0] == float(h[13][12])
    assert _h_rows(12, 0)[5][2] == float(nesterov_h(12)[5][2])  # restart: the block's own
    assert rows[5][2] != _h_rows(12, 0)[5][2]
    torch.manual_seed(0)
    restart = create_model("agdnet40", in_channels=1).eval()
    carry = create_model("agdnet40", in_channels=1, momentum="carry").eval()
    carry.load_state_dict(restart.state_dict())
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        (first_restart,) = restart.blocks[0]([restart.stem(x)])
        (first_carry,) = carry.blocks[0]([carry.stem(x)])
        assert torch.equal(first_restart, first_carry)  # the first block has offset 0
        assert not torch.allclose(restart(x), carry(x), atol=1e-5)


def test_agdnet_reads_its_h_term_from_the_dense_concatenation() -> None:
    """AGD-Net's (21) h-term is fused into the dense layer's call (no copy of the states) for
    every layer that has one, and the fused call equals the same layer run term by term
    (float64). Negative control: states that are not consecutive cannot be fused."""
    torch.manual_seed(0)
    net = create_model("agdnet40").double().eval()
    block = net.blocks[0]
    fused = [f is not None for f in block._fused]
    assert fused[0] is False and all(fused[1:])  # layer 0: h_{1,0} = 1 leaves no beta-term
    z0 = torch.randn(2, 16, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        together = block([z0])[0]
        block._fused = [None] * len(block._fused)
        apart = block([z0])[0]
    assert torch.allclose(together, apart, rtol=1e-12, atol=1e-12)
    layer = block.blocks[3]
    assert layer.can_fuse([1, 2, 3]) and not layer.can_fuse([1, 3])
    assert not layer.can_fuse([0, 1])  # z_0 has 16 channels, the others the growth rate's 12
