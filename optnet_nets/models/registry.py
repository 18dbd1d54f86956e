"""The model registry: one decorated constructor per family, as timm's ``@register_model``.

A family module decorates a small constructor with :func:`register_model`, naming the family's
models (``"hbnet{}"`` at the sizes given), the equation they implement, their baseline and the
options they accept; :func:`create_model` checks the options and calls the constructor. The
registry lists CIFAR before ImageNet, the ResNet trunk's families before the DenseNet trunk's,
and within a trunk by size, then by family (``resnet20, hbnet20, ..., resnet32, ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from torch import nn

from optnet_nets.models.activation import DEFAULT_ACTIVATION
from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int

__all__ = [
    "ACTIVATION",
    "OPTION_BOUND",
    "REGISTRY",
    "ModelEntry",
    "Option",
    "create_model",
    "list_models",
    "register_model",
    "registry",
    "unregister",
]

#: the order of the registry: datasets, then trunks.
_DATASETS = ("cifar", "imagenet")
_TRUNKS = ("resnet", "densenet")

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


#: the option every family takes.
ACTIVATION = Option(
    DEFAULT_ACTIVATION,
    "Phi: a registry name, a formula in x, or a SymPy expression (the paper: relu)",
    kind=object,
)

REGISTRY: dict[str, ModelEntry] = {}
_ORDER: dict[str, tuple[int, int, int, int]] = {}

#: called by :func:`registry` before every read: a family module that follows another
#: registry (the method-nets follow the methods') brings its models up to date.
SYNC: list[Callable[[], None]] = []

F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(
    name: str,
    sizes: Mapping[str, Any] | Sequence[int],
    *,
    equation: str,
    baseline: str = "-",
    dataset: str = "cifar",
    trunk: str = "resnet",
    options: Mapping[str, Option] | None = None,
    example: Mapping[str, Any] | None = None,
) -> Callable[[F], F]:
    """Register the decorated constructor ``build(size, *, num_classes, in_channels,
    **options)`` as the models ``name.format(s)`` for each size s (a depth, or a name suffix
    mapped to the size argument); ``baseline`` is formatted the same way."""
    table = dict(sizes) if isinstance(sizes, Mapping) else {str(d): d for d in sizes}

    def decorate(build: F) -> F:
        for suffix, size in table.items():
            model = name.format(suffix)
            REGISTRY[model] = ModelEntry(
                model, partial(build, size), equation, baseline.format(suffix), dataset,
                dict(options or {}), dict(example or {}),
            )
            _ORDER[model] = (_DATASETS.index(dataset), _TRUNKS.index(trunk), int(
                "".join(c for c in suffix if c.isdigit())), len(_ORDER))
        ordered = sorted(REGISTRY.values(), key=lambda e: _ORDER[e.name])
        REGISTRY.clear()
        REGISTRY.update((e.name, e) for e in ordered)
        return build

    return decorate


def unregister(names: Iterable[str]) -> None:
    """Remove the models ``names`` (a family whose method is no longer registered)."""
    for name in names:
        REGISTRY.pop(name, None)
        _ORDER.pop(name, None)


def registry() -> dict[str, ModelEntry]:
    """:data:`REGISTRY`, first brought up to date by the :data:`SYNC` hooks (the family of a
    method registered since, without the family of a method no longer registered); read the
    models through this (or :func:`list_models`)."""
    for sync in SYNC:
        sync()
    return REGISTRY


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
