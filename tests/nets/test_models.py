"""The model zoo: parameter counts (Tables 4-5), Table 3's special cases with shared weights,
the registry's errors, and the CLI listing.

Parameter counts build on the meta device (no memory, no forward). Every "same output" check
has a negative control with one coefficient perturbed.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from optnet_nets.cli import main
from optnet_nets.models import REGISTRY, create_model, list_models
from optnet_theory.errors import OptnetError

torch.set_num_threads(1)


def _count(name: str, num_classes: int, **options: object) -> int:
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, **options)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "classes", "expected"),
    [
        ("resnet56", 10, 853_018),
        ("resnet110", 10, 1_727_962),
        ("densenet40", 10, 1_019_722),
        ("densenet100", 10, 6_979_642),
        ("resnet34", 1000, 21_797_672),
        ("densenet121", 1000, 7_978_856),
    ],
)
def test_parameter_counts_of_the_baselines(name: str, classes: int, expected: int) -> None:
    assert _count(name, classes) == expected


@pytest.mark.parametrize(("depth", "blocks"), [(56, 27), (110, 54)])
def test_hbnet_has_its_resnets_count_plus_only_learnt_scalars(depth: int, blocks: int) -> None:
    base = _count(f"resnet{depth}", 10)
    assert _count(f"hbnet{depth}", 10) == base
    assert _count(f"hbnet{depth}", 10, learnable=True) == base + 2 * blocks  # beta1, beta2
    assert _count(f"hbnet{depth}", 10, structure="nesterov", learnable=True) == base + 2 * blocks
    assert _count("hbnet34", 1000) == _count("resnet34", 1000)


@pytest.mark.parametrize(
    ("name", "layers"), [("40", [12] * 3), ("52", [16] * 3), ("121", [6, 12, 24, 16])]
)
def test_agdnet_has_its_densenets_count_plus_alphas(name: str, layers: list[int]) -> None:
    classes = 1000 if name == "121" else 10
    alphas = sum(n * (n + 1) // 2 for n in layers)  # layer k+1 weighs z_0..z_k
    base = _count(f"densenet{name}", classes)
    assert _count(f"agdnet{name}", classes) == base + alphas
    assert _count(f"agdnet{name}", classes, learnable_alpha=False) == base


def _pair(name_a: str, name_b: str, seed: int = 0, **options: object) -> tuple[nn.Module, ...]:
    """Two models with the same weights (b loads a's state_dict; only b's extras may be new)."""
    torch.manual_seed(seed)
    a = create_model(name_a, in_channels=1)
    b = create_model(name_b, in_channels=1, **options)
    for m in a.modules():  # non-trivial BN so that a mismatch cannot hide in a zero branch
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    missing, unexpected = b.load_state_dict(a.state_dict(), strict=False)
    assert not unexpected
    assert all(k.endswith("coefficients") for k in missing)
    return a.train(), b.train()


def _close(a: nn.Module, b: nn.Module, x: torch.Tensor, atol: float = 1e-6) -> bool:
    return torch.allclose(a(x), b(x), rtol=0, atol=atol)


def test_hbnet_with_beta2_zero_and_relu_is_resnet() -> None:
    """Table 3 at model level: HB-Net with beta2 = 0 and ResNet's ReLU is ResNet-20."""
    resnet, hb = _pair("resnet20", "hbnet20", beta2=0.0, activate_sum=True)
    x = torch.randn(4, 1, 28, 28)
    assert _close(resnet, hb, x)
    _, hb_wrong = _pair("resnet20", "hbnet20", beta2=1e-3, activate_sum=True)
    assert not _close(resnet, hb_wrong, x)
    _, hbnet = _pair("resnet20", "hbnet20")  # the real HB-Net differs
    assert not _close(resnet, hbnet, x)


def test_nesterov_structure_with_beta2_zero_is_resnet() -> None:
    """(17) over residual units with beta1 = 1, beta2 = 0 and ReLU is ResNet-20 too."""
    options = {"structure": "nesterov", "beta1": 1.0, "activate_sum": True}
    resnet, nag = _pair("resnet20", "hbnet20", beta2=0.0, **options)
    x = torch.randn(4, 1, 28, 28)
    assert _close(resnet, nag, x)
    _, nag_wrong = _pair("resnet20", "hbnet20", beta2=1e-3, **options)
    assert not _close(resnet, nag_wrong, x)


def test_agdnet_with_beta_zero_alpha_one_is_densenet() -> None:
    """Table 3: AGD-Net (21) with beta = 0, alpha = 1 gives DenseNet's output (float32, 1e-6)."""
    densenet, agd = _pair("densenet40", "agdnet40", beta=0.0)
    x = torch.randn(2, 1, 28, 28)
    assert _close(densenet, agd, x)
    with torch.no_grad():
        agd.blocks[1].coefficients[4] += 1e-3
    assert not _close(densenet, agd, x)
    _, agd_paper = _pair("densenet40", "agdnet40")  # beta = 0.1: the h-term is live
    assert not _close(densenet, agd_paper, x)


def test_agdnet121_with_beta_zero_is_densenet121() -> None:
    """The same special case with DenseNet-BC's bottleneck layers (alpha at the 1x1 conv)."""
    densenet, agd = _pair("densenet121", "agdnet121", beta=0.0)
    x = torch.randn(2, 1, 28, 28)
    assert _close(densenet, agd, x)
    with torch.no_grad():
        agd.blocks[0].coefficients[0] += 1e-3
    assert not _close(densenet, agd, x)


def test_admmnet_starts_at_dmrnet() -> None:
    """(20) with alpha = beta = 1/2 (DMRNet) vs ADMM-Net's learnable start at those values."""
    dmr, admm = _pair("dmrnet20", "admmnet20")
    x = torch.randn(2, 1, 28, 28)
    assert _close(dmr, admm, x)
    with torch.no_grad():
        admm.stages[2].coefficients[0] += 1e-3
    assert not _close(dmr, admm, x)


def test_memory_efficient_densenet_same_outputs_and_gradients() -> None:
    plain, efficient = _pair("densenet_bc100", "densenet_bc100", memory_efficient=True)
    x = torch.randn(2, 1, 28, 28)
    grads = []
    for model in (plain, efficient):
        model.zero_grad()
        out = model(x)
        out.square().sum().backward()
        grads.append((out.detach(), model.stem.weight.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-6)


def test_reversible_hbnet_has_the_same_modules() -> None:
    """reversible=True changes the backward only: same state_dict keys, same forward."""
    plain, rev = _pair("hbnet20", "hbnet20", reversible=True)
    assert list(plain.state_dict()) == list(rev.state_dict())
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(plain(x), rev(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(OptnetError, match="invertible"):
        create_model("hbnet20", reversible=True, activate_sum=True)
    with pytest.raises(OptnetError, match="invertible"):
        create_model("hbnet20", reversible=True, learnable=True)


@pytest.mark.parametrize("name", ["resnet20", "hbnet20", "densenet40", "agdnet40", "dmrnet20"])
def test_small_grey_inputs_and_any_size(name: str) -> None:
    """Fashion-MNIST-sized input (1x28x28) and a non-square one, with in_channels=1."""
    model = create_model(name, num_classes=7, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)
        assert model(torch.randn(1, 1, 33, 40)).shape == (1, 7)


def test_registry_lists_every_family() -> None:
    names = list_models()
    for expected in (
        "resnet20", "resnet110", "hbnet56", "densenet40", "densenet100", "densenet_bc100",
        "agdnet52", "admmnet56", "dmrnet56", "resnet34", "hbnet34", "densenet121", "agdnet121",
    ):
        assert expected in names
    assert all(REGISTRY[n].equation for n in names)


def test_registry_errors_name_the_choices() -> None:
    with pytest.raises(OptnetError, match="unknown model 'resnet57'.*resnet56"):
        create_model("resnet57")
    with pytest.raises(OptnetError, match="no option beta3; accepted: structure, beta1, beta2"):
        create_model("hbnet20", beta3=1.0)
    with pytest.raises(OptnetError, match="accepted: activation$"):
        create_model("resnet20", beta2=0.0)
    with pytest.raises(OptnetError, match="unknown function 'tanhh'"):
        create_model("hbnet20", activation="tanhh(x)")
    with pytest.raises(OptnetError, match="accepted: carry, restart"):
        create_model("agdnet40", momentum="keep")
    with pytest.raises(OptnetError, match="real number"):
        create_model("agdnet40", beta="0.1")
    with pytest.raises(OptnetError, match="True or False"):
        create_model("densenet40", memory_efficient=1)
    with pytest.raises(OptnetError, match="num_classes"):
        create_model("resnet20", num_classes=0)
    for old, new in (("16", "heavy-ball"), ("17", "nesterov")):  # the equation numbers of old
        with pytest.raises(OptnetError, match=f"structure='{old}' is now spelled "
                           f"structure='{new}'; accepted: heavy-ball, nesterov"):
            create_model("hbnet20", structure=old)


def test_extra_repr_shows_the_coefficients() -> None:
    text = repr(create_model("hbnet20"))
    assert "layer 0: t0 = T0(xi[0]); xi[0]' = t0 + xi[0] - xi[1]; xi[1]' = xi[0]" in text
    text = repr(create_model("agdnet40"))
    assert "t0 = coefficients[1] T1(xi[0]) + coefficients[2] T1(xi[1])" in text
    assert "xi[2]' = t0 - 0.02818 xi[1]" in text  # beta (z_1 - h_{2,1} z_1), beta = 0.1


def test_cli_lists_models_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(list_models())
    assert rows["resnet56"]["parameters"] == 853_018
    assert rows["hbnet56"]["baseline"] == "resnet56"
    alphas = sum(n * (n + 1) // 2 for n in (6, 12, 24, 16))
    assert rows["agdnet121"]["parameters"] == rows["densenet121"]["parameters"] + alphas
