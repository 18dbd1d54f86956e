"""Table 2 experiment (Sec. 5.3): quick run end to end, resume, ensemble = separate training."""

from __future__ import annotations

import json

import pytest
import torch

from optnet_nets import simulate
from optnet_nets.cli import main
from optnet_nets.simulate import (
    SimulateConfig,
    load_results,
    quick_config,
    run_simulation,
    summarize,
)
from optnet_nets.unrolled import STRUCTURES
from optnet_theory.errors import OptnetError

TINY = dict(depths=(2, 3), seeds=(0, 1), epochs=2, samples=200, dim=8, batch_size=50)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_quick_cli_writes_table_csv_json_png(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["simulate", "--quick", "--epochs", "2", "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)  # --json: stdout is JSON only
    table = data["summary"]["table"]
    assert set(table) == {"3", "6"}
    for row in table.values():
        assert set(row) == set(STRUCTURES)  # Table 2's five by default
        assert all(v["n"] == 2 and 0.5 < v["mean"] < 2.0 for v in row.values())
    assert (out / "table2.png").stat().st_size > 1000
    lines = (out / "table2.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 2 * 5
    # speed figures, recomputed here from the records and the measured peak in results.json
    peak, runs, summary = data["gemm_peak_flops"], data["runs"], data["summary"]
    for r in runs:
        assert r["achieved_flops"] == pytest.approx(r["ensemble_gemm_flops"] / r["train_seconds"])
        speed = summary["speed_by_depth"][str(r["depth"])]
        assert speed["gemm_fraction"] == pytest.approx(r["achieved_flops"] / peak)
    rates = sorted(r["achieved_flops"] for r in runs)
    assert summary["achieved_flops_median"] == rates[len(rates) // 2]
    assert summary["gemm_fraction"] == pytest.approx(rates[len(rates) // 2] / peak)


def test_ensemble_training_equals_training_each_seed_alone(tmp_path):
    """A seed's result does not depend on which seeds trained beside it (own data and order)."""
    both = run_simulation(SimulateConfig(**TINY), tmp_path / "both", progress=False)
    alone = run_simulation(SimulateConfig(**{**TINY, "seeds": (1,)}), tmp_path / "one",
                           progress=False)
    for depth in TINY["depths"]:
        for s in ("gd", "admm", "agd2"):
            assert both.mse(s, depth)[1] == pytest.approx(alone.mse(s, depth)[0], rel=1e-5)
    # negative control: seed 0 and seed 1 differ
    assert both.mse("gd", 2)[0] != pytest.approx(both.mse("gd", 2)[1], rel=1e-5)


def test_resume_from_partial_results_and_checkpoint(tmp_path):
    cfg = SimulateConfig(**TINY)
    out = tmp_path / "r"
    full = run_simulation(cfg, out, progress=False)
    # a run that died after depth 2: remove depth 3's results, keep a checkpoint mid-depth
    for sd in (0, 1):
        (out / "partial" / f"depth3_seed{sd}.json").unlink()
    marker = out / "partial" / "depth2_seed0.json"
    rec = json.loads(marker.read_text())
    rec["mse"]["gd"] = 123.0  # proves depth 2 is loaded, not retrained
    marker.write_text(json.dumps(rec))
    again = run_simulation(cfg, out, progress=False, checkpoint_seconds=0.0)
    assert again.mse("gd", 2)[0] == 123.0
    assert again.mse("hb", 3) == pytest.approx(full.mse("hb", 3), rel=1e-5)
    # settings that would change results are refused for the same directory
    with pytest.raises(OptnetError, match="different settings"):
        run_simulation(SimulateConfig(**{**TINY, "lr": 0.5}), out, progress=False)


def test_mid_depth_checkpoint_resumes_to_same_result(tmp_path, monkeypatch):
    cfg = SimulateConfig(**{**TINY, "depths": (2,), "epochs": 3})
    ref = run_simulation(cfg, tmp_path / "ref", progress=False)
    ck_dir = tmp_path / "ck"
    # a run that dies right after writing its epoch-2 checkpoint, then is restarted
    original_save = simulate.files.save_atomic

    def save_then_die(obj, path):
        original_save(obj, path)
        if obj.get("epoch") == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(simulate.files, "save_atomic", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            run_simulation(cfg, ck_dir, progress=False, checkpoint_seconds=0.0)
    assert (ck_dir / "checkpoint_depth2_seed0-1.pt").exists()
    assert not (ck_dir / "partial").exists()
    resumed = run_simulation(cfg, ck_dir, progress=False)
    assert not (ck_dir / "checkpoint_depth2_seed0-1.pt").exists()
    assert resumed.runs[0]["epochs_in_this_process"] == 1  # resumed, not retrained
    assert len(resumed.runs[0]["curve"]["gd"]) == 3
    for s in cfg.structures:
        assert resumed.mse(s, 2) == pytest.approx(ref.mse(s, 2), rel=1e-5)


def test_summary_ranks_and_compares_with_paper(tmp_path):
    cfg = quick_config(depths=(10,), seeds=(0,), epochs=1, samples=200, dim=8)
    res = run_simulation(cfg, tmp_path, progress=False)
    summ = summarize(res)
    entry = summ.rankings[10]
    ours = sorted(cfg.structures, key=lambda s: res.mse(s, 10)[0])  # one seed: its MSE
    assert entry.ours == ours
    assert entry.paper == ["agd", "hb", "gd", "agd2", "admm"]  # Table 2, depth 10

    def same_order(paper: list[str]) -> int:  # pairs ordered alike by the two rankings
        return sum(paper.index(a) < paper.index(b) for i, a in enumerate(ours)
                   for b in ours[i + 1 :])

    assert entry.agreement == (same_order(entry.paper), 10)
    # negative control: against the reversed ranking every other pair agrees
    assert same_order(entry.paper[::-1]) == 10 - entry.agreement[0]
    assert summarize(res).to_json()["rankings"]["10"]["pairwise_agreement"] == [
        same_order(entry.paper), 10]
    paired = entry.paired_vs_gd  # per-seed differences to GD (7), same data and init
    assert paired is not None and set(paired) == set(STRUCTURES) - {"gd"}
    gd = res.mse("gd", 10)[0]
    assert paired["hb"].mean == pytest.approx(res.mse("hb", 10)[0] - gd, abs=1e-15)
    # results.json holds the same summary, and a reloaded run summarises to it again
    saved = json.loads((tmp_path / "results.json").read_text())["summary"]
    assert saved == json.loads(json.dumps(summ.to_json()))
    assert summarize(load_results(tmp_path)).to_json() == saved


def test_the_papers_printed_mse_has_one_lookup():
    """paper_mse reads Table 2 by structure and depth; None outside the printed table."""
    from optnet_nets.simulate import paper_mse
    from optnet_theory.paper_values import TABLE2_MSE

    assert paper_mse("gd", 10) == TABLE2_MSE["GD (7)"][0] == 1.00644
    assert paper_mse("agd2", 40) == TABLE2_MSE["AGD2 (13)"][3] == 0.99964
    assert paper_mse("ogm", 10) is None and paper_mse("gd", 11) is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"structures": ("gd", "resnet")}, "unknown method .resnet."),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"lr": -1.0}, "lr"),
        ({"batch_size": 10_000}, "batch size"),
        ({"depths": (0,)}, "depth"),
        ({"seeds": (0, 0)}, "repeat"),
        ({"mu": 1.5}, "mu must be a number"),
        ({"structures": ("gd", "tmm"), "mu": 0.0}, "needs 0 < mu < L"),
    ],
)
def test_bad_settings_are_refused(tmp_path, kw, match):
    with pytest.raises(OptnetError, match=match):
        run_simulation(SimulateConfig(**{**TINY, **kw}), tmp_path, progress=False)


def test_batching_depths_gives_the_per_depth_results(tmp_path):
    """--batch-depths trains all depths as one ensemble: same records as one ensemble per depth."""
    cfg = SimulateConfig(**TINY)
    per_depth = run_simulation(cfg, tmp_path / "a", progress=False)
    batched = run_simulation(cfg, tmp_path / "b", progress=False, batch_depths=True)
    for depth in TINY["depths"]:
        for s in cfg.structures:
            assert batched.mse(s, depth) == pytest.approx(per_depth.mse(s, depth), rel=1e-5)
    assert batched.runs[0]["ensemble_depths"] == [2, 3]
    assert per_depth.runs[0]["ensemble_depths"] == [2]


def test_workers_give_the_single_process_results(tmp_path):
    """--workers 2 trains each (depth, seed) in its own process: same records as one process."""
    cfg = SimulateConfig(**TINY)
    one = run_simulation(cfg, tmp_path / "one", progress=False)
    two = run_simulation(cfg, tmp_path / "two", progress=False, workers=2)
    for depth in TINY["depths"]:
        for s in cfg.structures:
            assert two.mse(s, depth) == pytest.approx(one.mse(s, depth), rel=1e-6)
    assert {r["threads"] for r in two.runs} == {1}
    assert {tuple(r["ensemble_seeds"]) for r in two.runs} == {(0,), (1,)}  # one unit per seed
    with pytest.raises(OptnetError, match="workers"):
        run_simulation(cfg, tmp_path / "bad", progress=False, workers=0)


def test_simulation_engines_agree(tmp_path):
    """Training Table 2 (tiny) with either engine gives the same MSEs up to float32 rounding."""
    cfg = SimulateConfig(depths=(3,), seeds=(0,), epochs=2, samples=200, dim=8, batch_size=50)
    a = run_simulation(cfg, tmp_path / "explicit", progress=False, engine="explicit")
    b = run_simulation(cfg, tmp_path / "autograd", progress=False, engine="autograd")
    assert a.runs[0]["engine"] == "explicit" and b.runs[0]["engine"] == "autograd"
    for s in cfg.structures:
        assert a.mse(s, 3) == pytest.approx(b.mse(s, 3), rel=1e-5)


def test_every_registered_method_trains_and_its_mu_is_stated(tmp_path, capsys):
    """optnet simulate --structures takes every registered method; tmm and item get --mu, the
    others none; the explicit (generated) gradients train them as autograd does."""
    from optnet_theory.methods import list_methods

    names = list_methods()
    out = tmp_path / "all"
    args = ["simulate", "--quick", "--epochs", "1", "--depths", "2", "3", "--seeds", "1",
            "--structures", *names, "--mu", "0.2", "--out", str(out), "--json", "--force"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["summary"]["table"]["3"]) == set(names)
    params = data["summary"]["methods"]
    assert params["tmm"]["mu"] == params["item"]["mu"] == 0.2 and "mu" not in params["gd"]
    assert data["summary"]["mu_source"] == "given"
    cfg = SimulateConfig(depths=(3,), seeds=(0,), epochs=2, samples=200, dim=8, batch_size=50,
                         structures=("ogm", "ogmg", "tmm", "item"), mu=0.2)
    a = run_simulation(cfg, tmp_path / "explicit", progress=False, engine="explicit")
    b = run_simulation(cfg, tmp_path / "autograd", progress=False, engine="autograd")
    assert a.runs[0]["engine"] == "explicit" and b.runs[0]["engine"] == "autograd"
    for s in cfg.structures:
        assert a.mse(s, 3) == pytest.approx(b.mse(s, 3), rel=1e-5)


def test_default_mu_is_the_curvature_bound_of_the_initial_weights():
    """Without mu, tmm/item get mu = 1 - max Phi' sigma_max(W_0) (Sec. 5: L = 1), with
    max Phi' of the sigmoid and W_0 seed 0's first initial layer, computed independently here."""
    from optnet_nets.simulate import curvature_mu, method_arguments
    from optnet_nets.unrolled import UnrolledEnsemble

    dim = 12
    W = UnrolledEnsemble(["gd"], 3, dim, seeds=[0], dtype=torch.float64).matrices()[0, 0]
    grid = torch.linspace(-30, 30, 600_001, dtype=torch.float64)
    slope = (torch.sigmoid(grid) * (1 - torch.sigmoid(grid))).max()
    want = 1 - slope * torch.linalg.matrix_norm(W, ord=2)
    assert curvature_mu("uniform", dim) == pytest.approx(want.item(), abs=1e-9)
    assert curvature_mu("uniform", dim) != pytest.approx(curvature_mu("normal", dim), abs=1e-3)
    methods, source = method_arguments(SimulateConfig(structures=("gd", "tmm"), dim=dim))
    assert methods["tmm"]["mu"] == curvature_mu("uniform", dim) and "mu" not in methods["gd"]
    assert "curvature" in source


def test_runs_written_before_methods_as_data_still_load(tmp_path):
    """An old config.json records agd2_form = "recursive": read as today's network; the dense
    form, which no longer exists, and unknown keys are refused with the file named."""
    cfg = {"depths": [3], "structures": ["gd"], "seeds": [0], "epochs": 1, "samples": 10,
           "dim": 4, "agd2_form": "recursive"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert load_results(tmp_path) is None  # config read, no finished run yet
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "agd2_form": "dense"}))
    with pytest.raises(OptnetError, match="dense form"):
        load_results(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "colour": "red"}))
    with pytest.raises(OptnetError, match="unknown setting"):
        load_results(tmp_path)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # torch.compile's imports
@pytest.mark.parametrize("compile_model", [False, True])
def test_compile_keeps_the_explicit_engine(tmp_path, compile_model):
    """--compile trains with the generated adjoint compiled into one function (not autograd)."""
    from optnet_nets.simulate.training import TrainOptions, build
    from optnet_nets.unrolled.adjoint import ExplicitGradient
    from optnet_nets.unrolled.compiled import CompiledGradient

    cfg = SimulateConfig(depths=(3,), seeds=(0,), epochs=1, samples=100, dim=8, batch_size=50)
    opts = TrainOptions(tmp_path, "cpu", False, 60.0, compile_model, "explicit")
    unit = build(cfg, [3], [0], opts)  # torch.compile is lazy: nothing is compiled here
    assert type(unit.explicit) is (CompiledGradient if compile_model else ExplicitGradient)


@pytest.mark.slow
def test_compiled_explicit_engine_trains_as_the_explicit_one(tmp_path):
    """Training Table 2 (tiny) with --compile gives the explicit engine's MSEs up to rounding."""
    cfg = SimulateConfig(depths=(3,), seeds=(0,), epochs=2, samples=200, dim=8, batch_size=50)
    a = run_simulation(cfg, tmp_path / "explicit", progress=False, engine="explicit")
    b = run_simulation(cfg, tmp_path / "compiled", progress=False, compile_model=True)
    assert b.runs[0]["engine"] == "explicit"
    for s in cfg.structures:
        assert b.mse(s, 3) == pytest.approx(a.mse(s, 3), rel=1e-5)


def test_a_unit_in_progress_keeps_its_shape_whatever_the_workers(tmp_path):
    """A checkpoint of the (depth 3, seed 1) unit that --workers 2 started is resumed as that
    unit by a one-worker rerun (not dropped for a (depth 3, seeds 0-1) unit); the rest is per
    depth. Negative control: a finished pair is not trained again."""
    from optnet_nets.simulate.run import _units

    cfg = SimulateConfig(**TINY)
    out = tmp_path / "sim"
    (out / "partial").mkdir(parents=True)
    (out / "checkpoint_depth3_seed1.pt").write_bytes(b"")
    assert _units(cfg, out, False, 1) == [([3], [1]), ([2], [0, 1]), ([3], [0])]
    assert _units(cfg, out, False, 2) == [([3], [1]), ([2], [0]), ([2], [1]), ([3], [0])]
    (out / "partial" / "depth2_seed0.json").write_text("{}")
    assert _units(cfg, out, False, 1) == [([3], [1]), ([2], [1]), ([3], [0])]
