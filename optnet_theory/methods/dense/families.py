"""Families of methods with one parameter: a continuous path of graded speed.

``blend(a, b, t)``: the dense form h(t) = (1 - t) h_a + t h_b (:mod:`.history`), at the
horizon it is bound for; t = 0 is a and t = 1 is b. Its family string is ``blend:a:b:t``,
accepted wherever a method name is (:mod:`.names`). Blends of time-varying methods (OGM) have
no Lyapunov rate; their certified speed is their N-step rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optnet_theory.errors import OptnetError
from optnet_theory.methods.core import Method
from optnet_theory.methods.dense.history import dense_h, history_spec
from optnet_theory.methods.spec import MethodSpec, Params, Step

__all__ = ["BLEND", "FamilySpec", "blend_methods", "blend_spec"]

#: the family string's prefix.
BLEND = "blend"


@dataclass(frozen=True)
class FamilySpec(MethodSpec):
    """A family member whose dense form depends on the horizon: binding it with N realises
    the method (:func:`~optnet_theory.methods.dense.history.history_spec` of its h at that N)."""

    realize: Callable[[float, float, int], list[list[float]]] | None = None

    def bind(self, *, L: float = 1.0, mu: float | None = None, N: int | None = None,
             **params: Any) -> Method:
        if N is None:
            raise OptnetError(f"{self.name} needs its horizon N (the number of gradient calls)")
        if params:
            raise OptnetError(f"{self.name} has no parameters; got {', '.join(params)}")
        assert self.realize is not None
        mu = self.default_mu * L if mu is None else mu
        h = self.realize(L, mu, N)
        return history_spec(self.name, h, source=self.source,
                            function_class=self.function_class,
                            metric=self.metric).bind(L=L, mu=mu)


def blend_spec(a: MethodSpec, b: MethodSpec, t: float) -> FamilySpec:
    """The family member at ``t`` of the blend of ``a`` and ``b`` (module docstring)."""
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise OptnetError(f"a blend's t must be a finite number, got {t!r}")
    if not 0.0 <= t <= 1.0:
        raise OptnetError(f"a blend's t must lie in [0, 1] (0 is the first method, 1 the "
                          f"second), got {t}")
    strong = "smooth-strongly-convex" in (a.function_class, b.function_class)

    def realize(L: float, mu: float, N: int) -> list[list[float]]:
        ha = dense_h(a.bind(L=L, mu=mu, N=N if a.needs_horizon else None), N)
        hb = dense_h(b.bind(L=L, mu=mu, N=N if b.needs_horizon else None), N)
        return [[(1 - t) * x + t * y for x, y in zip(ra, rb, strict=True)]
                for ra, rb in zip(ha, hb, strict=True)]

    return FamilySpec(
        name=f"{BLEND}:{a.name}:{b.name}:{t:g}",
        source=f"the dense form (1 - t) h_{a.name} + t h_{b.name}, t = {t:g}",
        function_class="smooth-strongly-convex" if strong else "smooth-convex",
        initial=(1.0,),  # realised at bind time: N + 1 slots
        schedule=_unrealised,
        output="x",
        metric=a.metric if a.metric == b.metric else "distance" if strong else "function-gap",
        guarantee="the certificate of `optnet certify` (no published bound)",
        equation="(18): x_{k+1} = x_k - sum_j h_{k,j}(t) grad f(x_j)/L",
        network="(18)",
        needs_horizon=True,
        default_mu=a.default_mu or b.default_mu,
        realize=realize,
    )


def _unrealised(_j: int, _p: Params) -> Step:
    raise OptnetError("a family member runs only once bound to a horizon N")


def blend_methods(a: str | Method, b: str | Method, t: float) -> MethodSpec | Method:
    """The blend of ``a`` and ``b`` at ``t`` (module docstring).

    Names (registered names or method files): the family member as a description, realised
    when bound with its horizon (``blend_methods("gd", "ogm", 0.5).bind(N=6)``). Bound methods
    (:func:`~optnet_theory.get_method` with the same L, mu and horizon N): the bound blend,
    h = (1 - t) h_a + t h_b of their own dense forms.
    """
    from optnet_theory.methods.names import resolve_spec

    if isinstance(a, str) and isinstance(b, str):
        return blend_spec(resolve_spec(a), resolve_spec(b), t)
    if not (isinstance(a, Method) and isinstance(b, Method)):
        raise OptnetError("blend_methods takes two method names or two bound methods "
                          f"(get_method(..., N=...)), got {type(a).__name__} and "
                          f"{type(b).__name__}")
    if (a.L, a.mu) != (b.L, b.mu) or a.N is None or a.N != b.N:
        raise OptnetError(f"blend_methods needs two methods bound with the same L, mu and "
                          f"horizon N, got {a!r} and {b!r}")
    spec = blend_spec(a.spec, b.spec, t)
    h = [[(1 - t) * x + t * y for x, y in zip(ra, rb, strict=True)]
         for ra, rb in zip(dense_h(a, a.N), dense_h(b, b.N), strict=True)]
    return history_spec(spec.name, h, source=spec.source, function_class=spec.function_class,
                        metric=spec.metric).bind(L=a.L, mu=a.mu)
