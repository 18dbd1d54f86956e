"""Each named model, whose stages write their equations out, equals its coefficient table.

Every stage of ResNet/HB-Net (16)/(17), DMRNet/ADMM-Net (20) and DenseNet/AGD-Net (18)/(21)
keeps the table of :mod:`optnet_nets.tables` it implements (``stage.table``). Here a copy of
the model has each stage replaced by :class:`~optnet_nets.blocks.Multistep` running that table
over the same modules and coefficients; both must give the same outputs in eval and in train
mode (float64, same seed), the same gradients and the same BatchNorm statistics after. Negative
control: the copy with one table coefficient moved by 1e-3 is caught.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
from torch import Tensor, nn

from optnet_nets.blocks import CoefficientModule, Multistep, Step
from optnet_nets.models import create_model
from optnet_nets.models.densenet import DenseBlock

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
    ("agdnet121", {}),
]


class TableStage(nn.Module):
    """A named stage run by :class:`Multistep` from its table (``table`` overrides it)."""

    def __init__(self, stage: CoefficientModule, table: list[Step] | None = None) -> None:
        super().__init__()
        self.engine = Multistep(
            stage.blocks,  # type: ignore[arg-type]
            stage.table if table is None else table,
            stage.n_initial,
            shortcut=getattr(stage, "shortcut", None),
            activation=getattr(stage, "activation", None),
        )
        if stage.coefficients is not None:
            self.engine.coefficients = stage.coefficients
        self.dense = isinstance(stage, DenseBlock)

    def forward(self, *states: Tensor) -> Tensor | tuple[Tensor, ...]:
        if self.dense:
            return torch.cat(self.engine.run(states), 1)
        return tuple(self.engine.run(states, last=2))


def _stage_lists(model: nn.Module) -> nn.ModuleList:
    return model.blocks if hasattr(model, "transitions") else model.stages  # type: ignore[return-value]


def _perturbed(table: tuple[Step, ...]) -> list[Step]:
    """The table with its first fixed nonzero skip coefficient (else term weight) moved by
    1e-3."""
    rows = list(table)
    for r, row in enumerate(rows):
        for n, (i, b) in enumerate(row.skips):
            if isinstance(b, float) and b != 0.0:
                skips = list(row.skips)
                skips[n] = (i, b + 1e-3)
                rows[r] = replace(row, skips=tuple(skips))
                return rows
    row = rows[-1]
    rows[-1] = replace(row, terms=(replace(row.terms[0], weight=1.0 + 1e-3), *row.terms[1:]))
    return rows


def _twin(model: nn.Module, perturb: bool = False) -> nn.Module:
    """A copy of ``model`` whose stages are run from their tables."""
    twin = copy.deepcopy(model)
    stages = _stage_lists(twin)
    for i, stage in enumerate(stages):
        assert isinstance(stage, CoefficientModule)
        if perturb and i == len(stages) - 1:
            engine = TableStage(stage)
            if engine.engine.coefficients is not None:  # learnable: move one trained value
                with torch.no_grad():
                    engine.engine.coefficients[-1] += 1e-3
                stages[i] = engine
            else:
                stages[i] = TableStage(stage, _perturbed(stage.table))
        else:
            stages[i] = TableStage(stage)
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


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
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
    # float64 rounding only (sums in another order), amplified where BN normalises small maps
    for a, b in zip(ours[:2], table[:2], strict=True):  # eval, then train mode
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-7)
    assert len(ours[2]) == len(table[2]) and len(ours[3]) == len(table[3])
    for a, b in zip(ours[2] + ours[3], table[2] + table[3], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    gap = (ours[0] - control[0]).abs().max().item()
    assert gap > 1e-5, gap  # negative control
