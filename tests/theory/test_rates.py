"""Sec. 5.1 measured: layers to eps against kappa for the tied-weight networks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_theory.coefficients import nesterov_h, strongly_convex_h
from optnet_theory.errors import OptnetError
from optnet_theory.rates import VARIANTS, build_instance, format_rates, measure_rates, run_network


@pytest.fixture(scope="module")
def quick():
    return measure_rates(
        [10, 100, 1000],
        eps=1e-6,
        dim=16,
        variants=["gd", "agd-fn4", "agd2-fn4", "hb-tuned", "hb-0.3"],
    )


def test_slopes_match_theory_for_gd_and_tuned_momentum(quick):
    """Done-when of issue 7: GD slope 1 and AGD (footnote 4) slope 1/2, each within 0.1."""
    for v in ("gd", "agd-fn4", "agd2-fn4", "hb-tuned"):
        assert quick.slopes[v] == pytest.approx(VARIANTS[v][2], abs=0.1), v
    # the fit can tell the two classes apart: Sec. 5.3's fixed beta = 0.3 is GD-like
    assert quick.slopes["hb-0.3"] > 0.9
    assert all(n is not None for counts in quick.layers.values() for n in counts)


def test_instances_have_the_chosen_kappa(quick):
    for row in quick.instances:
        assert row["L"] == pytest.approx(1.0, abs=1e-12)
        assert row["kappa_from_curvature"] == pytest.approx(row["kappa"], rel=1e-9)
        assert row["solve_residual"] < 1e-12


def test_layer_count_is_the_first_hit():
    inst = build_instance(30.0, 8, seed=3)
    errors, hit = run_network("gd", inst, 2000, eps=1e-5)
    assert hit is not None and errors[hit] <= 1e-5 < errors[hit - 1]
    assert len(errors) == hit + 1


def _literal_13(inst, h, K):
    """x_{k+1} = x_k + sum_{j<=k} h_{k+1,j} (Phi(W x_j) - x_j), eq. (13) as printed."""
    xs = [inst.x0]
    for k in range(K):
        d = [inst.phi(inst.W @ xj) - xj for xj in xs]
        xs.append(xs[-1] + sum(h[k + 1][j] * d[j] for j in range(k + 1)))
    return np.array([np.linalg.norm(x - inst.x_star) for x in xs])


@pytest.mark.parametrize("variant", ["agd2-theta", "agd2-fn4"])
def test_agd2_recursion_is_the_literal_sum_of_13(variant):
    inst = build_instance(50.0, 6, seed=1)
    K = 25
    errors, _ = run_network(variant, inst, K)
    theta, const = nesterov_h(K), strongly_convex_h(K, inst.L, inst.mu)
    right, wrong = (theta, const) if variant == "agd2-theta" else (const, theta)
    np.testing.assert_allclose(errors, _literal_13(inst, right, K), rtol=1e-10, atol=1e-13)
    assert np.max(np.abs(errors - _literal_13(inst, wrong, K))) > 1e-4  # negative control


def test_bad_input_is_refused():
    with pytest.raises(OptnetError, match="kappa"):
        build_instance(0.5, 4)
    with pytest.raises(OptnetError, match="eps"):
        measure_rates([10.0], eps=2.0)
    with pytest.raises(OptnetError, match="variant"):
        measure_rates([10.0], variants=["nag"])


def test_no_slope_over_kappas_too_close_to_resolve_one():
    """Fuzzing found ``--kappas 10 10`` printing a slope near 0.8 for every method (a fit over
    one distinct point, with NumPy's RankWarning); now there is no slope unless the kappas span a
    factor of 2. Control: kappas 10 and 100 give GD's slope near 1."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kappas in ([10.0, 10.0], [10.0, 10.5], [10.0, 19.9]):
            result = measure_rates(kappas, eps=1e-3, dim=8, variants=["gd"])
            assert result.slopes == {"gd": None}, kappas
            assert "| – |" in format_rates(result)
        control = measure_rates([10.0, 100.0], eps=1e-3, dim=8, variants=["gd"]).slopes["gd"]
    assert control is not None and 0.8 < control < 1.2


def test_cli_json_and_files(tmp_path, capsys):
    rc = main(
        [
            "rates",
            "--kappas",
            "10",
            "40",
            "--dim",
            "6",
            "--eps",
            "1e-4",
            "--variants",
            "gd",
            "admm",
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["layers"]) == {"gd", "admm"}
    assert data["theory"]["gd"] == 1.0
    assert (tmp_path / "rates.png").stat().st_size > 1000
    assert (tmp_path / "rates.csv").read_text().count("\n") == 1 + 2 * 2
    assert main(["rates", "--kappas", "0.5", "--out", str(tmp_path)]) == 2


def test_rates_never_imports_torch():
    code = (
        "import sys, optnet_theory.rates, optnet_theory.commands.rates; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_rates_and_the_certified_table_share_one_tuned_heavy_ball_beta(monkeypatch):
    """Issue 23: the tuned heavy-ball momentum is one formula, beta = (1 - sqrt(h mu))^2 for step
    h (:func:`optnet_theory.coefficients.tuned_hb_beta`). ``optnet rates`` runs it at the unit
    step (L = 1: (1 - sqrt(mu))^2) and the certified table at step 1/L ((1 - sqrt(mu/L))^2); both
    call sites get the same beta for the same (h, mu)."""
    import optnet_theory.certify.cache as certify_cache
    import optnet_theory.certify.rate as certify_rate
    from optnet_theory import rates
    from optnet_theory.certify.table import certified_rates
    from optnet_theory.coefficients import strongly_convex_beta, tuned_hb_beta

    made = []
    real = rates.variant_method

    def recording(variant, L, mu, N=None):
        made.append(real(variant, L, mu, N))
        return made[-1]

    def no_certificate(*args, **kwargs):
        raise OptnetError("not certified in this test")

    monkeypatch.setattr(rates, "variant_method", recording)
    inst = build_instance(10.0, 8)  # the rates call site, on one instance
    assert rates.layers_to_eps("hb-tuned", inst, 1e-3, 10_000) is not None
    monkeypatch.setattr(certify_rate, "certify_rate",  # the table's call site, certificates aside
                        lambda method: SimpleNamespace(rate=None, rate_lower=None, reason="-"))
    monkeypatch.setattr(certify_cache, "cached_certify", no_certificate)
    certified_rates(kappas=(10.0,), steps=(10,), variants=("hb-tuned",))
    from_rates, from_table = made
    for method in made:
        h, mu = method.params["step"], method.mu
        assert method.params["beta"] == tuned_hb_beta(h, mu) == (1 - math.sqrt(h * mu)) ** 2
        assert h == 1.0 / method.L
    assert from_rates.params["beta"] == pytest.approx(from_table.params["beta"], rel=1e-12)
    assert from_table.params["beta"] == (1 - math.sqrt(0.1)) ** 2  # unit step, rates' docstring
    # step 1/L with L != 1: (1 - sqrt(mu/L))^2, and formulas that ignore the step differ (controls)
    L, mu = 4.0, 0.04
    beta = real("hb-tuned", L, mu).params["beta"]
    assert beta == pytest.approx((1 - math.sqrt(mu / L)) ** 2, rel=1e-15)
    assert abs(beta - (1 - math.sqrt(mu)) ** 2) > 0.1
    assert abs(beta - strongly_convex_beta(L, mu) ** 2) > 0.01


def test_a_method_file_runs_for_its_own_horizon_only(tmp_path) -> None:
    """optnet rates takes a method file (what optnet design writes) as a variant: it runs for
    its N steps only; a name that is neither a variant nor a method is refused with the
    accepted forms (negative control)."""
    import json

    from optnet_theory import get_method
    from optnet_theory.errors import OptnetError
    from optnet_theory.methods.dense.files import method_file_record
    from optnet_theory.methods.dense.history import dense_h
    from optnet_theory.rates import build_instance, measure_rates, run_network

    path = tmp_path / "designed-5.json"
    path.write_text(json.dumps(method_file_record(
        name="designed-5", h=dense_h(get_method("ogm", N=5), 5), function_class="smooth-convex",
        metric="function-gap", initial="distance", L=1.0, mu=0.0)))
    errors, hit = run_network(str(path), build_instance(10.0, 8), 1000, 1e-6)
    assert len(errors) == 6 and hit is None  # x_0..x_5, then the file's horizon ends
    result = measure_rates([10.0], dim=8, variants=["gd", str(path)])
    assert result.layers["gd"][0] is not None and result.layers[str(path)] == [None]
    with pytest.raises(OptnetError, match="method file"):
        measure_rates([10.0], dim=8, variants=["no-such-method"])
