"""Method-nets: Sec. 6's relaxation rule on any registered method (docs/method-nets.md).

hb with step 1 and beta = 1 must be hbnet to the bit; ogm/tmm/item nets build, train a step and
add exactly their learnable coefficients to ResNet's count; with T the exact gradient step the
network is the method's own run; the read-back of the coefficients is the method. Every check
has a negative control.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from optnet_nets.learned.coefficients import net_coefficients
from optnet_nets.models import create_model
from optnet_nets.models.method_net import (
    MethodNet,
    MethodStage,
    bind_method,
    cifar_method_net,
    method_stage,
)
from optnet_nets.models.method_rule import format_layers, relaxed_schedule
from optnet_theory.errors import OptnetError
from optnet_theory.methods import Method, get_method

torch.set_num_threads(1)
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _hb_pair(momentum: str, beta: float = 1.0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    hbnet = create_model("hbnet56", momentum=momentum)
    torch.manual_seed(0)
    rule = cifar_method_net(56, 10, 3, "hb", beta=beta, step=1.0, momentum=momentum)
    return hbnet, rule


@pytest.mark.parametrize("momentum", ["carry", "restart"])
def test_hb_rule_is_hbnet56_bit_for_bit(momentum: str) -> None:
    hbnet, rule = _hb_pair(momentum)
    a, b = hbnet.state_dict(), rule.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(2, 3, 32, 32)
    for train in (False, True):  # eval first: train mode updates the BN statistics
        hbnet.train(train)
        rule.train(train)
        assert torch.equal(hbnet(x), rule(x))
    a, b = hbnet.state_dict(), rule.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same running statistics after
    # negative control: beta = 0.9 is another network with the same modules
    hbnet, other = _hb_pair(momentum, beta=0.9)
    assert list(hbnet.state_dict()) == list(other.state_dict())
    assert not torch.allclose(hbnet.eval()(x), other.eval()(x))


def _count(name: str, **options: object) -> int:
    with torch.device("meta"):
        model = create_model(name, **options)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["ogmnet56", "tmmnet56", "itemnet56"])
def test_method_nets_count_and_train_a_step(name: str) -> None:
    base = _count("resnet56")
    assert _count(name) == base
    torch.manual_seed(0)
    model = create_model(name, coefficients="learnable")
    assert isinstance(model, MethodNet)
    m = len(model.initial)
    layers = sum(len(stage.blocks) for stage in model.stages)
    per_layer = m * m + 2 * m  # a (m), b (m x m), C (m)
    assert _count(name, coefficients="learnable") == base + layers * per_layer + m
    stages = len(model.stages)  # restart: one read-out per stage
    restart = _count(name, coefficients="learnable", momentum="restart")
    assert restart == base + layers * per_layer + stages * m
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 1]))
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    moved = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    assert "stages.0.blocks.0.conv1.weight" in moved
    assert {"readout", "stages.2.transform", "stages.2.skip", "stages.2.point"} <= moved


class GradientStep(nn.Module):
    """T(y) = y - grad f(y) for f(y) = sum q y^2 / 2 (L = 1): the rule's T made exact."""

    def __init__(self, q: Tensor) -> None:
        super().__init__()
        self.q = q

    def forward(self, y: Tensor) -> Tensor:
        return y - self.q * y


def _quadratic(mu: float) -> tuple[Tensor, Tensor]:
    torch.manual_seed(1)
    q = mu + (1 - mu) * torch.rand(1, 2, 3, 3, dtype=torch.float64)
    x0 = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    return q, x0


def _stage(method: Method, layers: int, q: Tensor, nudge: float = 0.0) -> MethodStage:
    """The method's stage with T = the gradient step; ``nudge`` moves layer 2's T-weight a_0."""
    schedule, _ = relaxed_schedule(method, layers)
    lay = schedule[2]
    schedule[2] = replace(lay, transform=(lay.transform[0] + nudge, *lay.transform[1:]))
    blocks = nn.ModuleList(GradientStep(q) for _ in range(layers))
    return method_stage(blocks, schedule)


@pytest.mark.parametrize("name", ["gd", "hb", "agd", "agd2", "ogm", "tmm", "item"])
def test_with_t_the_gradient_step_a_stage_is_the_method(name: str) -> None:
    """The rule is exact: with T = y - grad f(y) a stage runs the method's own iterates."""
    mu, K = 0.05, 7
    q, x0 = _quadratic(mu)
    method = bind_method(name, K, mu, {})
    _, readout = relaxed_schedule(method, K)
    expected = torch.from_numpy(
        method.run(lambda y: q.flatten().numpy() * y, x0.flatten().numpy(), K)[-1]
    )

    def output(stage: MethodStage) -> Tensor:
        xi = stage([x0 * v for v in method.spec.initial])
        return torch.stack([d * s for d, s in zip(readout, xi, strict=True)]).sum(0).flatten()

    assert torch.allclose(output(_stage(method, K, q)), expected, rtol=0, atol=1e-12)
    wrong = output(_stage(method, K, q, nudge=1e-3))  # negative control
    assert not torch.allclose(wrong, expected, rtol=0, atol=1e-6)


def _gradient_net(name: str, q: Tensor, mu: float, momentum: str, sizes: list[int]) -> MethodNet:
    runs = [sum(sizes)] if momentum == "carry" else sizes
    bound = [bind_method(name, n, mu, {}) for n in runs]
    schedules = [relaxed_schedule(b, n) for b, n in zip(bound, runs, strict=True)]
    layers = [lay for run, _ in schedules for lay in run]
    stages = [
        method_stage(
            nn.ModuleList(GradientStep(q) for _ in range(n)),
            layers[sum(sizes[:s]) : sum(sizes[: s + 1])],
        )
        for s, n in enumerate(sizes)
    ]
    readouts = [r for _, r in schedules]
    return MethodNet(nn.Identity(), stages, nn.Identity(), bound[0].spec.initial, readouts,
                     momentum, method=bound[0])


@pytest.mark.parametrize("name", ["ogm", "item", "tmm"])
def test_restart_is_one_run_per_stage_and_the_read_back_is_the_method(name: str) -> None:
    mu, sizes = 0.05, [3, 3, 3]
    q, x0 = _quadratic(mu)
    grad = q.flatten().numpy()
    net = _gradient_net(name, q, mu, "restart", sizes).double()
    x = x0.flatten().numpy()
    for n in sizes:  # each stage runs the method afresh from the last stage's output
        x = bind_method(name, n, mu, {}).run(lambda y: grad * y, x, n)[-1]
    pooled = x.reshape(2, 9).mean(axis=1)
    assert torch.allclose(net(x0).flatten(), torch.from_numpy(pooled), rtol=0, atol=1e-12)
    # read back: one method of 9 layers, restarts folded into each stage's first layer
    read = net_coefficients(net).method().run(lambda y: grad * y, x0.flatten().numpy(), 9)[-1]
    assert abs(read - x).max() < 1e-12
    # negative control: the carry network (one run over all 9 layers) is another method
    carry = _gradient_net(name, q, mu, "carry", sizes).double()
    assert not torch.allclose(carry(x0).flatten(), torch.from_numpy(pooled), rtol=0, atol=1e-6)
    one_run = bind_method(name, 9, mu, {}).run(lambda y: grad * y, x0.flatten().numpy(), 9)[-1]
    assert abs(one_run - x).max() > 1e-6


def test_learnable_starts_at_the_fixed_coefficients_and_is_read_back() -> None:
    torch.manual_seed(0)
    fixed = create_model("ogmnet20")
    torch.manual_seed(0)
    learnable = create_model("ogmnet20", coefficients="learnable")
    assert isinstance(fixed, MethodNet) and isinstance(learnable, MethodNet)
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(fixed(x), learnable(x), rtol=1e-5, atol=1e-5)
    method = get_method("ogm", N=9).coefficients(9)
    read = net_coefficients(learnable)
    assert read.depth == 9
    for st, ref in zip(read.steps, method, strict=False):
        for got, want in ((st.A, ref.A), ((st.B, st.C, st.D), (ref.B, ref.C, ref.D))):
            assert torch.allclose(torch.tensor(got), torch.tensor(want), atol=1e-6)
    with torch.no_grad():
        learnable.stages[1].transform[0, 0] += 0.25  # layer 3's a_0: B_3 changes by -0.25
    assert not torch.allclose(fixed(x), learnable(x), rtol=1e-5, atol=1e-5)
    changed = net_coefficients(learnable)
    assert changed.steps[3].B[0] == pytest.approx(read.steps[3].B[0] - 0.25, abs=1e-6)
    assert changed.steps[2] == read.steps[2]


@pytest.mark.parametrize("structure", ["heavy-ball", "nesterov"])
def test_hbnet_coefficients_are_read_as_its_method(structure: str) -> None:
    torch.manual_seed(0)
    model = create_model("hbnet20", structure=structure, learnable=True)
    read = net_coefficients(model)
    assert read.depth == 9
    if structure == "heavy-ball":  # HB-Net starts at hb with beta = 1, step 1
        hb = get_method("hb", beta=1.0, step=1.0).coefficients(9)
        assert all(st.A == ref.A and st.B == ref.B and st.C == ref.C
                   for st, ref in zip(read.steps, hb, strict=False))
    with torch.no_grad():
        model.stages[0].coefficients[2] += 0.5  # layer 1's beta1
    moved = net_coefficients(model)
    assert moved.steps[1].A[0][0] == pytest.approx(read.steps[1].A[0][0] + 0.5)
    assert moved.steps[0] == read.steps[0]
    with pytest.raises(OptnetError, match="not a linear method"):
        net_coefficients(create_model("resnet20"))


def test_errors_name_what_is_accepted() -> None:
    with pytest.raises(OptnetError, match="accepted: fixed, learnable"):
        create_model("ogmnet20", coefficients="free")
    with pytest.raises(OptnetError, match="mu must satisfy"):
        create_model("tmmnet20", mu=2.0)
    with pytest.raises(OptnetError, match="gradient calls per iteration"):
        cifar_method_net(20, 10, 3, "admm")
    with pytest.raises(OptnetError, match="has no parameter"):
        cifar_method_net(20, 10, 3, "ogm", beta=0.5)
    with pytest.raises(OptnetError, match="reads method-nets"):
        net_coefficients(nn.Linear(2, 2))


def _doc_blocks() -> list[str]:
    text = (DOCS / "method-nets.md").read_text(encoding="utf-8")
    return re.findall(r"```text\n(.*?)\n```", text, flags=re.S)


@pytest.mark.parametrize(
    ("name", "params"),
    [("hb", {"beta": 1.0, "step": 1.0}), ("gd", {}), ("agd", {}), ("ogm", {}), ("tmm", {}),
     ("item", {})],
)
def test_the_docs_print_the_layers_as_computed(name: str, params: dict[str, float]) -> None:
    """docs/method-nets.md shows format_layers' output verbatim (depth 20: 9 layers, carry)."""
    text = format_layers(bind_method(name, 9, None, params), 9)
    assert text in _doc_blocks()
    wrong = format_layers(bind_method(name, 9, None, params), 8)  # negative control
    assert wrong not in _doc_blocks()
    assert "method-nets.md" in (DOCS / "paper-map.md").read_text(encoding="utf-8")


class _Tanh(nn.Module):
    """A nonlinear T(y) = tanh(y W) that records the points it is applied to."""

    def __init__(self, W: Tensor, log: list[Tensor]) -> None:
        super().__init__()
        self.W, self.log = W, log

    def forward(self, y: Tensor) -> Tensor:
        self.log.append(y)
        return torch.tanh(y @ self.W)


def _points(name: str, K: int, Ws: list[Tensor], x0: Tensor, nudge: float = 0.0) -> list[Tensor]:
    method = bind_method(name, K, 0.0, {})
    schedule, _ = relaxed_schedule(method, K)
    lay = schedule[3]
    schedule[3] = replace(lay, transform=(lay.transform[0] + nudge, *lay.transform[1:]))
    log: list[Tensor] = []
    stage = method_stage(nn.ModuleList(_Tanh(W, log) for W in Ws), schedule)
    stage([x0 * v for v in method.spec.initial])
    return log


def test_agd_and_its_summed_form_give_one_network_under_the_rule() -> None:
    """(3) <=> (4)+(5) holds for any gradients, so agd and agd2 apply their T_k to the same
    points for any T (docs/method-nets.md: both differ from AGD-Net (21))."""
    torch.manual_seed(0)
    K = 8
    Ws = [torch.randn(5, 5, dtype=torch.float64) / 3 for _ in range(K)]
    x0 = torch.randn(1, 5, dtype=torch.float64)
    agd, agd2 = _points("agd", K, Ws, x0), _points("agd2", K, Ws, x0)
    assert all(torch.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(agd, agd2, strict=True))
    wrong = _points("agd2", K, Ws, x0, nudge=1e-3)  # negative control
    assert not all(torch.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(agd, wrong, strict=True))
