"""``optnet derive --plot``: Phi, Psi and Psi' - Phi drawn; matplotlib only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import mpmath
import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_theory import derive_energy
from optnet_theory.energy.plot import residual

PNG = b"\x89PNG\r\n\x1a\n"


def test_derive_plot_writes_a_png_and_records_it(tmp_path: Path, capsys) -> None:
    target = tmp_path / "softplus.png"
    assert main(["derive", "softplus", "--plot", str(target), "--range", "-3", "3",
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["plot"] == str(target)
    assert target.read_bytes()[:8] == PNG


def test_the_residual_is_at_working_precision_and_catches_a_wrong_psi() -> None:
    energy = derive_energy("softplus")
    xs = np.linspace(-4.0, 4.0, 9)
    assert residual(energy, xs).max() < 1e-28
    # negative control: Psi off by 0.01 x, so Psi' - Phi = 0.01 everywhere
    broken = replace(energy, _psi_mp=lambda x: energy.psi_mp(x) + mpmath.mpf("0.01") * x)
    assert residual(broken, xs) == pytest.approx(np.full(9, 0.01), rel=1e-12)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--range", "-1", "1"], "give --plot FILE.png too"),
        (["--plot", "x.png", "--range", "2", "1"], "LO < HI"),
        (["--plot", "x.pdf"], "ending in .png"),
        (["--plot", "no/such/folder/x.png"], "folder does not exist"),
    ],
)
def test_bad_plot_options_are_one_line_errors(argv: list[str], message: str, capsys) -> None:
    assert main(["derive", "tanh", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_derive_without_plot_imports_neither_matplotlib_nor_torch() -> None:
    code = (
        "import sys; from optnet_nets.cli import main; assert main(['derive', 'tanh']) == 0; "
        "bad = {'matplotlib', 'torch'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
