"""The model zoo of Sec. 6-7 (Tables 4 and 5): a registry of named constructors.

``create_model(name, num_classes=10, in_channels=3, **options)`` builds a model;
``list_models()`` names them; :data:`REGISTRY` holds, per name, the equation it implements,
its baseline and the options it accepts. CIFAR models expect 32x32 inputs and ImageNet models
224x224, but every model accepts any input of at least 28x28 (global average pooling), e.g.
Fashion-MNIST with ``in_channels=1``.

Every network is the relaxation rule of Sec. 6 on one stage class,
:class:`~optnet_nets.models.stage.MethodStage`; each family registers itself with
:func:`~optnet_nets.models.registry.register_model` on a small constructor: ResNet and HB-Net
(16)/(17) in :mod:`.resnet`, DMRNet and ADMM-Net (20) in :mod:`.admm`, the method-nets in
:mod:`.method_net`, DenseNet (19) and AGD-Net (21) in :mod:`.densenet`.

Every family takes ``activation=`` (a registry name, a formula in x or a SymPy expression;
default :data:`~optnet_nets.models.activation.DEFAULT_ACTIVATION`, the paper's ReLU). DenseNet and
AGD-Net take ``dropout=`` (off by default; the training recipe turns it on where Huang et al.'s
does, see :func:`optnet_nets.train.config.recipe_model_options`). HB-Net and AGD-Net take
``momentum="carry"|"restart"`` (what happens to the momentum at a stage boundary).
"""

from __future__ import annotations

# Importing a family registers it; within a trunk and size the registry lists the families in
# this order (resnet20, hbnet20, dmrnet20, admmnet20, methodnet20, ogmnet20, ...).
from optnet_nets.models import resnet  # noqa: F401

# isort: split
from optnet_nets.models import admm  # noqa: F401

# isort: split
from optnet_nets.models import method_net  # noqa: F401

# isort: split
from optnet_nets.models import densenet  # noqa: F401

# isort: split
from optnet_nets.models.registry import *  # noqa: F403  (create_model, list_models, REGISTRY, ...)
from optnet_nets.models.registry import __all__ as __all__
