"""The hypothesis section: rank statistics, verdicts, and a run read from its files."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from optnet_nets.hypothesis import format_hypothesis, measure_hypothesis
from optnet_nets.hypothesis.rank_statistics import (
    UNDECIDABLE,
    bootstrap_spearman,
    interval_ranks,
    kendall,
    min_attainable_p,
    permutation_p,
    spearman,
    tied_ranks,
    verdict,
)
from optnet_theory.errors import OptnetError


def test_spearman_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, 4, 7).astype(float)  # ties
        b = rng.standard_normal(7)
        if len(set(a)) > 1:
            assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(OptnetError):
        spearman([1.0], [2.0])


def _per_seed(cert, sign, noise, seeds=5, seed=0):
    rng = np.random.default_rng(seed)
    return {m: [sign * c + noise * rng.standard_normal() for _ in range(seeds)]
            for m, c in cert.items()}


def test_verdicts_follow_the_numbers():
    cert = {f"m{i}": float(i) for i in range(7)}
    for sign, expected in ((1, "supported"), (-1, "contradicted")):
        per_seed = _per_seed(cert, sign, noise=0.01)
        rho, lo, hi = bootstrap_spearman(cert, per_seed)
        p = permutation_p(list(cert.values()), [np.mean(v) for v in per_seed.values()])
        assert verdict(rho, lo, hi, p, len(cert)) == expected
    # negative control: pure noise is not called either way
    per_seed = _per_seed(cert, 0, noise=1.0, seed=3)
    rho, lo, hi = bootstrap_spearman(cert, per_seed)
    p = permutation_p(list(cert.values()), [np.mean(v) for v in per_seed.values()])
    assert verdict(rho, lo, hi, p, len(cert)).startswith("not resolved")
    # a perfect rank among 3 or 4 methods can never be significant: undecidable by design
    for n in (3, 4):
        p = permutation_p(range(n), range(n))
        assert p == pytest.approx(min_attainable_p(n)) == pytest.approx(2 / math.factorial(n))
        assert verdict(1.0, 0.9, 1.0, p, n).startswith(UNDECIDABLE)
    assert min_attainable_p(5) < 0.05


def test_exact_permutation_p_equals_a_brute_force_count():
    """Small cases counted by hand over every pairing, both statistics; a shuffled pairing
    (negative control) gives a larger p."""
    rng = np.random.default_rng(1)
    for n in (4, 5, 6):
        a = rng.standard_normal(n)
        b = a + 0.3 * rng.standard_normal(n)
        for stat, fn in (("spearman", spearman), ("kendall", kendall)):
            obs = fn(a, b)
            count = sum(abs(fn(a, [b[i] for i in perm])) >= abs(obs) - 1e-12
                        for perm in itertools.permutations(range(n)))
            assert permutation_p(a, b, statistic=stat) == pytest.approx(
                count / math.factorial(n))
    assert kendall([1, 2, 3], [1, 3, 2]) == pytest.approx(stats.kendalltau([1, 2, 3],
                                                                        [1, 3, 2]).statistic)
    assert permutation_p(range(6), range(6)) < permutation_p(range(6), [0, 5, 1, 4, 2, 3])


def test_tie_rules():
    """Means closer than the standard error of their difference tie; certified intervals that
    overlap tie. Negative controls: separated values keep distinct ranks."""
    assert list(tied_ranks([1.0, 1.0001, 2.0], [0.001, 0.001, 0.001])) == [0.5, 0.5, 2.0]
    assert list(tied_ranks([1.0, 1.1, 2.0], [0.001, 0.001, 0.001])) == [0.0, 1.0, 2.0]
    assert list(interval_ranks([(0.5, 0.6), (0.55, 0.7), (0.8, 0.9)])) == [0.5, 0.5, 2.0]
    assert list(interval_ranks([(0.5, 0.6), (0.65, 0.7), (0.8, 0.9)])) == [0.0, 1.0, 2.0]


def test_measure_hypothesis_reads_run_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    methods = {"gd": {"L": 1.0, "step": 1.0}, "hb": {"L": 1.0, "beta": 0.3, "step": 1.0},
               "agd": {"L": 1.0, "momentum": "theta"}, "tmm": {"L": 1.0, "mu": 0.5}}
    (tmp_path / "partial").mkdir()
    mse = {"gd": 1.0, "hb": 0.9, "agd": 0.8, "tmm": 0.7}
    for seed in range(3):
        rec = {"depth": 3, "seed": seed, "methods": methods,
               "mse": {m: v + 0.001 * seed for m, v in mse.items()}}
        (tmp_path / "partial" / f"depth3_seed{seed}.json").write_text(json.dumps(rec))
    h = measure_hypothesis(tmp_path, None, None, steps=3)
    assert h.mu == 0.5
    strong = h.certified["strongly convex (run's mu), ||x_N - x*||^2"]
    assert set(strong) == set(methods)
    assert set(h.certified["smooth convex, f(x_N) - f*"]) == {"gd", "hb", "agd"}  # tmm needs mu
    assert h.mse[3]["hb"] == pytest.approx([0.9, 0.901, 0.902])
    low, high = strong["gd"]
    assert 0 < low <= high < 1  # an N-step rate, not a worst case near zero
    text = format_hypothesis(h)
    assert "Spearman" in text and "tmm" in text
    # with only 3-4 methods nothing can be significant: the verdict says so
    assert all(c.verdict.startswith(UNDECIDABLE) for c in h.correlations)


def test_a_run_without_recorded_methods_is_refused(tmp_path):
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "depth3_seed0.json").write_text(
        json.dumps({"depth": 3, "seed": 0, "mse": {"gd": 1.0}}))
    with pytest.raises(OptnetError, match="record"):
        measure_hypothesis(tmp_path, None, None, steps=2)
    with pytest.raises(OptnetError, match="no Table-2 run files"):
        measure_hypothesis(tmp_path / "nothing", None, None)


def test_studies_of_method_nets_enter_the_image_measure(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    methods = {"gd": {"L": 1.0, "step": 1.0}, "hb": {"L": 1.0, "beta": 0.3, "step": 1.0},
               "tmm": {"L": 1.0, "mu": 0.5}}
    (tmp_path / "sim" / "partial").mkdir(parents=True)
    for seed in range(3):
        rec = {"depth": 2, "seed": seed, "methods": methods,
               "mse": {"gd": 1.0, "hb": 0.95, "tmm": 0.9}}
        (tmp_path / "sim" / "partial" / f"depth2_seed{seed}.json").write_text(json.dumps(rec))
    runs = [{"model": model, "dataset": "synthetic", "seed": seed, "finished": True,
             "final_test_error": err + 0.01 * seed}
            for model, err in (("hbnet20", 0.3), ("ogmnet20", 0.2), ("tmmnet20", 0.25),
                               ("resnet20", 0.1))
            for seed in range(3)]
    runs.append({"model": "itemnet20", "dataset": "synthetic", "seed": 0, "finished": False,
                 "final_test_error": None})
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "study.json").write_text(json.dumps({"runs": runs}))
    h = measure_hypothesis(tmp_path / "sim", None, tmp_path, steps=2)
    assert set(h.image) == {"hbnet20", "ogmnet20", "tmmnet20"}  # no resnet, no unfinished run
    assert h.image["ogmnet20"]["errors"] == pytest.approx([0.2, 0.21, 0.22])
    image = [c for c in h.correlations if c.measure.startswith("image test error")]
    # strongly convex class: hb, ogm, tmm; smooth convex: tmm is undefined, 2 left, no rank
    assert [sorted(c.methods) for c in image] == [["hb", "ogm", "tmm"], ["hb", "ogm"]]
    assert not math.isnan(image[0].rho) and image[1].verdict.startswith(UNDECIDABLE)
