"""Weight initialisation of Sec. 7.1 for the trainer: the models' own :func:`init_weights`."""

from __future__ import annotations

from torch import nn

from optnet_nets.models.layers import init_weights


def apply_paper_init(model: nn.Module) -> nn.Module:
    """Re-initialise ``model`` in place as Sec. 7.1 prescribes (He / Xavier) and return it."""
    init_weights(model)
    return model
