"""``optnet export RUN_DIR --format pt2|onnx [--out FILE] [--force]``: the trained network for use
elsewhere.

Writes a ``torch.export`` program (``.pt2``, load with ``torch.export.load(FILE).module()``) or
an ONNX file (needs ``pip install 'optnet[onnx]'``) to a temporary file, runs it on a fresh
batch and compares its outputs with the original network's: the .pt2 program in torch, the ONNX
file in onnxruntime when that is installed (otherwise the check is reported as skipped). Only a
file that passes is moved into place (atomically); exit status 1 and no file when the outputs
differ by more than the tolerance of the format. An existing file is never overwritten without
``--force``. See :mod:`optnet_nets.export`.
"""

from __future__ import annotations

import argparse
import json

from optnet_nets.export import FORMATS, MAX_IMAGE_SIDE, TOLERANCE
from optnet_theory.commands import add_json_option

__all__ = ["TOLERANCE", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR", help="an 'optnet train --out' folder")
    parser.add_argument("--format", choices=tuple(FORMATS), default="pt2",
                        help="pt2: torch.export program (default); onnx: ONNX file")
    parser.add_argument("--out", metavar="FILE",
                        help="file to write (default RUN_DIR/model.pt2 or RUN_DIR/model.onnx)")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                        help="input height and width, each at most "
                             f"{MAX_IMAGE_SIDE} (default: those of the run's dataset)")
    add_json_option(parser, "print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from optnet_nets.export import example_input, export_run, load_trained

    given = (args.image_size[0], args.image_size[1]) if args.image_size else None
    done = export_run(args.run, args.format, args.out, given, force=args.force)
    model = load_trained(args.run)[0]
    result = {
        "run": args.run,
        "format": args.format,
        "file": str(done.path),
        "written": done.passed,
        "input_shape": ["batch", *example_input(model, done.size, batch=1).shape[1:]],
        "max_rel_difference": done.max_rel_difference,
        "tolerance": TOLERANCE[args.format],
        "checked_with": done.checked_with,
        "passed": done.passed,
    }
    if args.json:
        print(json.dumps(result))
    else:
        shape = " x ".join(str(d) for d in result["input_shape"])
        error = done.max_rel_difference
        verdict = (f"wrote {done.path}" if done.passed else
                   f"wrote nothing: the export to {done.path} failed its check")  # fmt: skip
        print(f"{verdict} ({args.format}, input {shape})")
        if error is None:
            print("outputs not checked: onnxruntime is not installed (pip install onnxruntime)")
        else:
            print(f"outputs vs the original: max relative difference {error:.2e} "
                  f"(tolerance {TOLERANCE[args.format]:.0e}): {'PASS' if done.passed else 'FAIL'}")
    return 0 if done.passed else 1
