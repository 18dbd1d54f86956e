"""The ``optnet`` command line: one lazy dispatcher over small command modules.

Each command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Only the module of the command being run is imported, so ``optnet derive`` never pays for a torch
import. Bad input (an :class:`~optnet_theory.errors.OptnetError`) becomes one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from optnet_theory.errors import OptnetError

#: command name -> (module implementing it, one-line help). Theory commands live in
#: ``optnet_theory.commands`` (no torch), torch-backed ones in ``optnet_nets.commands``.
COMMANDS: dict[str, tuple[str, str]] = {
    "activations": ("optnet_theory.commands.activations", "list the activation registry"),
    "derive": ("optnet_theory.commands.derive", "derive the energy (8) of an activation"),
    "table1": ("optnet_theory.commands.table1", "audit the paper's Table 1 against derivations"),
    "methods": ("optnet_theory.commands.methods", "list the first-order methods (as data)"),
    "verify": ("optnet_theory.commands.verify", "check Lemma 1 and the unrollings (11)-(14)"),
    "prove": ("optnet_proofs.cli", "run the executable symbolic proofs and write a report"),
    "rates": ("optnet_theory.commands.rates", "measure layers-to-epsilon against L/mu (Sec. 5.1)"),
    "certify": ("optnet_theory.commands.certify", "exact worst case of a method or net (PEP)"),
    "design": ("optnet_theory.commands.design", "the best N-step method for a class, by PEP"),
    "models": ("optnet_nets.commands.models", "list the model zoo with equations and baselines"),
    "data": ("optnet_nets.commands.data", "download a dataset, checksum-verified (Sec. 7.1)"),
    "train": ("optnet_nets.commands.train", "train a model with the paper's recipe (Sec. 7.1)"),
    "compare": ("optnet_nets.commands.compare", "compare finished runs: table and curves"),
    "export": ("optnet_nets.commands.export", "write a trained run as a .pt2 program or ONNX"),
    "study": ("optnet_nets.commands.study", "models x datasets x seeds, with paired intervals"),
    "simulate": ("optnet_nets.commands.simulate", "reproduce Table 2 (Sec. 5.3)"),
    "hypothesis": ("optnet_nets.commands.hypothesis",
                   "plan, run and summarize the dose-response experiment (Sec. 5)"),
    "report": ("optnet_nets.commands.report", "write one document with every computed result"),
    "demo": ("optnet_nets.commands.demo", "derive, verify and train a small HB-Net vs ResNet"),
}


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="optnet",
        description="Optimization-algorithm-inspired network structures.",
        epilog=f"commands:\n{lines}\n\nRun 'optnet COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optnet`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not args or args[0] in ("-h", "--help"):
        top.print_help()
        return 0
    name = args[0]
    if name not in COMMANDS:
        print(
            f"optnet: error: unknown command {name!r}; choose from {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    module_name, help_ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        hint = ""
        if missing == "torch":
            hint = " (install the torch extra: pip install 'optnet[nets]')"
        print(f"optnet {name}: error: cannot load {missing}{hint}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"optnet {name}", description=help_)
    module.add_arguments(parser)
    parsed = parser.parse_args(args[1:])
    try:
        return int(module.run(parsed) or 0)
    except OptnetError as exc:
        print(f"optnet {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"optnet {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `optnet models | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
