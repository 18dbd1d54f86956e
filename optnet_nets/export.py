"""A trained run as a self-contained network for use elsewhere: ``torch.export`` (.pt2) or ONNX.

:func:`load_trained` rebuilds the network of an ``optnet train`` run directory from its
checkpoint (``torch.load(weights_only=True)``): the model name and options come from the saved
config, the number of input channels and classes from the weights themselves (first
convolution, last linear layer), and a strict ``load_state_dict`` proves the rebuild matches.
:func:`export_run` then writes

* ``pt2``: a :func:`torch.export.export` program saved with :func:`torch.export.save` (load it
  with :func:`torch.export.load`; TorchScript is deprecated in current torch), or
* ``onnx``: ``torch.onnx.export(..., dynamo=True)``, which needs the ``onnx`` extra
  (``pip install 'optnet[onnx]'``: onnx and onnxscript).

The batch size is dynamic; the image size is that of the run's data (:func:`image_size`: the
dataset's own, or its ``image_size``/``pad_to`` option; at most ``MAX_IMAGE_SIDE`` a side),
since pooling layers make some networks' shapes depend on the parity of the side. Inputs are
normalised exactly as in training (the dataset's per-channel mean and standard deviation); the
network is in eval mode (BatchNorm running statistics).

The file is written to a temporary file beside the target and checked there on a fresh random
batch (the exported outputs must equal the original's within :data:`TOLERANCE`); only a file
that passes is moved into place, atomically, and an existing file is replaced only with
``force`` (:mod:`optnet_theory.atomic`). A failed check leaves nothing behind. Writing into the
run folder itself (the default) takes the run's lock (:mod:`optnet_nets.folders.lock`). The
checkpoint is read with its ``model`` and ``config`` checked
(:func:`optnet_nets.train.checkpoint.load_state`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optnet_nets.folders.lock import folder_lock
from optnet_nets.folders.writable import writable_file
from optnet_nets.train.checkpoint import CHECKPOINT_NAME, load_state
from optnet_theory.atomic import staged
from optnet_theory.errors import OptnetError

__all__ = [
    "FORMATS",
    "MAX_IMAGE_SIDE",
    "TOLERANCE",
    "Exported",
    "check_export",
    "export_run",
    "image_size",
    "load_trained",
]

#: format name -> file suffix.
FORMATS: dict[str, str] = {"pt2": ".pt2", "onnx": ".onnx"}
#: Image side of the datasets whose files fix it (CIFAR 32 x 32, MNIST and Fashion-MNIST 28 x
#: 28); the others take it from their ``image_size`` option (see :func:`image_size`).
_FILE_SIDE = {"cifar10": 32, "cifar100": 32, "mnist": 28, "fashion-mnist": 28}
#: Largest batch declared to the exporter (the batch dimension is dynamic).
_MAX_BATCH = 1 << 16
#: Largest image side accepted (ImageNet's is 224): the export traces and checks the network on
#: batches of that size, whose activations grow with the side squared.
MAX_IMAGE_SIDE = 1024
#: format -> largest accepted max|exported - original| / max|original|. torch.export runs the
#: same kernels (equal up to re-association of a few sums); ONNX Runtime has its own
#: convolution and reduction kernels in float32, so float32 rounding over ~100 layers shows.
TOLERANCE = {"pt2": 1e-6, "onnx": 1e-4}


def _channels_and_classes(weights: dict[str, torch.Tensor]) -> tuple[int, int]:
    convs = [w for k, w in weights.items() if k.endswith("weight") and w.ndim == 4]
    linears = [w for k, w in weights.items() if k.endswith("weight") and w.ndim == 2]
    if not convs or not linears:
        raise OptnetError("the checkpoint's weights have no convolution or no linear layer")
    return int(convs[0].shape[1]), int(linears[-1].shape[0])


def load_trained(run_dir: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """The trained network of ``run_dir`` (eval mode, CPU) and the run's saved config."""
    from optnet_nets.models import create_model

    state = load_state(Path(run_dir) / CHECKPOINT_NAME, need=("model", "config"))
    config, weights = state["config"], state["model"]
    in_channels, num_classes = _channels_and_classes(weights)
    model = create_model(
        config["model"], num_classes=num_classes, in_channels=in_channels,
        **config.get("model_options", {}),
    )  # fmt: skip
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise OptnetError(
            f"{run_dir}: the checkpoint does not fit {config['model']} ({first})"
        ) from None
    return model.eval(), config


def image_size(config: dict[str, Any]) -> tuple[int, int]:
    """(height, width) of the images a run was trained on, from its saved config."""
    from optnet_nets.data import dataset_options

    options = {**dataset_options(config["dataset"]), **config.get("dataset_options", {})}
    side = options.get("pad_to") or options.get("image_size") or _FILE_SIDE.get(config["dataset"])
    if side is None:
        raise OptnetError(f"cannot tell the image size of dataset {config['dataset']!r}; "
                          "give it with --image-size")  # fmt: skip
    return (side, side) if isinstance(side, int) else (int(side[0]), int(side[1]))


def example_input(model: nn.Module, size: tuple[int, int], batch: int = 2) -> torch.Tensor:
    """A random batch shaped for ``model`` (its first convolution's channels, ``size``)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise OptnetError("the network has no 2-D convolution to take images")
    generator = torch.Generator().manual_seed(batch)
    return torch.randn(batch, conv.in_channels, *size, generator=generator)


def _dynamic_shapes() -> tuple[dict[int, Any], ...]:
    return ({0: torch.export.Dim("batch", min=1, max=_MAX_BATCH)},)


def _write_pt2(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    program = torch.export.export(model, (example,), dynamic_shapes=_dynamic_shapes())
    torch.export.save(program, path)


def _write_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs both)
        import onnxscript  # noqa: F401
    except ModuleNotFoundError as exc:
        raise OptnetError(
            f"--format onnx needs {exc.name}: pip install 'optnet[onnx]' (or use --format pt2)"
        ) from None
    with contextlib.redirect_stdout(sys.stderr):  # the exporter's progress: not our stdout
        torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False,
                          dynamic_shapes=_dynamic_shapes(), verbose=False)  # fmt: skip


_WRITERS: dict[str, Callable[[nn.Module, torch.Tensor, Path], None]] = {
    "pt2": _write_pt2,
    "onnx": _write_onnx,
}


def run_exported(path: str | os.PathLike[str], images: torch.Tensor) -> torch.Tensor:
    """Outputs of an exported file on ``images``: the .pt2 program in torch, the .onnx file in
    onnxruntime (which must be installed)."""
    file = Path(path)
    if file.suffix == FORMATS["pt2"]:
        with torch.no_grad():
            return torch.export.load(file).module()(images)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return torch.from_numpy(session.run(None, {name: images.numpy()})[0])


def check_export(model: nn.Module, path: str | os.PathLike[str], size: tuple[int, int]) -> float:
    """Largest |exported - original| on a fresh batch (of 3, unlike the export's example of 2,
    so the dynamic batch is exercised), relative to max |original|."""
    images = example_input(model, size, batch=3)
    with torch.no_grad():
        expected = model(images)
    got = run_exported(path, images)
    if got.shape != expected.shape:
        raise OptnetError(f"{path}: output shape {tuple(got.shape)}, expected "
                          f"{tuple(expected.shape)}")  # fmt: skip
    scale = float(expected.abs().max()) or 1.0
    return float((got - expected).abs().max()) / scale


@dataclass(frozen=True)
class Exported:
    """What :func:`export_run` did: the file (written only if ``passed``), the input size, the
    largest relative difference of the outputs (None when onnxruntime is missing to check an
    ONNX file) and what ran the check."""

    path: Path
    size: tuple[int, int]
    max_rel_difference: float | None
    checked_with: str | None
    passed: bool

    def _old_pair(self) -> tuple[Path, tuple[int, int]]:
        warnings.warn("export_run returns an Exported record now; read .path and .size instead "
                      "of unpacking (path, size)", DeprecationWarning, stacklevel=3)
        return self.path, self.size

    def __iter__(self) -> Iterator[Any]:
        """``path, size = export_run(...)`` as before (deprecated)."""
        return iter(self._old_pair())

    def __getitem__(self, index: int) -> Any:
        """``export_run(...)[0]`` as before (deprecated)."""
        return self._old_pair()[index]


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or not all(isinstance(v, int) and 1 <= v <= MAX_IMAGE_SIDE for v in size):
        raise OptnetError(f"the image size must be two sides in 1..{MAX_IMAGE_SIDE}, got {size}")
    return size


def export_run(
    run_dir: str | os.PathLike[str],
    fmt: str = "pt2",
    out: str | os.PathLike[str] | None = None,
    size: tuple[int, int] | None = None,
    *,
    force: bool = False,
) -> Exported:
    """Write the trained network of ``run_dir`` as ``fmt`` (``pt2`` or ``onnx``) to ``out``
    (default ``RUN_DIR/model.pt2`` or ``.onnx``) for images of ``size`` (default: the run's,
    :func:`image_size`), if its outputs pass the check (module docstring); an existing file
    is replaced only with ``force``."""
    if fmt not in FORMATS:
        raise OptnetError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    target = Path(out) if out is not None else Path(run_dir) / f"model{FORMATS[fmt]}"
    if target.suffix != FORMATS[fmt]:
        raise OptnetError(f"--out for --format {fmt} must end in {FORMATS[fmt]}, got {target}")
    if size is not None:
        _check_size(size)
    writable_file(target, "--out")
    if (target.exists() or target.is_symlink()) and not force:
        raise OptnetError(f"{target} exists; pass --force to replace it (or another --out)")
    inside = target.parent.resolve() == Path(run_dir).resolve()  # a file in the run folder:
    lock = folder_lock(run_dir, "optnet export") if inside else contextlib.nullcontext()
    with lock:  # one writer per run folder (a training still running there refuses it)
        model, config = load_trained(run_dir)
        size = _check_size(size or image_size(config))
        example = example_input(model, size)
        checker = "torch.export.load" if fmt == "pt2" else (
            "onnxruntime" if importlib.util.find_spec("onnxruntime") is not None else None)
        with staged(target, suffix=target.suffix) as stage:
            _WRITERS[fmt](model, example, stage.path)
            error = check_export(model, stage.path, size) if checker else None
            passed = error is None or error <= TOLERANCE[fmt]
            if passed:
                stage.commit(replace=force)
    return Exported(target, size, error, checker, passed)
