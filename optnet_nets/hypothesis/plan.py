"""``optnet hypothesis plan``: everything the verdict depends on, fixed before the main run.

The plan (``plan.json``, written once, atomically, with its creation time) holds: the setting
and the class (L = 1, mu); the methods (levels of graded certified speed with pairwise disjoint
intervals, plus the nine registered methods) with their certified N-step rates at the
network's depth; the primary endpoint and the tie rules; the pilot (two seeds of every
candidate, run into ``DIR/pilot``, never reused in the verdict) and the power analysis by
simulation from its variance (:mod:`.power`), which fixes the number of levels and seeds, or
says by how much the design is underpowered; the verdict rule; ``min_attainable_p``; and the
seeds of the main run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from optnet_nets.hypothesis.levels import (
    Level,
    candidate_levels,
    certified_speed,
    choose_levels,
    network_refusal,
    registered_methods,
)
from optnet_nets.hypothesis.power import (
    TARGET_POWER,
    TARGET_RHO,
    Design,
    pilot_variance,
    simulate_power,
)
from optnet_nets.hypothesis.rank_statistics import ALPHA, VERDICTS, min_attainable_p
from optnet_nets.hypothesis.runner import DIVERGED_RULE, quality_table, run_grid, tasks_for
from optnet_nets.hypothesis.settings import Setting, get_setting
from optnet_theory.errors import OptnetError
from optnet_theory.paper_values import SIMULATION_HB_BETA

__all__ = ["PILOT_SEEDS", "SCHEMA", "VERDICT_RULE", "make_plan", "read_plan"]

SCHEMA = "optnet.hypothesis-plan/1"
#: the pilot's seeds: disjoint from the main run's (0, 1, ...).
PILOT_SEEDS: tuple[int, ...] = (1000, 1001)
#: how many level candidates the pilot and the power analysis may use at most.
MAX_LEVELS = 24
VERDICT_RULE = (
    "rank the methods by certified N-step rate (ties: overlapping certified intervals) and by "
    "mean quality over the main seeds (ties: differences smaller than the standard error of "
    "the paired seed difference); rho = Spearman correlation of the two rankings (the "
    "hypothesis predicts rho > 0: faster, better); p = exact two-sided permutation p over the "
    f"methods (every permutation for n <= 9, else 10^5); 95 % seed-bootstrap interval of rho. "
    f"'{VERDICTS[3]}' when 2/n! >= {ALPHA}; '{VERDICTS[0]}' when rho > 0, p < {ALPHA} and the "
    f"interval lies above 0; '{VERDICTS[1]}' when rho < 0, p < {ALPHA} and the interval lies "
    f"below 0; otherwise '{VERDICTS[2]}'."
)
TIE_RULE = ("quality differences smaller than their seed standard error (of the paired "
            "difference) are ties; certified rates whose intervals overlap are ties")


def _class_mu(setting: Setting, given: float | None) -> tuple[float, str]:
    if given is not None:
        return given, "given"
    if setting.mu is not None:
        return setting.mu, "the setting's (1/kappa, as the method-nets use)"
    from optnet_nets.simulate import SimulateConfig, quick_config
    from optnet_nets.simulate.config import curvature_mu

    cfg = quick_config() if "--quick" in setting.flags else SimulateConfig()
    flags = dict(zip(setting.flags[::2], setting.flags[1::2], strict=False))
    dim = int(flags.get("--dim", cfg.dim))
    return curvature_mu(cfg.init, dim, cfg.activation), (
        f"curvature of the energy (8) for seed 0's initial W ({cfg.init}, d = {dim}), "
        f"as optnet simulate takes it")


def _say(progress: bool, line: str) -> None:
    if progress:
        print(line, file=sys.stderr, flush=True)


def make_plan(setting_name: str, out: Path, *, mu: float | None = None,
              max_seeds: int = 8, min_levels: int = 0, min_seeds: int = 2,
              simulations: int = 200, executor: Any = None, threads: int | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Certify, pilot, size and write ``out/plan.json`` (module docstring). ``min_levels`` and
    ``min_seeds``: a floor on the design whatever the power analysis asks (the issue's real
    run asks at least 20 levels x 3 seeds); the power of the design run is recorded."""
    setting = get_setting(setting_name)
    if (out / "plan.json").exists():
        raise OptnetError(f"{out / 'plan.json'} exists: a plan is fixed once; use another --out")
    mu, mu_source = _class_mu(setting, mu)
    if not 0 < mu < 1:
        raise OptnetError(f"the class needs 0 < mu < 1 (L = 1), got mu = {mu}")
    _say(progress, f"certifying the registered methods and the family members at N = "
                   f"{setting.depth}, mu = {mu:.4g} ...")
    fixed, excluded = [], []
    for m in registered_methods(SIMULATION_HB_BETA if setting.kind == "table2" else None):
        refusal = network_refusal(m, setting.depth, mu) if setting.kind == "images" else None
        if refusal is not None:  # the rule builds no CNN of it: nothing to train
            excluded.append({"name": m.name, "reason": refusal})
            _say(progress, f"  {m.name}: left out, no methodnet ({refusal})")
            continue
        try:
            fixed.append(certified_speed(m, setting.depth, mu))
        except OptnetError as exc:  # no checked certificate: it cannot be ranked by speed
            excluded.append({"name": m.name, "reason": str(exc)})
            _say(progress, f"  {m.name}: left out, no checked certificate ({exc})")
    candidates = candidate_levels(setting.depth, mu, progress=progress)
    pool = choose_levels(candidates, min(MAX_LEVELS, _max_disjoint(candidates)))
    piloted = pool if setting.pilot_levels is None else _even(pool, setting.pilot_levels)
    _say(progress, f"{len(pool)} candidate levels with disjoint intervals; piloting "
                   f"{len(piloted)} of them and the {len(fixed)} registered methods on seeds "
                   f"{list(PILOT_SEEDS)} ...")
    pilot_methods = piloted + fixed
    run_grid(setting, tasks_for(setting, pilot_methods, PILOT_SEEDS, mu, out / "pilot",
                                workers=2, threads=threads), out / "pilot", executor, threads)
    table, _ = quality_table(setting, pilot_methods, PILOT_SEEDS, out / "pilot")
    sigma_between, sigma_seed = pilot_variance(table)
    _say(progress, f"pilot: sigma between methods {sigma_between:.3g}, seed noise "
                   f"{sigma_seed:.3g}; simulating the power of each design ...")
    most = len(pool) if setting.max_levels is None else min(len(pool), setting.max_levels)
    level_counts = sorted({c for c in (8, 12, 16, 20, len(pool)) if 2 <= c <= most} | {most})
    seed_counts = [s for s in (2, 3, 5, 8) if s <= max_seeds]
    designs = simulate_power([math.log(m.mid) for m in pool],
                             [math.log(m.mid) for m in fixed], sigma_between, sigma_seed,
                             level_counts=level_counts, seed_counts=seed_counts,
                             simulations=simulations)
    chosen, statement = _choose(designs)
    if chosen.levels < min_levels or chosen.seeds < min_seeds:
        floor = Design(max(chosen.levels, min(min_levels, len(pool))),
                       max(chosen.seeds, min_seeds), 0, 0.0, 0.0)
        rates = [math.log(m.mid) for m in _even(pool, floor.levels)] + [
            math.log(m.mid) for m in fixed]
        from optnet_nets.hypothesis.power import power_of

        power = power_of(rates, floor.seeds, sigma_between, sigma_seed, simulations=simulations)
        chosen = Design(floor.levels, floor.seeds, len(rates), power,
                        min_attainable_p(len(rates)))
        floor_asked = " x ".join(part for part in (
            f"{min_levels} levels" if min_levels else "", f"{min_seeds} seeds") if part)
        statement += (f"; raised to the floor of {floor_asked} asked for: {chosen.methods} "
                      f"methods x {chosen.seeds} seeds, simulated power {chosen.power:.2f}")
    levels = _even(pool, chosen.levels)
    methods = levels + fixed
    plan = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(),
        "setting": setting.to_json(),
        "class": {"L": 1.0, "mu": mu, "mu_source": mu_source},
        "speed_measure": (f"certified N-step rate (||x_N - x*||^2)^(1/(2N)) at N = "
                          f"{setting.depth} (the network's depth), L-smooth mu-strongly convex "
                          f"class, checked interval (time-varying methods included); smaller "
                          f"is faster"),
        "methods": [m.to_json() for m in methods],
        "excluded": excluded,
        "endpoint": setting.endpoint,
        "tie_rule": TIE_RULE,
        **({"diverged_rule": DIVERGED_RULE} if setting.kind == "images" else {}),
        "pilot": {"seeds": list(PILOT_SEEDS), "methods": [m.name for m in pilot_methods],
                  "quality": table.tolist(), "sigma_between": sigma_between,
                  "sigma_seed": sigma_seed},
        "power": {"target_rho": TARGET_RHO, "target_power": TARGET_POWER, "alpha": ALPHA,
                  "simulations": simulations, "designs": [d.to_json() for d in designs],
                  "chosen": chosen.to_json(), "statement": statement},
        "seeds": list(range(chosen.seeds)),
        "verdict_rule": VERDICT_RULE,
        "min_attainable_p": min_attainable_p(len(methods)),
    }
    from optnet_theory.atomic import write_json

    write_json(out / "plan.json", plan)
    return plan


def _max_disjoint(candidates: list[Level]) -> int:
    ordered = sorted(candidates, key=lambda c: c.rate[0])
    count, edge = 0, -math.inf
    for c in ordered:
        if c.rate[0] > edge:
            count, edge = count + 1, c.rate[1]
    return count


def _even(pool: list[Level], count: int) -> list[Level]:
    idx = sorted({round(i * (len(pool) - 1) / max(count - 1, 1)) for i in range(count)})
    return [replace(pool[i]) for i in idx]


def _choose(designs: list[Design]) -> tuple[Design, str]:
    """The cheapest design (methods x seeds) with the target power, else the most powerful."""
    good = [d for d in designs if d.power >= TARGET_POWER]
    if good:
        best = min(good, key=lambda d: (d.methods * d.seeds, -d.power))
        return best, (f"{best.levels} levels + the registered methods ({best.methods} methods) "
                      f"x {best.seeds} seeds reach power {best.power:.2f} >= {TARGET_POWER} for "
                      f"rho = {TARGET_RHO} (simulated)")
    best = max(designs, key=lambda d: (d.power, -d.methods * d.seeds))
    return best, (f"UNDERPOWERED: the best design ({best.methods} methods x {best.seeds} "
                  f"seeds) reaches power {best.power:.2f} for rho = {TARGET_RHO}, short of "
                  f"{TARGET_POWER} by {TARGET_POWER - best.power:.2f}; said before the run")


def read_plan(folder: Path) -> dict[str, Any]:
    path = folder / "plan.json"
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OptnetError(f"{path}: not a plan ({exc}); run `optnet hypothesis plan` first") \
            from None
    if not isinstance(plan, dict) or plan.get("schema") != SCHEMA:
        raise OptnetError(f"{path}: not a plan of schema {SCHEMA}")
    return plan
