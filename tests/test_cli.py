"""The dispatcher: help, unknown commands, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from optnet_nets.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_one_line_naming_the_choices(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "frobnicate" in err and "derive" in err


def test_every_registered_command_module_exists():
    import importlib.util

    for name, (module, _) in COMMANDS.items():
        assert importlib.util.find_spec(module) is not None, f"{name}: {module} missing"


def test_cli_does_not_import_torch_for_theory_commands():
    code = (
        "import sys; from optnet_nets import cli; cli.main(['activations']); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
