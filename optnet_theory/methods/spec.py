"""The description of a method: its coefficients' schedule and what it is for.

A :class:`MethodSpec` is the data of one fixed-step first-order method in the linear form of
:mod:`optnet_theory.methods.core`: a schedule j -> :class:`Step` (A_j, B_j, C_j, D_j, written
with the operations of an :class:`~optnet_theory.methods.arith.Arith`), the start xi_0, the
function class it is designed for, its output and the quantity its guarantee bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.methods.arith import Arith
from optnet_theory.validation import check_int

if TYPE_CHECKING:  # pragma: no cover
    from optnet_theory.methods.core import Method

__all__ = [
    "FUNCTION_CLASSES",
    "METRICS",
    "CheckedAnalytic",
    "Feedback",
    "MethodSpec",
    "Params",
    "RateVariant",
    "Reference",
    "Schedule",
    "Step",
]

#: function classes a method is designed for -> description.
FUNCTION_CLASSES: dict[str, str] = {
    "smooth-convex": "L-smooth convex",
    "smooth-strongly-convex": "L-smooth and mu-strongly convex",
}

#: quantities a guarantee bounds -> (performance metric, initial condition it is relative to).
METRICS: dict[str, tuple[str, str]] = {
    "function-gap": ("f(x_N) - f*", "||x_0 - x*||^2 <= 1"),
    "distance": ("||x_N - x*||^2", "||x_0 - x*||^2 <= 1"),
    "gradient-norm": ("||grad f(x_N)||^2", "f(x_0) - f* <= 1"),
}


@dataclass(frozen=True)
class Step:
    """Coefficients of sub-step j: A (m x m rows), B, C, D (length m), in one arithmetic."""

    A: tuple[tuple[Any, ...], ...]
    B: tuple[Any, ...]
    C: tuple[Any, ...]
    D: tuple[Any, ...]


@dataclass
class Params:
    """A method's parameters in one arithmetic, with a cache for its scalar sequences.

    ``L``, ``mu``: the function class constants; ``N``: the horizon (None when not needed);
    ``values``: the method's own parameters (e.g. beta of (2)); ``ar``: the arithmetic;
    ``last``: the last sub-step asked for (its C and D are read, its A and B are not).
    """

    ar: Arith
    L: Any
    mu: Any
    N: int | None
    values: dict[str, Any]
    last: int = 0
    _cache: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def sequence(self, name: str, build: Callable[[Params], Any]) -> Any:
        """``build(self)`` computed once per arithmetic and parameters (e.g. a theta schedule)."""
        if name not in self._cache:
            self._cache[name] = build(self)
        return self._cache[name]


Schedule = Callable[[int, Params], Step]
#: what a run feeds back at sub-step j: the gradient u_j (an oracle) or T(y_j) (a network).
Feedback = Callable[[int, np.ndarray], np.ndarray]
Analytic = Callable[["Method", int], "float | None"]
#: scalar recursion steps a schedule computes to give sub-steps 0..J at horizon N.
Work = Callable[[int, "int | None"], int]


@dataclass(frozen=True)
class CheckedAnalytic:
    """A method's published bound, called as given, whose value must be a real number or None:
    anything else is an :class:`OptnetError` naming the method (not a TypeError later)."""

    method: str
    bound: Analytic

    def __call__(self, method: Method, steps: int) -> float | None:
        value = self.bound(method, steps)
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or math.isnan(number):
            raise OptnetError(
                f"method {self.method!r}: its analytic bound after {steps} steps is "
                f"{value!r}, not a number; analytic must return a real number or None"
            )
        return number


@dataclass(frozen=True)
class RateVariant:
    """One variant of a method in ``optnet rates`` and ``optnet certify --table``.

    Its name is the method's, or ``name-suffix``; ``equation`` and ``choice`` are the table's
    columns (the network equation, the momentum choice in words); ``slope`` the slope of layers
    against kappa the theory predicts (None: none). ``params(L, mu)`` gives the method's
    parameters on the instance (None: its defaults). ``published`` is the published linear rate
    of ||x_k - x*|| (rate of kappa, the formula as printed, its source), where one exists.
    ``table2``: the variant that runs the method as Table 2's structure does (its parameters).
    """

    suffix: str
    equation: str
    choice: str
    slope: float | None
    params: Callable[[float, float], dict[str, Any]] | None = None
    published: tuple[Callable[[float], float], str, str] | None = None
    table2: bool = False

    def name(self, method: str) -> str:
        """The variant's name for the method named ``method``."""
        return f"{method}-{self.suffix}" if self.suffix else method


@dataclass(frozen=True)
class Reference:
    """A problem (function class, metric, initial condition) whose reference bound is this
    method's, and whether that bound is a proven optimum over all fixed-step methods."""

    function_class: str
    metric: str
    initial: str
    proven: bool


@dataclass(frozen=True)
class MethodSpec:
    """The description of a method, everything from which the rest is generated.

    ``schedule(j, p)`` gives the coefficients of sub-step j (j = 0, 1, ...; for a horizon method
    also j = s N, whose C and D read out the last point). ``initial`` has one multiplier of x_0
    per state slot. ``output`` names the output point (e.g. "y" for OGM), ``metric`` the quantity
    its guarantee bounds (a key of :data:`METRICS`), ``guarantee`` that guarantee in words.
    ``params`` are the method's own parameters with defaults (floats; a default may be a
    callable of (L, mu) for step sizes like 1/L). ``analytic(method, N)`` is the published
    worst case of ``metric`` after N iterations, where one exists (its value is checked, see
    :class:`CheckedAnalytic`). ``work(J, N)`` is how many scalar recursion steps the schedule
    computes to give sub-steps 0..J at horizon N (default J: schedules are computed as far as
    a run goes; OGM-G's runs backwards from N), for the cost estimate of a run. ``horizon``: a
    method given for a fixed number of iterations only (its dense form, :mod:`.history`); a
    longer run is refused.

    The last fields say where the method appears, so that every list of methods is derived from
    the registry when it is used: ``network_prefix`` (its CNN family, built by Sec. 6's rule),
    ``rate_variants`` (:class:`RateVariant`), ``reference_for`` (:class:`Reference`, for
    ``optnet design``), ``claim`` (the paper's claim that checks it, for a method of the paper)
    and ``error_growth`` (the power of K+1 in ``optnet verify``'s tolerance: 1 where errors grow
    linearly with depth, 2 for methods with momentum).
    """

    name: str
    source: str
    function_class: str
    initial: tuple[float, ...]
    schedule: Schedule
    output: str
    metric: str
    guarantee: str
    params: Mapping[str, Any] = field(default_factory=dict)
    needs_horizon: bool = False
    substeps: int = 1
    equation: str | None = None
    network: str | None = None  # the paper's network equation it generates, e.g. "(11)"
    slots: tuple[str, ...] = ()
    analytic: Analytic | None = None
    rate: str | None = None
    check: Callable[[float, float, dict[str, Any]], None] | None = None
    work: Work | None = None
    horizon: int | None = None  # defined for this many iterations only (a method file, a blend)
    default_mu: float = 0.0  # mu/L when none is given (a method made for a strongly convex class)
    # -- where the method appears (each list outside this package is derived from these) --
    network_prefix: str | None = None  # its CNN family by Sec. 6's rule, e.g. "ogmnet" -> ogmnet20
    rate_variants: tuple[RateVariant, ...] = ()  # its rows of ``optnet rates``/``certify --table``
    reference_for: tuple[Reference, ...] = ()  # problems whose reference bound is this method's
    claim: tuple[str, str] | None = None  # the paper's claim checking it: (name, what it checks)
    error_growth: int = 2  # p in verify's tolerance C u n (K+1)^p kappa(U)
    #: the number of state slots: len(initial) unless given (a keyword, checked against it)
    state_size: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        if not callable(self.schedule):
            raise OptnetError(f"method {self.name!r}: schedule must be a function (j, params) "
                              f"-> Step, got {type(self.schedule).__name__}")
        if self.analytic is not None and not isinstance(self.analytic, CheckedAnalytic):
            if not callable(self.analytic):
                raise OptnetError(f"method {self.name!r}: analytic must be a function "
                                  f"(method, N) -> number, got {type(self.analytic).__name__}")
            object.__setattr__(self, "analytic", CheckedAnalytic(self.name, self.analytic))
        if self.function_class not in FUNCTION_CLASSES:
            raise OptnetError(
                f"method {self.name!r}: function_class must be one of "
                f"{', '.join(FUNCTION_CLASSES)}, got {self.function_class!r}"
            )
        if self.metric not in METRICS:
            raise OptnetError(
                f"method {self.name!r}: metric must be one of {', '.join(METRICS)}, "
                f"got {self.metric!r}"
            )
        check_int(self.substeps, f"method {self.name!r}: substeps", 1)
        if not isinstance(self.initial, (tuple, list)) or not self.initial:
            raise OptnetError(
                f"method {self.name!r}: initial must give one multiplier of x_0 per state slot, "
                f"e.g. (1.0, 1.0); got {self.initial!r}"
            )
        sizes = {"initial": len(self.initial), "slots": len(self.slots),
                 "state_size": self.state_size}
        if self.state_size == 0:
            object.__setattr__(self, "state_size", len(self.initial))
        check_int(self.state_size, f"method {self.name!r}: state_size", 1)
        stated = {what: n for what, n in sizes.items() if n}  # slots and state_size optional
        if len(set(stated.values())) > 1:
            raise OptnetError(
                f"method {self.name!r}: the number of state slots disagrees ("
                + ", ".join(f"{what} {n}" for what, n in stated.items())
                + "); give one entry of initial (a multiplier of x_0, e.g. (1.0, 1.0)) and of "
                "slots per slot"
            )
        for value in self.initial:
            try:
                finite = not isinstance(value, bool) and math.isfinite(float(value))
            except (TypeError, ValueError):
                finite = False
            if not finite:
                raise OptnetError(
                    f"method {self.name!r}: initial holds {value!r}; each entry is a finite "
                    "real multiplier of x_0"
                )

    def describe(self) -> dict[str, Any]:
        """The record printed by ``optnet methods --json``."""
        return {
            "name": self.name,
            "source": self.source,
            "equation": self.equation,
            "network": self.network,
            "function_class": self.function_class,
            "function_class_text": FUNCTION_CLASSES[self.function_class],
            "state_size": self.state_size,
            "substeps": self.substeps,
            "slots": list(self.slots),
            "output": self.output,
            "metric": self.metric,
            "guarantee": self.guarantee,
            "rate": self.rate,
            "needs_horizon": self.needs_horizon,
            "horizon": self.horizon,
            "params": {
                k: (getattr(v, "__doc__", None) or repr(v)) if callable(v) else v
                for k, v in self.params.items()
            },
        }

    def bind(
        self, *, L: float = 1.0, mu: float | None = None, N: int | None = None, **params: Any
    ) -> Method:
        """This method for the class constants (L, mu), horizon N and parameters ``params``;
        mu defaults to ``default_mu`` L."""
        from optnet_theory.methods.core import Method

        mu = self.default_mu * L if mu is None else mu
        return Method(self, L=L, mu=mu, N=N, params=params)
