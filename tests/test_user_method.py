"""A method defined in a file outside the package (Nesterov with constant momentum 0.5)
reaches every command without touching another module (issue 23 item 2, "Done when")."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

USER_FILE = '''
from optnet_theory.methods import MethodSpec, Step, register_method
from optnet_theory.methods.spec import RateVariant

def _nest(j, p):
    one, zero, b = p.ar.one(), p.ar.zero(), p["beta"]
    return Step(A=((one + b, -b), (one, zero)), B=(-p["step"], zero), C=(one + b, -b),
                D=(one, zero))

def _inverse_L(L, mu):
    """1/L"""
    return 1.0 / L

SPEC = register_method(MethodSpec(
    name="nest05", source="a user's file", function_class="smooth-convex", state_size=2,
    initial=(1.0, 1.0), schedule=_nest, output="z", metric="function-gap",
    guarantee="none stated", params={"beta": 0.5, "step": _inverse_L},
    network_prefix="nest05net",
    rate_variants=(RateVariant("", "user", "beta = 0.5", None),),
))
'''


@pytest.fixture()
def nest05(tmp_path: Path):
    from optnet_theory.methods.registry import _REGISTRY

    path = tmp_path / "user_methods.py"
    path.write_text(USER_FILE)
    spec = importlib.util.spec_from_file_location("user_methods_nest05", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module.SPEC
    _REGISTRY.pop("nest05", None)
    sys.modules.pop("user_methods_nest05", None)


def test_a_user_method_reaches_the_theory(nest05, capsys) -> None:
    import numpy as np

    from optnet_theory.methods import get_method
    from optnet_theory.methods.dense import dense_form
    from optnet_theory.rates import list_variants, variant_method
    from optnet_theory.verify import list_claims, verify_claim

    method = get_method("nest05")
    out = method.run(lambda y: y, np.ones(3), 5)
    assert np.all(np.isfinite(np.asarray(list(out))))
    result = verify_claim("nest05", "sigmoid", dim=4, depth=6, trials=1)
    assert result.passed and "nest05" in list_claims()
    assert dense_form(method, 3) is not None
    assert "nest05" in list_variants()
    assert variant_method("nest05", 1.0, 0.01).spec is nest05


def test_a_user_method_is_certified(nest05) -> None:
    pytest.importorskip("cvxpy")
    from optnet_theory.certify.certificate import certify
    from optnet_theory.methods import get_method

    cert = certify(get_method("nest05"), 3)
    assert cert.lower <= cert.upper


def test_a_user_method_in_optnet_methods(nest05, capsys) -> None:
    from optnet_nets.cli import main

    assert main(["methods", "--json"]) == 0
    out = capsys.readouterr().out
    names = [json.loads(line)["name"] for line in out.splitlines() if line.startswith("{")] \
        if not out.lstrip().startswith("[") else [r["name"] for r in json.loads(out)]
    assert "nest05" in names


def test_a_user_method_builds_networks(nest05, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from optnet_nets.models import create_model, list_models
    from optnet_nets.unrolled import UnrolledEnsemble

    net = UnrolledEnsemble(["nest05", "gd"], depth=3, dim=4)  # Table 2's structure
    assert net(torch.randn(2, 2, 4)).shape[-1] == 4
    model = create_model("methodnet20", method="nest05")
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert "nest05net20" in list_models()
    family = create_model("nest05net20")
    assert family(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    from optnet_nets.cli import main

    code = main(["train", "--model", "nest05net20", "--dataset", "synthetic", "--epochs", "1",
                 "--limit-train", "64", "--limit-test", "32", "--no-progress",
                 "--out", str(tmp_path / "run")])  # its CNN family trains one epoch
    assert code == 0 and (tmp_path / "run" / "summary.json").is_file()


def _fake_distribution(root, name: str, target: str, module_source: str) -> None:
    """An installed-looking package: MODULE.py and a dist-info with one optnet.methods entry."""
    (root / "optnet_fake_methods.py").write_text(module_source)
    info = root / "optnet_fake_methods-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: optnet-fake-methods\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(f"[optnet.methods]\n{name} = {target}\n")


def test_an_installed_package_adds_a_method_by_entry_point(tmp_path, monkeypatch) -> None:
    """A package declaring `optnet.methods` reaches list_methods and get_method; an entry point
    that names no MethodSpec is a one-line error (negative control)."""
    import sys

    from optnet_theory import get_method, list_methods
    from optnet_theory.errors import OptnetError
    from optnet_theory.methods.registry import _REGISTRY, load_entry_points

    _fake_distribution(tmp_path, "epgd", "optnet_fake_methods:SPEC", (
        "import dataclasses\nfrom optnet_theory.methods import get_spec\n"
        "SPEC = dataclasses.replace(get_spec('gd'), name='epgd', network_prefix=None)\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "epgd" in load_entry_points(reload=True) and "epgd" in list_methods()
        assert get_method("epgd").run(lambda x: x, [1.0], 2)[-1][0] == 0.0  # step 1/L on x^2/2
        (tmp_path / "optnet_fake_methods-0.1.dist-info" / "entry_points.txt").write_text(
            "[optnet.methods]\nbad = optnet_fake_methods:dataclasses\n")
        with pytest.raises(OptnetError, match="bad = optnet_fake_methods:dataclasses .* not a"):
            load_entry_points(reload=True)
    finally:
        _REGISTRY.pop("epgd", None)
        sys.modules.pop("optnet_fake_methods", None)
