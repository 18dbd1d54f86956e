"""optnet design: designed methods against the known optima, round trips, and controls."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("clarabel")

from optnet_nets.cli import main  # noqa: E402
from optnet_theory.certify import certify  # noqa: E402
from optnet_theory.design import design  # noqa: E402
from optnet_theory.design.envelope import flatten, unflatten, worst_case_and_gradient  # noqa: E402
from optnet_theory.errors import OptnetError  # noqa: E402
from optnet_theory.methods import get_method  # noqa: E402
from optnet_theory.methods.dense.history import dense_h, history_spec  # noqa: E402


def test_envelope_gradient_equals_finite_differences() -> None:
    h = [[v * 0.9 + 0.05 * (i + j) for j, v in enumerate(row)]
         for i, row in enumerate(dense_h(get_method("gd"), 3))]
    ev = worst_case_and_gradient(h, function_class="smooth-convex", metric="function-gap",
                                 initial="distance", mu=0.0)
    x = flatten(h)
    for k in range(len(x)):
        e = np.zeros_like(x)
        e[k] = 1e-5
        a = worst_case_and_gradient(unflatten(x + e, 3), function_class="smooth-convex",
                                    metric="function-gap", initial="distance", mu=0.0).value
        b = worst_case_and_gradient(unflatten(x - e, 3), function_class="smooth-convex",
                                    metric="function-gap", initial="distance", mu=0.0).value
        assert ev.gradient[k] == pytest.approx((a - b) / 2e-5, rel=1e-4, abs=1e-7)


def _check_against(d, bound_tol: float) -> None:
    cert = d.certificate
    ref = d.reference
    assert ref is not None
    assert cert["worst_case"] <= ref["bound"] * (1 + bound_tol)
    if ref["proven_optimal"]:  # never below a proven optimum by more than the accuracy
        assert cert["upper"] >= ref["bound"] * (1 - 1e-6)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_smooth_convex_function_gap_reaches_ogm(n: int) -> None:
    d = design(n, "smooth-convex", "function-gap", starts=3)
    _check_against(d, 1e-4)
    assert d.nearest[0]["method"] == "ogm"


@pytest.mark.parametrize("n", [2, 3])
def test_gradient_norm_and_strongly_convex_designs(n: int) -> None:
    _check_against(design(n, "smooth-convex", "gradient-norm", starts=3), 1e-3)
    d = design(n, "smooth-strongly-convex", "distance", mu=0.1, starts=3)
    assert d.certificate["worst_case"] == pytest.approx(d.reference["bound"], rel=1e-3)


def test_the_search_finds_ogm_without_being_given_it() -> None:
    d = design(2, "smooth-convex", "function-gap", starts=3, known_start=False)
    _check_against(d, 1e-4)


def test_a_perturbed_design_is_certified_worse() -> None:
    """Negative control: h moved off the design by 5 % has a certified LOWER bound above the
    design's certified UPPER bound."""
    d = design(3, "smooth-convex", "function-gap", starts=3)
    worse = [[v * 1.05 for v in row] for row in d.h]
    cert = certify(history_spec("perturbed", worse, source="test").bind(), 3)
    assert cert.lower > d.certificate["upper"]


def test_degenerate_and_bad_requests_are_refused() -> None:
    with pytest.raises(OptnetError, match="degenerate"):
        design(3, "smooth-convex", "distance")
    with pytest.raises(OptnetError, match="mu"):
        design(3, "smooth-strongly-convex", "distance", mu=0.0)
    with pytest.raises(OptnetError, match="--steps"):
        design(0, "smooth-convex", "function-gap")


def test_method_file_round_trip_and_hostile_files(tmp_path, capsys) -> None:
    out = tmp_path / "d2.json"
    assert main(["design", "--steps", "2", "--class", "smooth-convex", "--metric",
                 "function-gap", "--starts", "2", "--out", str(out), "--name", "my-design",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["worst_case"] == pytest.approx(record["certificate"]["worst_case"])
    stored = json.loads(out.read_text())
    assert stored["name"] == "my-design" and stored["N"] == 2 and len(stored["h"]) == 2
    # certifies to the same interval, to the certificate's accuracy
    again = certify(get_method(str(out)), 2)
    assert again.lower <= stored["certificate"]["upper"] and stored["certificate"]["lower"] \
        <= again.upper
    # verify: the method run on an energy equals its tied network, layer by layer
    assert main(["verify", str(out), "--json"]) == 0
    capsys.readouterr()
    # hostile and malformed files: one line each, nothing executed
    for text, needle in [
        ('{"schema": "optnet.method/1", "name": "x", "N": 1, "h": [["__import__(\'os\')"]], '
         '"class": "smooth-convex", "metric": "function-gap", "initial": "distance", '
         '"L": 1, "mu": 0}', "finite numbers"),
        ('{"schema": "optnet.method/1", "name": "../../etc", "N": 1, "h": [[1]], '
         '"class": "smooth-convex", "metric": "function-gap", "initial": "distance", '
         '"L": 1, "mu": 0}', "name"),
        ('{"schema": "optnet.method/1", "name": "x", "N": 2, "h": [[1], [1]], '
         '"class": "smooth-convex", "metric": "function-gap", "initial": "distance", '
         '"L": 1, "mu": 0}', "row 1"),
        ('{"schema": "other"}', "schema"),
        ("[1, 2", "JSON"),
        ('{"schema": "optnet.method/1", "name": "x", "N": 1, "h": [[NaN]], "class": '
         '"smooth-convex", "metric": "function-gap", "initial": "distance", "L": 1, "mu": 0}',
         "JSON"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        assert main(["certify", str(bad), "--steps", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, (text, err)


@pytest.mark.slow
@pytest.mark.parametrize("n", [4, 5, 6])
def test_larger_designs(n: int) -> None:
    _check_against(design(n, "smooth-convex", "function-gap"), 1e-4)
    _check_against(design(min(n, 5), "smooth-convex", "gradient-norm"), 1e-3)
    d = design(min(n, 5), "smooth-strongly-convex", "distance", mu=0.1)
    assert d.certificate["worst_case"] == pytest.approx(d.reference["bound"], rel=1e-3)
