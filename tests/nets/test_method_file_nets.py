"""A method file (what `optnet design` writes) becomes a CNN by the same rule as every method:
methodnet20 (9 layers carried across stages) trains one epoch; a file for another horizon is
refused with the reason (issue 21, round trip)."""

from __future__ import annotations

import json

import pytest

from optnet_nets.cli import main
from optnet_theory import get_method
from optnet_theory.errors import OptnetError
from optnet_theory.methods.dense.files import method_file_record
from optnet_theory.methods.dense.history import dense_h
from optnet_theory.paper_values import AGDNET_BETA


def _number(value) -> float:
    return float(value.detach()) if hasattr(value, "detach") else float(value)


def _file(tmp_path, n: int):
    h = dense_h(get_method("ogm", N=n), n)  # stands in for a designed h (same format)
    path = tmp_path / f"designed-{n}.json"
    path.write_text(json.dumps(method_file_record(
        name=f"designed-{n}", h=h, function_class="smooth-convex", metric="function-gap",
        initial="distance", L=1.0, mu=0.0)))
    return path


def test_a_method_file_trains_as_methodnet20(tmp_path) -> None:
    path = _file(tmp_path, 9)
    code = main(["train", "--model", "methodnet20", "--model-option", f"method={path}",
                 "--dataset", "synthetic", "--epochs", "1", "--limit-train", "64",
                 "--limit-test", "32", "--no-progress", "--out", str(tmp_path / "run")])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs"] == 1 and 0.0 <= summary["final_test_error"] <= 1.0


def test_a_method_file_for_another_horizon_is_refused(tmp_path) -> None:
    """Negative control: a file for N = 5 cannot be the 9 layers of methodnet20."""
    from optnet_nets.models import create_model

    with pytest.raises(OptnetError, match="defined for N = 5 steps"):
        create_model("methodnet20", method=str(_file(tmp_path, 5)))


def test_a_method_file_initialises_agdnet_alpha(tmp_path) -> None:
    """agdnet40 (12 layers per dense block) with method=FILE: alpha_{k+1}^j starts at the file's
    h_{k,j} and the beta-term uses the same h; a file for another N, or momentum=carry, is
    refused (negative controls)."""
    from optnet_nets.models import create_model

    path = _file(tmp_path, 12)
    h = dense_h(get_method("ogm", N=12), 12)
    net = create_model("agdnet40", method=str(path))
    block = net.blocks[0]
    for k in range(12):
        alpha = [_number(block.value(a)) for a in block.layers[k].paths[0].point]
        assert alpha == pytest.approx(h[k], rel=1e-6)  # float32 parameters
    b = block.layers[3].slots[-1].skip  # the h-term's weights b_j = beta ([j = 3] - h_{3,j})
    assert b[3] == pytest.approx(AGDNET_BETA * (1 - h[3][3]), rel=1e-12)
    assert b[2] == pytest.approx(-AGDNET_BETA * h[3][2], rel=1e-12)
    default = create_model("agdnet40").blocks[0]
    assert _number(default.value(default.layers[3].paths[0].point[2])) == 1.0  # (21)'s alpha
    with pytest.raises(OptnetError, match="defined for N = 9 steps"):
        create_model("agdnet40", method=str(_file(tmp_path, 9)))
    with pytest.raises(OptnetError, match="momentum=restart"):
        create_model("agdnet40", method=str(path), momentum="carry")
