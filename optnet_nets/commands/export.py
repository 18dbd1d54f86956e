"""``optnet export RUN_DIR --format pt2|onnx [--out FILE]``: the trained network for use elsewhere.

Writes a ``torch.export`` program (``.pt2``, load with ``torch.export.load(FILE).module()``) or
an ONNX file (needs ``pip install 'optnet[onnx]'``), then runs the written file on a fresh batch
and compares its outputs with the original network's: the .pt2 program in torch, the ONNX file
in onnxruntime when that is installed (otherwise the check is reported as skipped). Exit status
1 when the outputs differ by more than the tolerance of the format. See
:mod:`optnet_nets.export`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json

from optnet_nets.export import FORMATS

#: format -> largest accepted max|exported - original| / max|original|. torch.export runs the
#: same kernels (equal up to re-association of a few sums); ONNX Runtime has its own
#: convolution and reduction kernels in float32, so float32 rounding over ~100 layers shows.
TOLERANCE = {"pt2": 1e-6, "onnx": 1e-4}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR", help="an 'optnet train --out' folder")
    parser.add_argument("--format", choices=tuple(FORMATS), default="pt2",
                        help="pt2: torch.export program (default); onnx: ONNX file")
    parser.add_argument("--out", metavar="FILE",
                        help="file to write (default RUN_DIR/model.pt2 or RUN_DIR/model.onnx)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                        help="input height and width (default: those of the run's dataset)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from optnet_nets.export import check_export, example_input, export_run, load_trained

    given = (args.image_size[0], args.image_size[1]) if args.image_size else None
    path, size = export_run(args.run, args.format, args.out, given)
    model = load_trained(args.run)[0]
    checked = args.format == "pt2" or importlib.util.find_spec("onnxruntime") is not None
    error = check_export(model, path, size) if checked else None
    passed = error is None or error <= TOLERANCE[args.format]
    result = {
        "run": args.run,
        "format": args.format,
        "file": str(path),
        "input_shape": ["batch", *example_input(model, size, batch=1).shape[1:]],
        "max_rel_difference": error,
        "tolerance": TOLERANCE[args.format],
        "checked_with": None if not checked else
        ("torch.export.load" if args.format == "pt2" else "onnxruntime"),
        "passed": passed,
    }
    if args.json:
        print(json.dumps(result))
    else:
        shape = " x ".join(str(d) for d in result["input_shape"])
        print(f"wrote {path} ({args.format}, input {shape})")
        if error is None:
            print("outputs not checked: onnxruntime is not installed (pip install onnxruntime)")
        else:
            print(f"outputs vs the original: max relative difference {error:.2e} "
                  f"(tolerance {TOLERANCE[args.format]:.0e}): {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1
