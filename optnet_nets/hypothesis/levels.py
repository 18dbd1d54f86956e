"""Methods of graded certified speed: the registered nine and family members between them.

The certified speed of a method is its N-step rate (||x_N - x*||^2)^(1/(2N)) at the network's
depth N, on the L-smooth mu-strongly convex class (L = 1, the experiment's mu), from the
checked interval of :func:`optnet_theory.certify.certify` (through the certificate cache). It
exists for every method, time-varying ones (OGM, a blend) included, where a Lyapunov rate does
not; the Lyapunov rate is recorded beside it where the method has one.

Levels are members of families ``blend:gd:X:t`` (:mod:`optnet_theory.methods.dense.families`) whose
certified intervals are pairwise disjoint ("distinct beyond their certification accuracy"),
chosen evenly in log-rate between the slowest and the fastest candidate.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.lazy import computed_names

__all__ = ["Level", "families", "candidate_levels", "certified_speed", "choose_levels",
           "network_refusal", "registered_methods"]



def families() -> tuple[str, ...]:
    """The families levels are drawn from: blend:gd:X:t for these X, the registered methods
    with a CNN family (a ``network_prefix``), sorted by name; read when called."""
    from optnet_theory.methods import get_spec, list_methods

    return tuple(sorted(n for n in list_methods() if get_spec(n).network_prefix is not None))


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"FAMILIES": families})


#: the family parameters tried.
GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))


@dataclass
class Level:
    """One method of the experiment: its name (the method grammar), parameters, certified
    N-step rate interval, Lyapunov rate (or None) and where it comes from."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    rate: tuple[float, float] = (math.nan, math.nan)
    lyapunov: float | None = None
    origin: str = "level"

    @property
    def mid(self) -> float:
        return 0.5 * (self.rate[0] + self.rate[1])

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["rate"] = list(self.rate)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Level:
        return cls(str(data["name"]), dict(data.get("params") or {}),
                   (float(data["rate"][0]), float(data["rate"][1])), data.get("lyapunov"),
                   str(data.get("origin", "level")))


def registered_methods(hb_beta: float | None) -> list[Level]:
    """The registered methods with the parameters their networks use: Table 2's hb has
    ``hb_beta``; None: every method at its defaults (the CNNs of ``methodnet``)."""
    from optnet_theory.methods import list_methods
    from optnet_theory.methods.catalogue.paper import HB

    out = []
    for name in list_methods():
        params = {"beta": hb_beta} if name == HB.name and hb_beta is not None else {}
        out.append(Level(name, params, origin="registered"))
    return out


def network_refusal(level: Level, depth: int, mu: float) -> str | None:
    """Why the Sec. 6 rule builds no ``methodnet`` layers of ``level`` at ``depth`` (its
    one-line reason), or None when it does
    (:func:`~optnet_nets.models.method_rule.relaxed_schedule`)."""
    from optnet_nets.models.method_rule import relaxed_schedule
    from optnet_theory.methods import get_method, get_spec

    spec = get_spec(level.name)
    try:
        relaxed_schedule(get_method(level.name, L=1.0, mu=mu, N=depth if spec.needs_horizon
                                    else None, **level.params), depth)
    except OptnetError as exc:
        return str(exc)
    return None


def certified_speed(level: Level, depth: int, mu: float) -> Level:
    """``level`` with its certified N-step rate at N = ``depth`` (and Lyapunov rate) filled."""
    from optnet_theory.certify import certify_rate
    from optnet_theory.certify.cache import cached_certify
    from optnet_theory.methods import get_method, get_spec

    spec = get_spec(level.name)
    method = get_method(level.name, L=1.0, mu=mu, N=depth * spec.substeps
                        if spec.needs_horizon else None, **level.params)
    cert = cached_certify(method, depth, metric="distance")
    lyapunov = None
    if not spec.needs_horizon and spec.horizon is None:
        lyapunov = certify_rate(method).rate
    return Level(level.name, level.params, (cert.n_step_rate[0], cert.n_step_rate[1]),
                 lyapunov, level.origin)


def candidate_levels(depth: int, mu: float, *, progress: bool = False) -> list[Level]:
    """Every family member blend:gd:X:t (X in :func:`families`, t in :data:`GRID`) that
    certifies, with its speed."""
    out = []
    for family in families():
        for t in GRID:
            name = f"blend:gd:{family}:{t:g}"
            try:
                out.append(certified_speed(Level(name), depth, mu))
            except OptnetError as exc:
                if progress:
                    print(f"  {name}: not certified ({exc})", file=sys.stderr)
                continue
            if progress:
                lo, hi = out[-1].rate
                print(f"  {name}: N-step rate in [{lo:.6f}, {hi:.6f}]", file=sys.stderr,
                      flush=True)
    return out


def _disjoint(a: Level, b: Level) -> bool:
    return a.rate[1] < b.rate[0] or b.rate[1] < a.rate[0]


def choose_levels(candidates: Sequence[Level], count: int) -> list[Level]:
    """``count`` candidates with pairwise disjoint intervals, as evenly spread in log-rate as
    the candidates allow (the slowest and the fastest first, then nearest to even targets)."""
    pool = sorted((c for c in candidates if c.mid > 0), key=lambda c: c.mid)
    if count < 2 or len(pool) < count:
        raise OptnetError(f"asked for {count} levels from {len(pool)} certified candidates")
    lo, hi = math.log(pool[0].mid), math.log(pool[-1].mid)
    targets = [lo + (hi - lo) * k / (count - 1) for k in range(count)]
    chosen: list[Level] = []
    for target in targets:
        free = [c for c in pool if c not in chosen and all(_disjoint(c, d) for d in chosen)]
        if not free:
            break
        chosen.append(min(free, key=lambda c: abs(math.log(c.mid) - target)))
    if len(chosen) < count:
        raise OptnetError(f"only {len(chosen)} candidates have pairwise disjoint certified "
                          f"intervals; asked for {count}")
    return sorted(chosen, key=lambda c: c.mid)
