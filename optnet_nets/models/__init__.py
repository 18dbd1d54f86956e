"""The model zoo of Sec. 6-7 (Tables 4 and 5): a registry of named constructors.

``create_model(name, num_classes=10, in_channels=3, **options)`` builds a model;
``list_models()`` names them; :data:`REGISTRY` holds, per name, the equation it implements,
its baseline and the options it accepts. CIFAR models expect 32x32 inputs and ImageNet models
224x224, but every model accepts any input of at least 28x28 (global average pooling), e.g.
Fashion-MNIST with ``in_channels=1``.

Every family takes ``activation=`` (a registry name, a formula in x or a SymPy expression;
default :data:`~optnet_nets.activation.DEFAULT_ACTIVATION`, the paper's ReLU). DenseNet and
AGD-Net take ``dropout=`` (off by default; the training recipe turns it on where Huang et al.'s
does, see :func:`optnet_nets.train.config.recipe_model_options`). HB-Net and AGD-Net take
``momentum="carry"|"restart"`` (what happens to the momentum at a stage boundary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from torch import nn

from optnet_nets.activation import DEFAULT_ACTIVATION
from optnet_nets.blocks import MOMENTUM_CHOICES
from optnet_nets.models.admm import cifar_admmnet
from optnet_nets.models.densenet import cifar_densenet, imagenet_densenet
from optnet_nets.models.method_net import (
    cifar_method_net,
    generic_method_options,
    method_net_equation,
    method_net_options,
    method_nets,
)
from optnet_nets.models.resnet import STRUCTURES, cifar_resnet, imagenet_resnet
from optnet_theory.errors import OptnetError
from optnet_theory.methods.paper import GD
from optnet_theory.paper_values import AGDNET_BETA
from optnet_theory.validation import check_int

__all__ = ["REGISTRY", "ModelEntry", "Option", "create_model", "list_models", "registry"]


#: The range of a real-valued option: coefficients of (16)-(21), rates and mu are of order 1;
#: beyond this a network overflows float32 within a few layers (beta1=1e308 did at once).
OPTION_BOUND = 100.0


@dataclass(frozen=True)
class Option:
    """One keyword option of a model family: its default, accepted type/choices and meaning.

    A real-valued option must be finite and within [-bound, bound] (default OPTION_BOUND)."""

    default: Any
    help: str
    choices: tuple[str, ...] = ()
    kind: type | None = None  # the accepted type when the default is None; object: any
    renamed: Mapping[object, str] = field(default_factory=dict)  # old spelling -> choice
    bound: float = OPTION_BOUND

    def check(self, name: str, value: Any) -> Any:
        kind = self.kind or type(self.default)
        if value is None and self.default is None:
            return None
        if self.choices:
            if value in self.renamed:
                raise OptnetError(
                    f"option {name}={value!r} is now spelled {name}={self.renamed[value]!r}; "
                    f"accepted: {', '.join(self.choices)}"
                )
            if value not in self.choices:
                raise OptnetError(f"option {name}={value!r}; accepted: {', '.join(self.choices)}")
            return value
        if kind is bool:
            if not isinstance(value, bool):
                raise OptnetError(f"option {name}={value!r}; accepted: True or False")
            return value
        if kind is float:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not abs(value) <= self.bound):  # also NaN and infinities
                raise OptnetError(f"option {name}={value!r}; accepted: a real number in "
                                  f"[-{self.bound:g}, {self.bound:g}]")  # fmt: skip
            return float(value)
        return value  # kind object: the builder validates (activation specs)


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: how to build it, what it implements, what it is compared with."""

    name: str
    build: Callable[..., nn.Module]
    equation: str
    baseline: str
    dataset: str  # "cifar" or "imagenet": the input size and head it is defined for
    options: dict[str, Option] = field(default_factory=dict)
    example: Mapping[str, Any] = field(default_factory=dict)  # options for counting parameters


_MEMORY = Option(False, "checkpoint each dense layer's BN-Phi-conv (recomputed in backward)")
_ACTIVATION = Option(
    DEFAULT_ACTIVATION,
    "Phi: a registry name, a formula in x, or a SymPy expression (the paper: relu)",
    kind=object,
)
_DROPOUT = Option(0.0, "dropout rate after each convolution but the first (Huang et al.)")
_HB_OPTIONS = {
    "structure": Option(
        "heavy-ball", "heavy-ball (16), or nesterov: (17) over T(y) + y", tuple(STRUCTURES),
        renamed={number: name for name, number in STRUCTURES.items()},
    ),
    "beta1": Option(None, "coefficient of x_k: default 1 in (16), 1 + beta_k in (17)", kind=float),
    "beta2": Option(None, "coefficient of x_{k-1}: -1 in (16), -beta_k in (17)", kind=float),
    "learnable": Option(False, "learn beta1, beta2 per layer from their start (LM-ResNet)"),
    "activate_sum": Option(False, "apply Phi after the sum too, as ResNet's ReLU(T(x) + x)"),
    "reversible": Option(False, "rebuild states in backward instead of storing them"),
    "momentum": Option(
        "carry", "x_{k-1} at a new stage: carried (mapped) or restarted (= x_k)", MOMENTUM_CHOICES
    ),
    "activation": _ACTIVATION,
}
_DENSE_OPTIONS = {"activation": _ACTIVATION, "memory_efficient": _MEMORY, "dropout": _DROPOUT}
_AGD_OPTIONS = {
    **_DENSE_OPTIONS,
    "alpha": Option(1.0, "initial alpha_{k+1}^j of (21)"),
    "learnable_alpha": Option(True, "learn the alpha_{k+1}^j of (21)"),
    "beta": Option(AGDNET_BETA, "beta of (21), the weight of the h-term"),
    "momentum": Option(
        "restart", "h of (5) per dense block (restart) or continued across blocks (carry)",
        MOMENTUM_CHOICES,
    ),
    "method": Option(None, "initialise alpha and take the h of (21) from this method's dense "
                     "form (18), e.g. a method file from optnet design (N = a block's layers)",
                     kind=str),
}
_PLAIN_OPTIONS = {"activation": _ACTIVATION}

REGISTRY: dict[str, ModelEntry] = {}


def _register(entry: ModelEntry) -> None:
    REGISTRY[entry.name] = entry


#: the CIFAR depths of the ResNet-shaped families (and of each method's family).
CIFAR_DEPTHS: tuple[int, ...] = (20, 32, 44, 56, 110)


#: model name -> method, for the families :func:`_register_method_families` added.
_METHOD_FAMILIES: dict[str, str] = {}


def _register_method_families(depth: int) -> None:
    """The family of every registered method with a network prefix, at ``depth``, built by Sec.
    6's rule (those not registered yet: a method registered later gets its family)."""
    for family, method in method_nets().items():
        if f"{family}{depth}" not in REGISTRY:
            _METHOD_FAMILIES[f"{family}{depth}"] = method
            _register(
                ModelEntry(
                    f"{family}{depth}", partial(cifar_method_net, depth, method=method),
                    method_net_equation(method), f"resnet{depth}", "cifar",
                    {**method_net_options(method), "activation": _ACTIVATION},
                )
            )


def registry() -> dict[str, ModelEntry]:
    """:data:`REGISTRY`, first given the family of any method registered since (its
    ``network_prefix``) and without the family of a method no longer registered; read the
    models through this (or :func:`list_models`)."""
    from optnet_theory.methods import list_methods

    current = set(list_methods())
    for name, method in list(_METHOD_FAMILIES.items()):
        if method not in current:
            del REGISTRY[name], _METHOD_FAMILIES[name]
    for depth in CIFAR_DEPTHS:
        _register_method_families(depth)
    return REGISTRY


_RESNET: dict[str, Any] = {"beta1": 1.0, "beta2": 0.0, "activate_sum": True}
_RESNET_EQ = "(16) with beta1=1, beta2=0: x_{k+1} = ReLU(T(x_k) + x_k)"
_HBNET_EQ = "Sec. 6.1, (16) with beta1=1, beta2=-1: x_{k+1} = T(x_k) + x_k - x_{k-1}"
_DENSE_EQ = "(19) = (18) with alpha=1, beta=0: z_{k+1} = T([z_0, ..., z_k])"
_AGD_EQ = "(21): z_{k+1} = sum_j alpha_j T(z_j) + beta (z_k - sum_j h_{k+1,j} z_j), h from (5)"

for _d in CIFAR_DEPTHS:
    _register(
        ModelEntry(
            f"resnet{_d}", partial(cifar_resnet, _d, **_RESNET), _RESNET_EQ, "-", "cifar",
            _PLAIN_OPTIONS,
        )
    )
    _register(
        ModelEntry(
            f"hbnet{_d}", partial(cifar_resnet, _d), _HBNET_EQ, f"resnet{_d}", "cifar",
            _HB_OPTIONS,
        )
    )
    _register(
        ModelEntry(
            f"dmrnet{_d}", partial(cifar_admmnet, _d, learnable=False),
            "(20) with alpha=beta=1/2 on the newest pair (merge-and-run [36])", f"resnet{_d}",
            "cifar", _PLAIN_OPTIONS,
        )
    )
    _register(
        ModelEntry(
            f"admmnet{_d}", partial(cifar_admmnet, _d),
            "(20) with learnable alpha_{k+1,t}, beta_{k+1,t} (initialised at DMRNet's)",
            f"dmrnet{_d}", "cifar", _PLAIN_OPTIONS,
        )
    )
    _register(
        ModelEntry(
            f"methodnet{_d}", partial(cifar_method_net, _d), method_net_equation("METHOD"),
            f"resnet{_d}", "cifar", {**generic_method_options(), "activation": _ACTIVATION},
            example={"method": GD.name},  # fixed coefficients: every method has ResNet's count
        )
    )
    _register_method_families(_d)
for _d in (40, 52, 100):
    _register(
        ModelEntry(
            f"densenet{_d}", partial(cifar_densenet, _d), _DENSE_EQ, "-", "cifar",
            _DENSE_OPTIONS,
        )
    )
    _register(
        ModelEntry(
            f"agdnet{_d}", partial(cifar_densenet, _d), _AGD_EQ, f"densenet{_d}", "cifar",
            _AGD_OPTIONS,
        )
    )
_register(
    ModelEntry(
        "densenet_bc100", partial(cifar_densenet, 100, bc=True),
        _DENSE_EQ + ", DenseNet-BC (bottleneck, compression 0.5)", "-", "cifar",
        _DENSE_OPTIONS,
    )
)
_register(
    ModelEntry(
        "resnet34", partial(imagenet_resnet, [3, 4, 6, 3], **_RESNET), _RESNET_EQ, "-", "imagenet",
        _PLAIN_OPTIONS,
    )
)
_register(
    ModelEntry(
        "hbnet34", partial(imagenet_resnet, [3, 4, 6, 3]), _HBNET_EQ, "resnet34", "imagenet",
        _HB_OPTIONS,
    )
)
_register(
    ModelEntry(
        "densenet121", partial(imagenet_densenet, [6, 12, 24, 16]), _DENSE_EQ + ", DenseNet-BC",
        "-", "imagenet", _DENSE_OPTIONS,
    )
)
_register(
    ModelEntry(
        "agdnet121", partial(imagenet_densenet, [6, 12, 24, 16]), _AGD_EQ + ", DenseNet-BC",
        "densenet121", "imagenet", _AGD_OPTIONS,
    )
)


def list_models() -> list[str]:
    """The registered model names, in registry order."""
    return list(registry())


def create_model(
    name: str, num_classes: int = 10, in_channels: int = 3, **options: Any
) -> nn.Module:
    """Build the registered model ``name`` with a ``num_classes``-way head.

    ``options`` are the family's (see ``REGISTRY[name].options``); unknown names and values
    of the wrong kind raise :class:`~optnet_theory.errors.OptnetError`.
    """
    entry = registry().get(name)
    if entry is None:
        raise OptnetError(f"unknown model {name!r}; choose from {', '.join(REGISTRY)}")
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        accepted = ", ".join(entry.options) or "none"
        raise OptnetError(f"{name} has no option {', '.join(unknown)}; accepted: {accepted}")
    values = {k: opt.default for k, opt in entry.options.items()}
    values.update({k: entry.options[k].check(k, v) for k, v in options.items()})
    return entry.build(
        num_classes=check_int(num_classes, "num_classes", 1),
        in_channels=check_int(in_channels, "in_channels", 1),
        **values,
    )
