"""Weight initialisation of Sec. 7.1: He [37] for convolutions, Xavier [38] for the classifier."""

from __future__ import annotations

from torch import nn


def apply_paper_init(model: nn.Module) -> nn.Module:
    """Re-initialise ``model`` in place as Sec. 7.1 prescribes and return it.

    Convolutions: He normal with ``fan_out`` (std = sqrt(2 / (k*k*C_out)), as in the ResNet and
    DenseNet code the paper follows). Fully connected layers: Xavier (Glorot) uniform. Biases
    zero; batch-norm scale 1, shift 0. Other parameters (for example a learnable momentum
    coefficient) keep the model's own initialisation.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model
