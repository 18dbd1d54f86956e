"""Each named model is the paper's template, (16)/(17), (18)/(21) or (20), run by the rule.

Every stage of ResNet/HB-Net, DMRNet/ADMM-Net and DenseNet/AGD-Net is a
:class:`~optnet_nets.models.stage.MethodStage` running the rule's layers. Here its layers are
written as a coefficient table of :class:`~tests.nets.multistep.Multistep` (the independent
engine) and

* the table equals the one :mod:`tests.nets.multistep_tables` builds for the model from the paper
  (heavy_ball_table, nesterov_residual_table, admm_table, dense_table with agd_beta), learned
  entries in the order of the stage's ``coefficients``;
* a copy of the model with each stage run by :class:`Multistep` from that table (same modules,
  same coefficient tensor) gives the same outputs in eval and train mode (float64), the same
  gradients and the same BatchNorm statistics.

Negative controls: a table with one coefficient moved by 1e-3 differs from the paper's, and its
network's output is caught.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from optnet_nets.models import create_model
from optnet_nets.models.admm import dmrnet_coefficient
from optnet_nets.models.densenet import _h_rows
from optnet_nets.models.method_rule import Learned
from optnet_nets.models.stage import MethodStage
from optnet_theory.coefficients import nesterov_beta
from tests.nets.multistep import Learnable, Multistep, Step, learnables, live, step, term
from tests.nets.multistep_tables import (
    admm_table,
    agd_beta,
    dense_table,
    heavy_ball_table,
    nesterov_residual_table,
)

torch.set_num_threads(1)

CASES = [
    ("resnet20", {}),
    ("hbnet20", {}),
    ("hbnet20", {"learnable": True}),
    ("hbnet20", {"structure": "nesterov"}),
    ("hbnet20", {"beta2": 0.3, "activate_sum": True}),
    ("hbnet20", {"momentum": "restart"}),
    ("hbnet34", {}),
    ("dmrnet20", {}),
    ("admmnet20", {}),
    ("densenet40", {}),
    ("agdnet40", {}),
    ("agdnet40", {"momentum": "carry"}),
    ("agdnet121", {}),
]
IDS = [f"{n}{o or ''}" for n, o in CASES]


def _paper_table(name: str, options: dict[str, Any], s: int, n: int, before: int) -> list[Step]:
    """The table of tables.py for stage/block ``s`` (``n`` layers, ``before`` in earlier
    blocks) of the registered model, as the paper writes it (Table 3, Sec. 6.1, 6.2)."""
    if name.startswith("resnet"):
        return heavy_ball_table(n, 1.0, 0.0)
    if name.startswith("hbnet") and options.get("structure") == "nesterov":
        beta = nesterov_beta(n)
        return nesterov_residual_table(n, lambda k: 1 + float(beta[k]), lambda k: -float(beta[k]))
    if name.startswith("hbnet"):
        if options.get("learnable"):
            return heavy_ball_table(n, lambda k: Learnable(1.0), lambda k: Learnable(-1.0))
        return heavy_ball_table(n, 1.0, options.get("beta2", -1.0))
    if name.startswith("dmrnet"):
        return admm_table(n, dmrnet_coefficient, dmrnet_coefficient)
    if name.startswith("admmnet"):

        def learned(k1: int, t: int) -> Learnable:
            return Learnable(dmrnet_coefficient(k1, t))

        return admm_table(n, learned, learned)
    if name.startswith("densenet"):
        return dense_table(n, 1.0, 0.0, lambda k: ())
    offset = before if options.get("momentum") == "carry" else 0
    return dense_table(n, lambda k1, j: Learnable(1.0), agd_beta(0.1, _h_rows(n, offset)),
                       lambda k: range(1, k + 1))


def _inputs(stage: MethodStage) -> list[int]:
    """The table's state number of each input slot: (16)/(17) number x_{k-1} first."""
    return [1, 0] if stage.equation in ("16", "17") else list(range(2 if stage.keep else 1))


def _table(stage: MethodStage) -> tuple[list[Step], list[int]]:
    """The stage's layers as rows of a Multistep table (one row per computed slot, kept slots
    reused, fixed zeros dropped), and the state number of each final slot. Learned entries
    become Learnables, one per element of the stage's parameter, first used in its order."""
    inputs = _inputs(stage)
    index = list(inputs)
    learned: dict[Learned, Learnable] = {}

    def entry(v: Any) -> Any:
        return learned.setdefault(v, Learnable(0.0)) if isinstance(v, Learned) else v

    rows: list[Step] = []
    for layer in stage.layers:
        slots = []
        for slot in layer.slots:
            if isinstance(slot, int):
                slots.append(index[slot])
                continue
            (p,) = [p for p, a in enumerate(slot.transform) if live(entry(a))]
            path = layer.paths[p]
            if path.concat:
                terms = [term(entry(a), {index[l]: 1.0}) for l, a in enumerate(path.point)]
            else:
                inputs_ = {index[l]: entry(c) for l, c in enumerate(path.point) if live(entry(c))}
                terms = [term(entry(slot.transform[p]), inputs_)]
            skips = {index[l]: entry(b) for l, b in enumerate(slot.skip) if live(entry(b))}
            rows.append(step(terms, skips, path.block, path.concat))
            slots.append(len(inputs) + len(rows) - 1)  # Multistep's number of the new state
        index = slots
    key = {id(v): k for k, v in learned.items()}
    assert [key[id(v)].index for v in learnables(rows)] == [(i,) for i in range(len(learned))]
    return rows, index


def _normal(table: list[Step]) -> list[tuple]:
    """A table with fixed zeros dropped and each Learnable named by its place in the
    ``coefficients`` vector of a module running it."""
    order = {id(v): i for i, v in enumerate(learnables(table))}

    def name(v: Any) -> Any:
        return ("learned", order[id(v)]) if isinstance(v, Learnable) else v

    out = []
    for row in table:
        terms = tuple(
            (name(t.weight), tuple((i, name(c)) for i, c in t.inputs if live(c)))
            for t in row.terms if row.joint or live(t.weight)
        )
        out.append((terms, tuple((i, name(b)) for i, b in row.skips if live(b)), row.transform,
                    row.joint))
    return out


class TableStage(nn.Module):
    """A stage run by :class:`Multistep` from its layers' table, on the same modules and the
    same ``coefficients`` tensor."""

    def __init__(self, stage: MethodStage, perturb: bool = False) -> None:
        super().__init__()
        rows, self.index = _table(stage)
        if perturb:
            rows = _perturbed(rows)
        self.engine = Multistep(stage.blocks, rows, len(_inputs(stage)),
                                shortcut=stage.shortcut, activation=stage.activation)
        self.inputs, self.keep, self.concat = _inputs(stage), stage.keep, stage.concat
        trained = getattr(stage, "coefficients", None)
        if trained is not None:  # element i is the table's i-th Learnable (checked in _table)
            self.engine.coefficients = trained
            if perturb:
                with torch.no_grad():
                    trained[-1] += 1e-3

    def forward(self, xi: list[Tensor]) -> list[Tensor]:
        states = self.engine.run([xi[self.inputs.index(i)] for i in range(len(xi))])
        out = [states[i] for i in self.index]
        if self.concat:
            return [torch.cat(out, 1)]
        return out if self.keep is None else out[-self.keep :]


def _stage_lists(model: nn.Module) -> nn.ModuleList:
    return model.blocks if hasattr(model, "transitions") else model.stages  # type: ignore[return-value]


def _perturbed(table: list[Step]) -> list[Step]:
    """The table with its first fixed nonzero skip coefficient (else the last row's first term
    weight, if fixed) moved by 1e-3."""
    rows = list(table)
    for r, row in enumerate(rows):
        for n, (i, b) in enumerate(row.skips):
            if isinstance(b, float) and b != 0.0:
                skips = list(row.skips)
                skips[n] = (i, b + 1e-3)
                rows[r] = replace(row, skips=tuple(skips))
                return rows
    row = rows[-1]
    if isinstance(row.terms[0].weight, float):
        rows[-1] = replace(row, terms=(replace(row.terms[0], weight=row.terms[0].weight + 1e-3),
                                       *row.terms[1:]))
    return rows


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_named_layers_are_the_papers_tables(name: str, options: dict) -> None:
    model = create_model(name, **options)
    before = 0
    for s, stage in enumerate(_stage_lists(model)):
        assert isinstance(stage, MethodStage)
        rows, _ = _table(stage)
        paper = _paper_table(name, options, s, len(stage.layers), before)
        assert _normal(rows) == _normal(paper)
        assert _normal(_perturbed(rows)) != _normal(paper) or not any(  # negative control
            isinstance(t.weight, float) for row in rows for t in row.terms)
        trained = getattr(stage, "coefficients", None)
        if trained is not None:  # the stage's vector is the table's, element by element
            assert [v.init for v in learnables(paper)] == pytest.approx(trained.tolist())
        before += len(stage.layers)


def _twin(model: nn.Module, perturb: bool = False) -> nn.Module:
    """A copy of ``model`` whose stages are run from their tables."""
    twin = copy.deepcopy(model)
    stages = _stage_lists(twin)
    for i, stage in enumerate(stages):
        stages[i] = TableStage(stage, perturb and i == len(stages) - 1)
    return twin


def _run(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor], list[Tensor]]:
    model.eval()
    with torch.no_grad():
        evaluated = model(x)
    model.train()
    model.zero_grad()
    trained = model(x)
    (trained * torch.linspace(-1, 1, trained.numel()).view_as(trained)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    stats = [b for name, b in model.named_buffers() if name.endswith("running_mean")]
    return evaluated, trained.detach(), grads, stats


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_named_model_equals_its_table(name: str, options: dict) -> None:
    torch.manual_seed(0)
    model = create_model(name, in_channels=1, **options).double()
    for m in model.modules():  # non-trivial BN, so that no path hides behind a zero
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    twin, wrong = _twin(model), _twin(model, perturb=True)
    batch = 6 if name == "agdnet121" else 2  # its last BN sees 1x1 maps: batch statistics
    x = torch.randn(batch, 1, 32, 32, dtype=torch.float64)
    ours, table, control = _run(model, x), _run(twin, x), _run(wrong, x)
    # float64 rounding only (sums in another order), amplified where BN normalises small maps;
    # hbnet34's projection sees (x_k, x_{k-1}) stacked in the other order in Multistep
    atol = 1e-6 if name == "hbnet34" else 1e-7
    for a, b in zip(ours[:2], table[:2], strict=True):  # eval, then train mode
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-7)
    assert len(ours[2]) == len(table[2]) and len(ours[3]) == len(table[3])
    for a, b in zip(ours[2] + ours[3], table[2] + table[3], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=atol)
    gap = (ours[0] - control[0]).abs().max().item()
    assert gap > 1e-5, gap  # negative control
