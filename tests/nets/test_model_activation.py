"""Any activation in any CNN family: the modules use Phi, gradients match finite differences in
float64, and ``optnet train --activation`` trains and records Phi with its derived energy.

Negative controls: a model with another Phi gives different outputs (so "uses Phi" is not
vacuous), and a parameter direction whose directional derivative is perturbed is caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp
import torch
from torch import nn

from optnet_nets.cli import main
from optnet_nets.models import REGISTRY, create_model
from optnet_nets.models.activation import Phi
from optnet_theory import derive_energy

torch.set_num_threads(1)

FAMILIES = ["resnet20", "hbnet20", "densenet40", "agdnet40", "densenet_bc100", "dmrnet20",
            "admmnet20", "resnet34", "hbnet34", "densenet121", "agdnet121"]  # fmt: skip


def test_every_cnn_entry_takes_activation_with_relu_named_as_default() -> None:
    for name, entry in REGISTRY.items():
        assert entry.options["activation"].default == "relu", name


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_uses_the_given_phi_everywhere(name: str) -> None:
    with torch.device("meta"):  # shapes only: no memory, no init
        default = create_model(name)
        erf = create_model(name, activation="x*erf(x)")
    assert any(isinstance(m, nn.ReLU) for m in default.modules())
    assert not any(isinstance(m, Phi) for m in default.modules())
    phis = [m for m in erf.modules() if isinstance(m, Phi)]
    assert phis and not any(isinstance(m, nn.ReLU) for m in erf.modules())
    assert all(m.formula == "x*erf(x)" for m in phis)
    assert sum(isinstance(m, nn.ReLU) for m in default.modules()) == len(phis)
    assert list(default.state_dict()) == list(erf.state_dict())  # Phi has no parameters


@pytest.mark.parametrize("name", ["hbnet20", "agdnet40", "admmnet20"])
def test_the_spec_forms_agree_and_another_phi_differs(name: str) -> None:
    x = sp.Symbol("x")
    torch.manual_seed(0)
    text = create_model(name, in_channels=1, activation="x*erf(x)").eval()
    symbolic = create_model(name, in_channels=1, activation=x * sp.erf(x)).eval()
    relu = create_model(name, in_channels=1).eval()
    explicit = create_model(name, in_channels=1, activation="relu").eval()
    for other in (symbolic, relu, explicit):
        other.load_state_dict(text.state_dict())
    inputs = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(text(inputs), symbolic(inputs))
        assert torch.equal(relu(inputs), explicit(inputs))
        assert not torch.allclose(text(inputs), relu(inputs), atol=1e-3)  # negative control


def _loss(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return model(inputs).square().sum()


def test_hbnet20_with_x_erf_x_gradient_matches_finite_differences_float64() -> None:
    """Input gradient by gradcheck; parameter gradient along a random direction by central
    differences (train mode: BN on batch statistics); a perturbed gradient is caught."""
    torch.manual_seed(0)
    model = create_model("hbnet20", in_channels=1, activation="x*erf(x)").double()
    inputs = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    model.eval()
    small = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: model(t), (small,), eps=1e-6, atol=1e-6)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    direction = [torch.randn_like(p) for p in params]
    model.zero_grad()
    _loss(model, inputs).backward()
    analytic = sum(float((p.grad * d).sum()) for p, d in zip(params, direction, strict=True))
    eps = 1e-6
    values = []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            for p, d in zip(params, direction, strict=True):
                p.add_(sign * eps * d)
            values.append(float(_loss(model, inputs)))
            for p, d in zip(params, direction, strict=True):
                p.sub_(sign * eps * d)
    numeric = (values[0] - values[1]) / (2 * eps)
    tol = 1e-6 * max(1.0, abs(numeric))
    assert abs(analytic - numeric) <= tol
    assert abs(analytic * (1 + 1e-4) - numeric) > tol  # negative control


def test_train_with_a_formula_activation_records_phi_and_its_energy(tmp_path: Path, capsys) -> None:
    out = tmp_path / "erf"
    args = ["train", "--model", "hbnet20", "--activation", "x*erf(x)", "--dataset", "synthetic",
            "--dataset-option", "num_train=32", "--dataset-option", "num_test=16",
            "--dataset-option", "image_size=8", "--batch-size", "16", "--epochs", "1",
            "--threads", "1", "--no-progress", "--out", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 1
    config = json.loads((out / "config.json").read_text())
    assert config["model_options"]["activation"] == "x*erf(x)"
    record = config["activation_energy"]
    energy = derive_energy("x*erf(x)")
    assert record["activation"] == "x*erf(x)" and record["method"] == energy.method
    assert record["psi"] == str(energy.psi) and record["verified"] is True


def test_a_bad_activation_is_a_one_line_cli_error(tmp_path: Path, capsys) -> None:
    assert main(["train", "--model", "hbnet20", "--activation", "log(x)", "--dataset",
                 "synthetic", "--out", str(tmp_path / "bad")]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "log(x)" in err
