"""The dose-response experiment: families, power, verdicts on synthetic run files, the command."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_nets.hypothesis.levels import Level, choose_levels
from optnet_nets.hypothesis.plan import SCHEMA, VERDICT_RULE
from optnet_nets.hypothesis.power import pilot_variance, power_of
from optnet_nets.hypothesis.rank_statistics import SUPPORTED, UNDECIDABLE
from optnet_nets.hypothesis.summary import summarize
from optnet_theory import blend_methods, get_method
from optnet_theory.errors import OptnetError


def test_a_family_at_its_ends_is_its_endpoints() -> None:
    """blend:gd:ogm:0 runs gd and blend:gd:ogm:1 runs ogm, point for point; t = 0.5 neither."""
    x0 = np.array([1.0, -0.5, 2.0])
    grad = lambda x: np.array([0.9, 0.3, 0.05]) * x  # noqa: E731
    gd = get_method("gd").run(grad, x0, 6)
    ogm = get_method("ogm", N=6).run(grad, x0, 6)
    assert np.abs(get_method("blend:gd:ogm:0", N=6).run(grad, x0, 6) - gd).max() < 1e-12
    assert np.abs(get_method("blend:gd:ogm:1", N=6).run(grad, x0, 6)[-1] - ogm[-1]).max() < 1e-12
    half = blend_methods("gd", "ogm", 0.5).bind(N=6).run(grad, x0, 6)[-1]
    assert np.abs(half - gd[-1]).max() > 1e-3 and np.abs(half - ogm[-1]).max() > 1e-3
    with pytest.raises(OptnetError, match=r"\[0, 1\]"):
        get_method("blend:gd:ogm:1.5", N=3)
    bound = blend_methods(get_method("gd", N=6), get_method("ogm", N=6), 0.5)
    assert np.abs(bound.run(grad, x0, 6)[-1] - half).max() < 1e-12  # bound = named form
    with pytest.raises(OptnetError, match="same L, mu and horizon"):  # negative control
        blend_methods(get_method("gd", N=6), get_method("ogm", N=5), 0.5)


def test_levels_are_pairwise_distinct_beyond_their_intervals() -> None:
    pool = [Level(f"m{i}", rate=(0.1 + 0.01 * i, 0.1 + 0.01 * i + 0.001)) for i in range(30)]
    pool.append(Level("overlap", rate=(0.1005, 0.1015)))  # overlaps m0
    chosen = choose_levels(pool, 8)
    assert len(chosen) == 8
    for a in chosen:
        for b in chosen:
            if a is not b:
                assert a.rate[1] < b.rate[0] or b.rate[1] < a.rate[0]
    with pytest.raises(OptnetError):
        choose_levels(pool[:5], 8)


def test_power_grows_with_methods_and_is_zero_where_undecidable() -> None:
    rates = list(np.log(np.linspace(0.2, 0.9, 24)))
    assert power_of(rates[:4], 3, 1.0, 0.1, simulations=40) == 0.0  # 2/4! > 0.05
    small = power_of(rates[:8], 3, 1.0, 0.1, simulations=80, seed=1)
    large = power_of(rates, 3, 1.0, 0.1, simulations=80, seed=1)
    assert large > small and large > 0.6
    between, seed = pilot_variance(np.array([[1.0, 1.1], [2.0, 2.1], [3.0, 3.05]]))
    assert between == pytest.approx(1.0, rel=0.05) and 0 < seed < 0.1


def _experiment(tmp_path, quality, seeds=3, noise=1e-4, seed=0):
    """A plan and its main-run files for Table-2 quality ``quality[m]`` (a synthetic
    dose-response): methods m0.. with certified rates increasing in m."""
    rng = np.random.default_rng(seed)
    n = len(quality)
    methods = [Level(f"m{i}", rate=(0.2 + 0.02 * i, 0.2 + 0.02 * i + 1e-6)) for i in range(n)]
    plan = {
        "schema": SCHEMA, "created": dt.datetime.now(dt.timezone.utc).isoformat(),
        "setting": {"name": "table2-quick", "kind": "table2", "depth": 6,
                    "endpoint": "MSE", "flags": ["--quick"], "mu": None, "model": "",
                    "epochs": 0, "extra": {}},
        "class": {"L": 1.0, "mu": 0.5, "mu_source": "test"},
        "methods": [m.to_json() for m in methods], "seeds": list(range(seeds)),
        "verdict_rule": VERDICT_RULE, "power": {"statement": "test"}, "endpoint": "MSE",
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    runs = [{"depth": 6, "seed": s,
             "mse": {f"m{i}": float(q + noise * rng.standard_normal() + 0.01 * s)
                     for i, q in enumerate(quality)}}
            for s in range(seeds)]
    (tmp_path / "main" / "simulate").mkdir(parents=True)
    (tmp_path / "main" / "simulate" / "results.json").write_text(json.dumps({"runs": runs}))
    return plan


def test_a_monotone_dose_response_is_supported_and_a_shuffled_one_is_not(tmp_path) -> None:
    n = 12
    plan = _experiment(tmp_path, [0.5 + 0.01 * i for i in range(n)])
    s = summarize(plan, tmp_path)
    assert s["verdict"] == SUPPORTED and s["spearman"] == pytest.approx(1.0)
    assert s["p_value"] <= 2e-5 and s["slope_quality_on_log_rate"]["slope"] > 0
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = np.random.default_rng(3).permutation(n)
    plan = _experiment(shuffled, [0.5 + 0.01 * i for i in order])
    assert not summarize(plan, shuffled)["verdict"].startswith(SUPPORTED)


def test_few_methods_are_undecidable_and_old_run_files_are_refused(tmp_path) -> None:
    plan = _experiment(tmp_path, [0.5, 0.6, 0.7, 0.8])
    assert summarize(plan, tmp_path)["verdict"].startswith(UNDECIDABLE)
    late = dict(plan, created=(dt.datetime.now(dt.timezone.utc)
                               + dt.timedelta(hours=1)).isoformat())
    with pytest.raises(OptnetError, match="older than the plan"):
        summarize(late, tmp_path)


def test_the_command_summarizes_and_refuses_bad_usage(tmp_path, capsys) -> None:
    _experiment(tmp_path, [0.5 + 0.01 * i for i in range(10)])
    assert main(["hypothesis", "summarize", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"methods", "p_value", "verdict"} <= set(out)
    for name in ("summary.json", "summary.md", "dose_response.png"):
        assert (tmp_path / name).is_file()
    assert main(["hypothesis", "plan"]) == 2
    assert "--setting" in capsys.readouterr().err
    assert main(["hypothesis", "run", str(tmp_path / "nothing")]) == 2
    assert "plan" in capsys.readouterr().err
    assert math.isfinite(out["spearman"])


@pytest.mark.slow
def test_quick_plan_run_summarize(tmp_path) -> None:
    """The acceptance flow on table2-quick: >= 8 methods with disjoint certified intervals,
    min_attainable_p < 0.001, a power analysis, then run and summarize."""
    out = tmp_path / "hq"
    assert main(["hypothesis", "plan", "--setting", "table2-quick", "--out", str(out),
                 "--simulations", "40", "--json"]) == 0
    plan = json.loads((out / "plan.json").read_text())
    levels = [m for m in plan["methods"] if m["origin"] == "level"]
    assert len(plan["methods"]) >= 8 and plan["min_attainable_p"] < 1e-3
    assert plan["power"]["designs"] and plan["pilot"]["seeds"]
    for a in levels:
        for b in levels:
            if a is not b:
                assert a["rate"][1] < b["rate"][0] or b["rate"][1] < a["rate"][0]
    assert main(["hypothesis", "run", str(out), "--workers", "2"]) == 0
    assert main(["hypothesis", "summarize", str(out), "--json"]) == 0
    assert json.loads((out / "summary.json").read_text())["verdict"]


def test_a_diverged_image_run_counts_at_chance_and_a_missing_one_is_refused(tmp_path) -> None:
    """DIVERGED_RULE: a run folder with diverged.json (and no summary) is quality CHANCE_ERROR;
    negative control: a folder with neither is not silently given a quality."""
    from optnet_nets.hypothesis.runner import CHANCE_ERROR, quality_table
    from optnet_nets.hypothesis.settings import get_setting
    from optnet_nets.train.config import DIVERGED_NAME

    setting = get_setting("images-reduced")
    methods = [Level("gd"), Level("tmm")]
    for name, file, record in [("gd", "summary.json", {"final_test_error": 0.2}),
                               ("tmm", DIVERGED_NAME, {"epoch": 1, "step": 31})]:
        (tmp_path / "runs" / f"{name}-seed0").mkdir(parents=True)
        (tmp_path / "runs" / f"{name}-seed0" / file).write_text(json.dumps(record))
    table, stamps = quality_table(setting, methods, [0], tmp_path)
    assert table.tolist() == [[0.2], [CHANCE_ERROR]] and len(stamps) == 2
    (tmp_path / "runs" / "tmm-seed0" / DIVERGED_NAME).unlink()
    with pytest.raises(OptnetError, match="missing"):
        quality_table(setting, methods, [0], tmp_path)


def test_training_that_diverges_leaves_its_outcome(tmp_path) -> None:
    """optnet train writes diverged.json when it stops on non-finite values (lr 1e12 makes any
    net diverge); a run that trains normally writes none."""
    from optnet_nets.train.config import DIVERGED_NAME

    common = ["train", "--model", "resnet20", "--dataset", "synthetic", "--epochs", "1",
              "--limit-train", "256", "--limit-test", "32", "--batch-size", "32", "--no-progress"]
    assert main([*common, "--lr", "1e12", "--out", str(tmp_path / "bad")]) != 0
    record = json.loads((tmp_path / "bad" / DIVERGED_NAME).read_text())
    assert "non-finite" in record["message"] and record["epoch"] == 1
    assert main([*common, "--out", str(tmp_path / "good")]) == 0
    assert not (tmp_path / "good" / DIVERGED_NAME).exists()
    assert main([*common, "--out", str(tmp_path / "bad"), "--overwrite"]) == 0  # a new attempt
    assert not (tmp_path / "bad" / DIVERGED_NAME).exists()  # clears the old outcome


def test_image_settings_leave_out_what_the_rule_cannot_build() -> None:
    """admm (two gradient calls per iteration) has no methodnet: a one-line reason, so an image
    plan leaves it out; gd (the control) builds."""
    from optnet_nets.hypothesis.levels import network_refusal

    assert "2 gradient calls" in (network_refusal(Level("admm"), 9, 0.1) or "")
    assert network_refusal(Level("gd"), 9, 0.1) is None
