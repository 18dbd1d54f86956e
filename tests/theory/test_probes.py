"""Issue 24's probes on the theory side, each beside its negative control.

Item 1 (products through the CLI), item 3 (verify --matrix: no check that cannot fail, complex
matrices, oversize headers, devices and fifos), item 5 (bounded runs: lazy schedules and the
run cap), item 7 (the Python API raises OptnetError) and register_method's validation. The
negative control of each refusal is the nearest input that must be accepted.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from optnet_nets.cli import main
from optnet_theory import get_method
from optnet_theory.errors import OptnetError
from optnet_theory.methods import register_method
from optnet_theory.methods.registry import get_spec
from optnet_theory.methods.spec import MethodSpec, Step


def _one_line_error(command: str, code: int, err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"optnet {command}: error:") and needle in lines[0], err


# ------------------------------------------------------------------ item 1: products, via the CLI
@pytest.mark.parametrize("formula", ["x*softplus(x)", "x**2/(1+exp(x))"])
def test_derive_of_a_product_prints_a_verified_closed_form(formula, capsys) -> None:
    assert main(["derive", formula, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verified"] and record["method"] == "closed-form"
    assert "polylog(3" in record["psi"] and record["float_check_error"] < 1e-14


def test_a_periodic_breakpoint_condition_is_one_line(capsys) -> None:
    """Found by the long fuzz run: max(sin(1e9), sin(x)) has endless breakpoints, and SymPy's
    as_set raised NotImplementedError through derive."""
    _one_line_error("derive", main(["derive", "max(sin(1e9), sin(x))"]),
                    capsys.readouterr().err, "cannot be located exactly")  # fmt: skip
    # also found by it: a breakpoint acosh(erf(1e9)) SymPy cannot prove real (ValueError)
    _one_line_error("derive", main(["derive", "max(cosh(x), erf(1e9))"]),
                    capsys.readouterr().err, "cannot be located exactly")  # fmt: skip
    assert main(["derive", "max(sin(1), x)", "--json"]) == 0  # control: one breakpoint
    assert json.loads(capsys.readouterr().out)["verified"] is True


# ------------------------------------------------------------------ item 3: verify --matrix
def _verify(path: Path, capsys) -> tuple[int, str, str]:
    code = main(["verify", "all", "--matrix", str(path), "--depth", "5", "--trials", "1"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_check_that_cannot_fail_is_refused_with_the_condition_number(tmp_path, capsys) -> None:
    np.save(tmp_path / "W.npy", np.diag([1e150, 1e-150]))
    code, _, err = _verify(tmp_path / "W.npy", capsys)
    _one_line_error("verify", code, err, "could not fail")
    assert "cond(W) = 1e+300" in err and "over 0.001" in err
    # negative control: a well-conditioned matrix is checked, and passes
    np.save(tmp_path / "W.npy", np.diag([0.9, 0.3]))
    code, out, err = _verify(tmp_path / "W.npy", capsys)
    assert code == 0 and "FAIL" not in out, err


def test_the_tolerance_cap_is_applied_from_python_too() -> None:
    from optnet_theory.verify import verify_claim

    with pytest.raises(OptnetError, match="could not fail"):
        verify_claim("admm", W=np.diag([1e150, 1e-150]), trials=1, depth=5)
    assert verify_claim("admm", W=np.diag([0.9, 0.3]), trials=1, depth=5).passed


def test_a_complex_matrix_is_refused(tmp_path, capsys) -> None:
    np.save(tmp_path / "W.npy", np.diag([0.9, 0.3]) + 0.1j * np.eye(2))
    code, _, err = _verify(tmp_path / "W.npy", capsys)
    _one_line_error("verify", code, err, "is complex")
    np.save(tmp_path / "W.npy", np.diag([0.9, 0.3]))  # control: the same matrix, real
    assert _verify(tmp_path / "W.npy", capsys)[0] == 0


def _npy_with_shape(path: Path, shape: tuple[int, ...], data: bytes) -> None:
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1)))
    header["shape"] = shape
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(data)


def test_a_header_promising_more_than_the_memory_cap_is_refused(tmp_path, capsys) -> None:
    _npy_with_shape(tmp_path / "W.npy", (10**6, 10**6), b"\0" * 64)
    code, _, err = _verify(tmp_path / "W.npy", capsys)
    _one_line_error("verify", code, err, "over the memory cap")
    _npy_with_shape(tmp_path / "W.npy", (2, 3), b"\0" * 64)  # promises 48 bytes, holds 64
    _one_line_error("verify", *_verify(tmp_path / "W.npy", capsys)[::2], "the file holds 64")
    eye = np.diag([0.9, 0.3]).tobytes()
    _npy_with_shape(tmp_path / "W.npy", (2, 2), eye)  # control: the same writer, true header
    assert _verify(tmp_path / "W.npy", capsys)[0] == 0


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_devices_and_fifos_are_refused_before_reading(tmp_path, capsys, kind) -> None:
    path = tmp_path / "W.npy"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)  # nobody writes: reading it would block forever
    code, _, err = _verify(path, capsys)
    _one_line_error("verify", code, err, "not a regular file")
    path.unlink()
    np.save(path, np.diag([0.9, 0.3]))  # control: a regular file at the same path
    assert _verify(path, capsys)[0] == 0


# ------------------------------------------------------------------ item 5: bounded runs
def _ogm_theta_reference(N: int, count: int) -> list[float]:
    """theta_0..theta_count of Kim & Fessler's OGM, written out here independently."""
    theta = [1.0]
    for t in range(1, count + 1):
        theta.append((1 + math.sqrt(1 + (8 if t == N else 4) * theta[-1] ** 2)) / 2)
    return theta


def test_a_huge_horizon_costs_only_the_steps_run() -> None:
    grad = lambda y: 2.0 * y  # noqa: E731
    out = get_method("ogm", N=10**9).run(grad, np.ones(3), 3)  # used to build 24 GB
    assert out.shape == (4, 3) and np.all(np.isfinite(out))
    steps = get_method("ogm", N=10**9).coefficients(3)
    theta = _ogm_theta_reference(10**9, 4)
    a, b = (theta[2] - 1) / theta[3], theta[2] / theta[3]
    assert steps[2].A[0] == pytest.approx((1 + a, -a), rel=1e-15)
    assert steps[2].B[0] == pytest.approx(-(1 + a + b), rel=1e-15)
    # the lazy schedule equals the whole one where both exist, the last step (factor 8) too
    short = get_method("ogm", N=6).coefficients(6)
    theta = _ogm_theta_reference(6, 6)
    assert short[5].B[0] == pytest.approx(-(1 + (theta[5] - 1) / theta[6] + theta[5] / theta[6]))
    wrong = _ogm_theta_reference(7, 6)  # negative control: no factor 8 at t = 6
    assert short[5].B[0] != pytest.approx(-(1 + (wrong[5] - 1) / wrong[6] + wrong[5] / wrong[6]))


def test_a_run_past_the_limits_is_refused_unless_forced(monkeypatch) -> None:
    grad = lambda y: y  # noqa: E731
    with pytest.raises(OptnetError, match="GiB of memory.*methods.forced"):
        get_method("gd").run(grad, np.ones(2), 10**9)
    with pytest.raises(OptnetError, match="hours.*methods.forced"):
        get_method("ogmg", N=10**12).run(grad, np.ones(2), 3)  # its theta runs back from N
    with pytest.raises(OptnetError, match="GiB of memory"):
        get_method("gd").coefficients(10**9)
    import optnet_theory.energy.limits as limits
    from optnet_theory.methods import forced

    monkeypatch.setattr(limits, "MAX_SECONDS", 1e-12)  # every run is now "too long" ...
    with pytest.raises(OptnetError, match="over the limit"):
        get_method("gd").run(grad, np.ones(2), 5)
    with forced():  # ... but the override lets it run
        assert get_method("gd").run(grad, np.ones(2), 5).shape == (6, 2)
    with pytest.raises(OptnetError, match="over the limit"):  # and only inside the block
        get_method("gd").network_outputs(np.tanh, np.eye(2), np.ones(2), 5).__next__()


def test_the_package_own_sizes_stay_under_the_cap() -> None:
    """certify's 10,000 steps, rates at kappa = 1e4 (its cap of ~830,000 gd layers), Table 2."""
    from optnet_theory.energy.limits import MAX_SECONDS, memory_limit
    from optnet_theory.methods.cost import run_estimate

    for name, sub_steps, dim, stored, listed in (
        ("item", 10_000, 0, False, True), ("gd", 829_000, 30, False, False),
        ("tmm", 40, 100, True, True),
    ):  # fmt: skip
        need = run_estimate(get_spec(name), sub_steps, None, dim=dim, stored=stored,
                            listed=listed)  # fmt: skip
        assert need.seconds < MAX_SECONDS / 10 and need.bytes < memory_limit() / 10


# ------------------------------------------------------------------ item 7: the Python API
@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda m: m.run(lambda y: y, "abc", 3), "x0 must be a vector of real numbers"),
        (lambda m: m.run(lambda y: y, np.array([1.0, np.nan]), 3), "NaN or infinite"),
        (lambda m: m.run(lambda y: y, np.ones((2, 2)), 3), "x0 must be a non-empty vector"),
        (lambda m: m.run(lambda y: y, np.ones(0), 3), "x0 must be a non-empty vector"),
        (lambda m: m.run(lambda y: np.ones(3), np.ones(2), 3), "returned shape (3,)"),
        (lambda m: m.run(lambda y: "a", np.ones(2), 3), "returned str"),
        (lambda m: m.run(5, np.ones(2), 3), "grad must be a function"),
    ],
)
def test_bad_runs_are_optnet_errors(call, needle) -> None:
    method = get_method("hb")
    with pytest.raises(OptnetError) as info:
        call(method)
    assert needle in str(info.value) and "\n" not in str(info.value)
    # negative control: the same method runs on a good x0 and gradient
    assert np.all(np.isfinite(method.run(lambda y: 0.5 * y, np.array([1.0, -2.0]), 3)))


def _spec(**changes) -> MethodSpec:
    return replace(get_spec("gd"), **changes)


def test_a_schedule_that_raises_is_named() -> None:
    def schedule(j, p):
        if j == 2:
            raise ZeroDivisionError("division by zero")
        return get_spec("gd").schedule(j, p)

    with pytest.raises(OptnetError, match=r"schedule failed at sub-step 2 \(ZeroDivisionError"):
        _spec(name="breaks", schedule=schedule).bind().run(lambda y: y, np.ones(2), 4)
    with pytest.raises(OptnetError, match="is a tuple, not a Step"):
        _spec(name="tuple", schedule=lambda j, p: ((1,), (1,), (1,), (1,))).bind().coefficients(1)
    assert _spec(name="fine").bind().run(lambda y: y, np.ones(2), 4).shape == (5, 2)  # control


def test_an_analytic_bound_that_is_not_a_number_is_named() -> None:
    method = _spec(name="text-bound", analytic=lambda m, n: "abc").bind()
    with pytest.raises(OptnetError, match="analytic bound after 3 steps is 'abc'"):
        method.spec.analytic(method, 3)
    nan = _spec(name="nan-bound", analytic=lambda m, n: float("nan")).bind()
    with pytest.raises(OptnetError, match="not a number"):
        nan.spec.analytic(nan, 3)
    good = _spec(name="good-bound", analytic=lambda m, n: 1 / (4 * n + 2)).bind()
    assert good.spec.analytic(good, 3) == pytest.approx(1 / 14)  # control
    with pytest.raises(OptnetError, match="analytic must be a function"):
        _spec(name="not-callable", analytic=0.5)


@pytest.mark.parametrize("name", ["", 123, "../../etc", "a b", "blend:gd:ogm", "x" * 65, "1st"])
def test_register_method_refuses_names_that_are_not_identifier_like(name) -> None:
    with pytest.raises(OptnetError, match="method name"):
        register_method(_spec(name=name))


def test_register_method_accepts_an_identifier_like_name() -> None:
    from optnet_theory.methods import registry

    try:
        register_method(_spec(name="probe-gd_2"))
        assert get_method("probe-gd_2").run(lambda y: y, np.ones(1), 2).shape == (3, 1)
    finally:
        registry._REGISTRY.pop("probe-gd_2", None)  # other tests list the registry


@pytest.mark.parametrize("initial", [(float("nan"),), ("a",), (None,), (1.0, 2.0), ()])
def test_bad_initial_states_are_refused(initial) -> None:
    with pytest.raises(OptnetError, match="initial"):
        _spec(name="bad-initial", initial=initial)
    assert _spec(name="good-initial", initial=(2.0,)).initial == (2.0,)  # control


def test_step_is_the_public_record_of_a_schedule() -> None:
    """Keeps Step(A, B, C, D) and coefficients' list-of-Step results as they were."""
    steps = get_method("gd").coefficients(2)
    assert isinstance(steps, list) and all(isinstance(s, Step) for s in steps) and len(steps) == 3
