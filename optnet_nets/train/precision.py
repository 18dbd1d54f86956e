"""Mixed precision and memory layout of a run: what ``--amp`` and ``--channels-last`` resolve to.

``--amp auto`` (the default) autocasts to bfloat16 where bf16 arithmetic is native: a CPU with
AMX-BF16 or AVX512-BF16, or a CUDA GPU of compute capability 8.0 or more (Ampere on). Everywhere
else, including CPUs that would only emulate bf16 (slower than fp32 there), it trains in fp32,
as before. A model with a reversible HB-Net stage (``reversible=True``, Sec. 6.1) always trains
in fp32 under ``auto``: its backward rebuilds the states by subtraction, and in bf16 its gradient
lands 3.8e-2 (relative) off the stored-activation gradient (benchmarks/RESULTS.md, "Models and
the reversible HB-Net"). ``bf16``, ``fp16`` (with a GradScaler) and ``none`` (fp32) are applied
as given.

``--channels-last`` stores images, activations and convolution weights NHWC, on the CPU as on
CUDA. Left unset, it follows the precision: on for bf16 on the CPU, where oneDNN's bf16
convolutions are faster in NHWC (benchmarks/bench_amp.py; RESULTS.md, "bf16 training on the
CPU"), off otherwise (unmeasured on GPUs, so left as it was).

Configs written before ``auto`` existed store ``amp=None`` for fp32; it still means fp32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optnet_nets.train.config import AMP_CHOICES
from optnet_theory.errors import OptnetError

#: CPU feature flags with native bf16 arithmetic; the same names in ``/proc/cpuinfo`` and in
#: ``torch.cpu.get_capabilities()``.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The feature flags of the first CPU in ``cpuinfo`` (default: ``/proc/cpuinfo``; empty
    where there is none, e.g. macOS)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def _torch_cpu_capabilities() -> dict[str, Any]:
    """``torch.cpu.get_capabilities()``, or ``{}`` where this torch lacks it (older releases)."""
    query = getattr(torch.cpu, "get_capabilities", None)
    if query is None:
        return {}
    try:
        return dict(query())
    except RuntimeError:
        return {}


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bf16 natively (AMX-BF16 or AVX512-BF16).

    Asks torch (``torch.cpu.get_capabilities``, from its cpuinfo library) and falls back to the
    kernel's ``/proc/cpuinfo`` flags where this torch cannot tell.
    """
    capabilities = _torch_cpu_capabilities()
    if any(flag in capabilities for flag in NATIVE_BF16_FLAGS):
        return any(bool(capabilities.get(flag)) for flag in NATIVE_BF16_FLAGS)
    return bool(cpu_flags() & set(NATIVE_BF16_FLAGS))


def native_bf16_cuda(device: torch.device) -> bool:
    """Whether the CUDA ``device`` has bf16 tensor cores (compute capability >= 8.0)."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def has_reversible_stage(model: nn.Module) -> bool:
    """Whether a submodule rebuilds its states in backward (flagged ``reversible = True``, as
    :class:`optnet_nets.models.stage.MethodStage` is with ``reversible=True``)."""
    return any(getattr(module, "reversible", False) is True for module in model.modules())


@dataclass(frozen=True)
class Precision:
    """What a run uses: ``amp`` is ``bf16``, ``fp16`` or ``none``; ``reason`` says why."""

    amp: str
    channels_last: bool
    reason: str

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, None for fp32."""
        return _DTYPES[self.amp]

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        """The autocast region of a forward pass (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)

    def format_model(self, model: nn.Module) -> nn.Module:
        """``model`` with its 4-d parameters in channels_last where that is on."""
        if self.channels_last:
            return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model

    def format_images(self, images: torch.Tensor) -> torch.Tensor:
        """A batch in channels_last where that is on (a no-op otherwise)."""
        if self.channels_last and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    @property
    def label(self) -> str:
        """Short, e.g. ``bf16 channels_last`` or ``fp32``."""
        what = "fp32" if self.dtype is None else self.amp
        return f"{what} channels_last" if self.channels_last else what

    def describe(self) -> str:
        """The label and why, e.g. ``bf16 channels_last (auto: native bf16 on this CPU)``."""
        return f"{self.label} ({self.reason})"


def _resolve_amp(amp: str | None, device: torch.device, model: nn.Module) -> tuple[str, str]:
    if amp is None or amp == "none":
        return "none", "fp32 as asked" if amp else "fp32: a config from before --amp auto"
    if amp != "auto":
        return amp, f"--amp {amp} as asked"
    if has_reversible_stage(model):
        return "none", "auto: fp32 for a reversible HB-Net, whose reconstruction bf16 breaks"
    if device.type == "cpu" and native_bf16_cpu():
        return "bf16", "auto: native bf16 on this CPU"
    if device.type == "cuda" and native_bf16_cuda(device):
        return "bf16", "auto: native bf16 on this GPU"
    return "none", f"auto: fp32, no native bf16 on this {device.type}"


def resolve_precision(
    amp: str | None, channels_last: bool | None, device: torch.device, model: nn.Module
) -> Precision:
    """The precision and memory layout a run of ``model`` on ``device`` uses.

    ``amp`` is a :data:`AMP_CHOICES` value (or None, the fp32 of configs from before ``auto``);
    ``channels_last`` None follows the precision (on for bf16 on the CPU), a bool is applied.
    """
    if amp is not None and amp not in AMP_CHOICES:
        raise OptnetError(f"amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
    used, reason = _resolve_amp(amp, device, model)
    if channels_last is None:
        channels_last = used == "bf16" and device.type == "cpu"
    return Precision(used, bool(channels_last), reason)
