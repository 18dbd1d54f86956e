"""The training recipe of Sec. 7.1 as one dataclass; every field can be overridden.

Sec. 7.1 ("Training Details"), following the DenseNet paper: SGD with 0.9 Nesterov momentum and
1e-4 weight decay; He initialisation [37] for convolutions and Xavier [38] for the fully
connected layer. CIFAR: 300 epochs, batch 64, lr 0.1 divided by 10 at 50% and 75% of training.
ImageNet: 100 epochs, batch 256 (over 4 GPUs), lr dropped at epochs 30, 60 and 90 (the initial
lr is not printed; 0.1 as in the DenseNet paper). The warm-up of the ResNet paper (lr/10 for a
short while, needed for ResNet-110 per Sec. 7.2) is an option. The DenseNet paper's dropout
(0.2 after each convolution but the first, on CIFAR without augmentation) is set per run by
:func:`recipe_model_options`, and every run records its activation and the derived energy
(``activation_energy``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from optnet_theory.errors import OptnetError

#: Recipe presets. ``cifar`` is used for every small dataset (CIFAR, MNIST, Fashion-MNIST,
#: synthetic), ``imagenet`` for image folders.
PRESETS: dict[str, dict[str, Any]] = {
    "cifar": {
        "epochs": 300,
        "batch_size": 64,
        "lr": 0.1,
        "lr_milestones": (0.5, 0.75),
        "milestone_unit": "fraction",
    },
    "imagenet": {
        "epochs": 100,
        "batch_size": 256,
        "lr": 0.1,
        "lr_milestones": (30.0, 60.0, 90.0),
        "milestone_unit": "epoch",
    },
}

#: Huang et al.'s DenseNet recipe, which Sec. 7.1 follows: dropout 0.2 after each convolution
#: except the first, for CIFAR-10/100 without data augmentation (the C10, C100 columns).
DENSENET_DROPOUT = 0.2
DROPOUT_DATASETS = ("cifar10", "cifar100")

#: ``amp`` values: what each means is :mod:`optnet_nets.train.precision`
AMP_CHOICES = ("auto", "bf16", "fp16", "none")
DEVICE_CHOICES = ("auto", "cpu", "cuda")
INIT_CHOICES = ("paper", "model")


def preset_for_dataset(dataset: str) -> str:
    """The Sec. 7.1 preset that applies to ``dataset`` (ImageNet layout -> ``imagenet``)."""
    return "imagenet" if dataset == "imagefolder" else "cifar"


def recipe_model_options(model: str, dataset: str, augment: bool) -> dict[str, Any]:
    """Model options the recipe sets for this run (options given explicitly take precedence).

    ``dropout=DENSENET_DROPOUT`` for a model with a ``dropout`` option (the DenseNet and AGD-Net
    families) on un-augmented CIFAR, as the DenseNet paper does; nothing otherwise.
    """
    if augment or dataset not in DROPOUT_DATASETS:
        return {}
    from optnet_nets.models import registry

    entry = registry().get(model)
    return {"dropout": DENSENET_DROPOUT} if entry and "dropout" in entry.options else {}


def activation_record(model: str, model_options: dict[str, Any]) -> dict[str, Any] | None:
    """The activation of ``model`` under ``model_options`` and its derived energy (8), or None
    for a model without an ``activation`` option."""
    from optnet_nets.models import registry
    from optnet_nets.models.activation import make_activation

    entry = registry().get(model)
    if entry is None or "activation" not in entry.options:
        return None
    spec = model_options.get("activation", entry.options["activation"].default)
    return make_activation(spec).record()


#: written into the run folder when training stops on non-finite values (the run's outcome).
DIVERGED_NAME = "diverged.json"


@dataclass
class TrainConfig:
    """One training run. Defaults are the paper's CIFAR recipe (Sec. 7.1).

    ``batch_size`` is the GLOBAL batch (summed over distributed ranks), as in the paper's
    "batchsize is 256 among 4 GPUs". ``lr_milestones`` are fractions of ``epochs`` when
    ``milestone_unit == "fraction"`` and epoch numbers when it is ``"epoch"``; the lr is
    multiplied by ``lr_decay`` at each one. Milestones are applied per step, so a drop at 50% of
    3 epochs happens in the middle of epoch 2. Beyond the paper, ``amp="auto"`` trains in bf16
    autocast where bf16 is native (:mod:`optnet_nets.train.precision`); ``amp="none"`` is the
    paper's fp32 arithmetic everywhere.
    """

    model: str = "resnet20"
    dataset: str = "cifar10"
    data_dir: str | None = None
    out: str = "runs/train"
    # --- Sec. 7.1 recipe ---
    epochs: int = 300
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    lr_milestones: tuple[float, ...] = (0.5, 0.75)
    milestone_unit: str = "fraction"
    lr_decay: float = 0.1
    init: str = "paper"
    # --- options beyond the paper ---
    warmup_epochs: float = 0.0
    warmup_factor: float = 0.1
    augment: bool = True
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    threads: int | None = None
    amp: str | None = "auto"  # None: fp32, as configs from before "auto" store it
    channels_last: bool | None = None  # None: follow the precision (on for bf16 on the CPU)
    compile: bool = False
    eval_batch_size: int = 500
    checkpoint_every_steps: int = 500
    progress: bool = True
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    # --- recorded, not set: Phi and its energy (see activation_record); what amp and
    # channels_last resolved to (optnet_nets.train.precision), set when the run starts ---
    activation_energy: dict[str, Any] | None = None
    amp_used: str | None = None
    channels_last_used: bool | None = None

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> TrainConfig:
        """The ``preset`` recipe (``cifar`` or ``imagenet``) with ``overrides`` applied."""
        if preset not in PRESETS:
            raise OptnetError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        values = dict(PRESETS[preset])
        values.update(overrides)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise OptnetError(f"unknown TrainConfig field(s) {', '.join(unknown)}")
        config = cls(**values)
        config.validate()
        recipe = recipe_model_options(config.model, config.dataset, config.augment)
        config.model_options = {**recipe, **config.model_options}
        config.activation_energy = activation_record(config.model, config.model_options)
        return config

    def milestone_epochs(self) -> tuple[float, ...]:
        """The lr drops, in (possibly fractional) epochs."""
        if self.milestone_unit == "fraction":
            return tuple(m * self.epochs for m in self.lr_milestones)
        return tuple(float(m) for m in self.lr_milestones)

    def validate(self) -> None:
        """Raise :class:`OptnetError` naming the first bad field and what is accepted."""
        positive_ints = ("epochs", "batch_size", "eval_batch_size")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise OptnetError(f"{name} must be a positive integer, got {value!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise OptnetError(f"threads must be a positive integer or None, got {self.threads!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise OptnetError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise OptnetError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise OptnetError(f"weight_decay must be a finite number >= 0, got "
                              f"{self.weight_decay!r}")
        if not 0 < self.lr_decay <= 1:
            raise OptnetError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if self.milestone_unit not in ("fraction", "epoch"):
            raise OptnetError(
                f"milestone_unit must be 'fraction' or 'epoch', got {self.milestone_unit!r}"
            )
        if not all(m >= 0 and math.isfinite(m) for m in self.lr_milestones):
            raise OptnetError(f"lr_milestones must be finite and >= 0, got {self.lr_milestones!r}")
        if not (self.warmup_epochs >= 0 and math.isfinite(self.warmup_epochs)) or not (
            0 < self.warmup_factor <= 1
        ):
            raise OptnetError(
                "warmup_epochs must be >= 0 and warmup_factor in (0, 1], got "
                f"{self.warmup_epochs!r}, {self.warmup_factor!r}"
            )
        if not isinstance(self.checkpoint_every_steps, int) or self.checkpoint_every_steps < 0:
            raise OptnetError(
                f"checkpoint_every_steps must be >= 0 (0 = only at epoch ends), "
                f"got {self.checkpoint_every_steps!r}"
            )
        if self.amp is not None and self.amp not in AMP_CHOICES:
            raise OptnetError(f"amp must be one of {', '.join(AMP_CHOICES)}, got {self.amp!r}")
        if not (self.channels_last is None or isinstance(self.channels_last, bool)):
            raise OptnetError(
                f"channels_last must be true, false or null (auto), got {self.channels_last!r}"
            )
        if self.device not in DEVICE_CHOICES:
            raise OptnetError(
                f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}"
            )
        if self.init not in INIT_CHOICES:
            raise OptnetError(f"init must be one of {', '.join(INIT_CHOICES)}, got {self.init!r}")
        if self.nesterov and self.momentum == 0:
            raise OptnetError("nesterov momentum needs momentum > 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able types only (tuples become lists), safe for ``weights_only`` loads."""
        out = dataclasses.asdict(self)
        out["lr_milestones"] = list(self.lr_milestones)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise OptnetError(f"unknown TrainConfig field(s) {', '.join(unknown)}")
        values = dict(values)
        if "lr_milestones" in values:
            values["lr_milestones"] = tuple(values["lr_milestones"])
        return cls(**values)
