"""The Table-2 ensembles accept any activation (issue 16): a formula is translated, trained by
autograd, and its gradient matches finite differences; the run records the activation."""

from __future__ import annotations

import json

import torch

from optnet_nets.cli import main
from optnet_nets.unrolled import UnrolledEnsemble
from optnet_nets.unrolled.adjoint import unsupported_reason


def test_a_formula_activation_trains_by_autograd_with_the_right_gradient():
    torch.manual_seed(0)
    model = UnrolledEnsemble(["hb", "tmm"], 3, 4, seeds=[0, 1], activation="x*erf(x)",
                             methods={"tmm": {"mu": 0.2}}, dtype=torch.float64)
    assert unsupported_reason(model) is not None  # the explicit backward knows sigmoid/tanh only
    x0 = torch.randn(5, 4, dtype=torch.float64)
    f = torch.randn(2, 5, 4, dtype=torch.float64)

    def loss(w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            model.weight.copy_(w)
        return (model(x0) - f).square().mean()

    w0 = model.weight.detach().clone()
    model.weight.grad = None
    (model(x0) - f).square().mean().backward()
    grad = model.weight.grad.clone()
    direction = torch.randn_like(w0)
    eps = 1e-6
    fd = (loss(w0 + eps * direction) - loss(w0 - eps * direction)) / (2 * eps)
    assert torch.isclose((grad * direction).sum(), fd, rtol=1e-6, atol=1e-9)
    # negative control: a different Phi gives a different output on the same weights
    other = UnrolledEnsemble(["hb", "tmm"], 3, 4, seeds=[0, 1], activation="tanh",
                             methods={"tmm": {"mu": 0.2}}, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(w0)
        other.weight.copy_(w0)
    assert not torch.allclose(model(x0), other(x0))


def test_simulate_takes_an_activation_and_records_it(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main(["simulate", "--quick", "--structures", "gd", "hb", "--depths", "2", "--seeds", "1",
               "--epochs", "1", "--activation", "softsign", "--out", str(out), "--json"])
    assert rc == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["activation"] == "softsign"
    assert main(["simulate", "--quick", "--activation", "__import__", "--out",
                 str(tmp_path / "bad")]) == 2
    assert "error" in capsys.readouterr().err
