"""Numerical checks of Lemma 1 and the unrollings (11)-(14), layer by layer, for every method.

The trials (W, U, x_0) are drawn in :mod:`optnet_theory.verify.settings`; the method
generation itself lives in :mod:`optnet_theory.methods`.

For an activation (anything :func:`~optnet_theory.derive_energy` accepts) and an SPD matrix W,
each claim runs Lemma 1's three steps, using the energy's own gradient (9):

1. z_0 = U x_0 with U = sqrt(W),
2. the method on f of (8), generated from its description (:mod:`optnet_theory.methods`): GD
   (1), HB (2), AGD (3), AGD summed (4)+(5), linearized ADMM (6), and every other registered
   method (ogm, ogmg, tmm, item, ...),
3. x_k = U^{-1} z_k,

and compares x_0..x_K with the tied-weight network the same description generates, fed
Phi(W x) directly: (7), (11), (12), (13), (14) and the networks of the other methods. The
claim ``nesterov-forms`` compares the y-iterates of (3) with those of (4)+(5) on f itself. In
(12) the network states are the z_k of (3); in (13) they are its y_k (the two networks are the
same algorithm but output different sequences). The tied-weight networks of the new methods
(ogm, ogmg, tmm, item) are bounded by the same tolerance as the momentum claims (p = 2).

Error measure, per trial: ``abs`` = max_k ||a_k - b_k||_inf and ``rel`` = abs / max_k ||b_k||_inf
(normwise over all layers). A claim passes when every trial has

    rel <= TOLERANCE_FACTOR * u * n * (K + 1)^p * kappa(U),

u the unit roundoff of the arithmetic (2^-53, or mpmath's eps at the chosen digits), n the
dimension, K the depth and kappa(U) = sqrt(cond W) (1 for ``nesterov-forms``, which does not
change variables). The factors: n * u bounds the rounding of each length-n inner product;
kappa(U) because x = U^{-1} z magnifies a relative error in z by up to cond(U); and (K + 1)^p
because each layer injects such an error and later layers carry it forward: without growth
(p = 1) for GD and ADMM, whose layers are non-expansive for the W drawn here, and with up to
linear growth (p = 2) under momentum (AGD on a convex quadratic amplifies a perturbation by
O(k) as beta_k -> 1; HB's constant beta, 0.3 by default but any value via ``beta``, is
treated the same way). Over 400 random settings (dims 1-32, depths 1-40, cond <= 1e3, random
registry activations) the largest rel was 0.066 of this bound. A formula error instead shows
up at the size of the perturbation (e.g. 1e-4 for beta off by 1e-3), orders of magnitude
above it; at 50 digits the bound is below 1e-40. A check whose bound would exceed
``MAX_TOLERANCE`` = 1e-3 is refused with the condition number (issue 24): it would pass
whatever the two sides are.

W is drawn (when not given) with spectrum geometrically spaced in [1/(c cond), 1/c], c the
Lipschitz constant of Phi (estimated on a grid), so each layer x -> Phi(W x) is non-expansive
and the iterates stay bounded. A W that is not symmetric positive definite is refused (Lemma 1
needs U = sqrt(W)) unless ``general_w=True``: then U is the principal square root (U U = W, U
not symmetric), the "gradient" is z - U Phi(U z) as printed in (9), which is no longer the
gradient of (8) or of any function, so the identities hold algebraically but the optimization
reading (an objective, convergence rates) is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import mpmath
import numpy as np

from optnet_theory.errors import OptnetError
from optnet_theory.lazy import computed_names
from optnet_theory.methods import Method, get_method, get_spec, list_methods
from optnet_theory.methods.catalogue.paper import (  # the two forms (3) and (4) of one method
    AGD,
    AGD2,
)
from optnet_theory.paper_values import SIMULATION_HB_BETA
from optnet_theory.validation import check_int
from optnet_theory.verify.settings import MAX_DRAWN_COND, Setting, make_settings

__all__ = [  # and CLAIMS, PAPER_CLAIMS: computed when read (module __getattr__)
    "FORMS_CLAIM",
    "MAX_TOLERANCE",
    "MAX_DRAWN_COND",
    "TOLERANCE_FACTOR",
    "ClaimResult",
    "Setting",
    "claim_error",
    "list_claims",
    "paper_claims",
    "make_settings",
    "verify_all",
    "verify_claim",
]

#: the claim that compares two of the paper's forms, not a method with its network.
FORMS_CLAIM = "nesterov-forms"


def paper_claims() -> dict[str, str]:
    """The paper's claims -> the method whose run on f is checked against its generated network
    (each method's :attr:`~optnet_theory.methods.MethodSpec.claim`)."""
    out = {}
    for name in list_methods():
        spec = get_spec(name)
        if spec.claim is not None:
            out[spec.claim[0]] = name
    return out


def list_claims() -> dict[str, str]:
    """Claim name -> what it checks: the paper's claims, the forms (3) = (4), then one per
    other registered method (read when called: a method registered later has its claim)."""
    paper = {}
    for name in list_methods():
        spec = get_spec(name)
        if spec.claim is not None:
            paper[spec.claim[0]] = spec.claim[1]
    mapped = set(paper_claims().values())
    return {
        **paper,
        FORMS_CLAIM: "Nesterov (3) = summed form (4) with h of (5)",
        **{name: f"{name} on f = its generated network (Lemma 1)"
           for name in list_methods() if name not in mapped},
    }


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"CLAIMS": list_claims, "PAPER_CLAIMS": paper_claims})


#: mu used for the claims of methods designed for strongly convex f (tmm, item): the
#: equivalence holds for any coefficients, so any 0 < mu < L = 1 exercises it.
CLAIM_MU = 0.1

#: The constant C of the tolerance C * u * n * (K+1)^p * kappa(U) (see the module docstring).
#: 16 = the four length-n roundings of steps 1 and 3 (U and U^{-1} from one eigendecomposition,
#: two matrix-vector products), each at most about n u kappa(U), with a factor 4 to spare.
TOLERANCE_FACTOR = 16.0

#: Largest tolerance accepted: past it, a check cannot fail in any useful sense (issue 24).
MAX_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of one claim over all trials (errors are maxima over trials and layers)."""

    claim: str
    max_abs_error: float
    max_rel_error: float
    passed: bool
    trials: int
    precision: str | int  # "float64" or the number of mpmath digits
    tolerance: float  # bound on max_rel_error
    activation: str
    dim: int
    depth: int
    cond: float  # cond_2(W); for a general W, max |eigenvalue| / min |eigenvalue|
    general_w: bool

    def to_json(self) -> dict[str, Any]:
        """The record printed by ``optnet verify --json``."""
        return asdict(self)


def resolve_claim(claim: str) -> str:
    """The claim name for ``claim``: a claim, or a method name (gd -> lemma1; any registered)."""
    if claim in list_claims():
        return claim
    for name, method in paper_claims().items():
        if claim == method:
            return name
    if claim in list_methods():  # registered by the user after import
        return claim
    if claim.startswith("blend:") or claim.lower().endswith(".json"):
        get_spec(claim)  # a family string or a method file: the one name grammar
        return claim
    raise OptnetError(
        f"unknown claim {claim!r}; choose from {', '.join(list_claims())} or a method name "
        f"({', '.join(list_methods())})"
    )


def claim_method(claim: str, beta: Any = SIMULATION_HB_BETA, depth: int | None = None
                 ) -> Method:
    """The method (L = 1, footnote 3) whose unrolling the claim checks; a method that needs a
    horizon (a family string) is built for ``depth``."""
    name = paper_claims().get(claim, claim)
    spec = get_spec(name)
    if spec.claim is not None and "beta" in spec.params:  # the paper's heavy ball, footnote 3
        return spec.bind(beta=beta, step=1.0)
    mu = None if spec.default_mu else (
        CLAIM_MU if spec.function_class == "smooth-strongly-convex" else 0.0)
    horizon = depth if spec.needs_horizon and spec.horizon is None else None
    return get_method(name, mu=mu, N=horizon)


def claim_depth(claim: str, depth: int) -> int:
    """``depth``, or the horizon of a method given for fewer steps (a method file)."""
    horizon = get_spec(paper_claims().get(claim, claim)).horizon if claim != FORMS_CLAIM \
        else None
    return depth if horizon is None else min(depth, horizon)


def _observed(method: Method, traj: Any) -> list[np.ndarray]:
    """The compared states: the outputs, and for a two-path method (14) both paths."""
    if method.spec.substeps == 1:
        return list(traj.outputs)
    s = method.spec.substeps
    return list(traj.states[::s, 0]) + list(traj.states[::s, 1])


def _pair(claim: str, s: Setting, depth: int, beta: Any, network: Callable[..., Any] | None):
    """(algorithm-side states, network-side states) for one claim and trial.

    Lemma 1's three steps: z_0 = U x_0, the method on f of (8) with the energy's own gradient
    (9), x = U^{-1} z; against the method's network fed Phi(W x) directly.
    """
    K, phi = depth, s.phi
    arithmetic = "float" if s.dps is None else "mp"
    g, z0 = s.gradient(), s.U @ s.x0
    if claim == FORMS_CLAIM:  # both sides are algorithms on f, compared in z
        a = list(
            get_method(AGD.name).trajectory(lambda _j, y: g(y), z0, K, arithmetic=arithmetic,
                                         dps=s.dps).points
        )
        if network is not None:
            return a, network(g, z0, K)
        return a, list(get_method(AGD2.name).run(g, z0, K, arithmetic=arithmetic, dps=s.dps))
    method = claim_method(claim, beta, K)
    traj = method.trajectory(lambda _j, y: g(y), z0, K, arithmetic=arithmetic, dps=s.dps)
    zs = _observed(method, traj)
    a = [s.U_inv @ z for z in zs]
    if network is None:
        b = _observed(method, method.network(phi, s.W, s.x0, K, arithmetic=arithmetic, dps=s.dps))
    elif method.spec.substeps > 1:
        xp, x = network(phi, s.W, s.x0, K)
        b = list(xp) + list(x)
    else:
        b = list(network(phi, s.W, s.x0, K))
    return a, b


def _norm_inf(v: np.ndarray) -> float:
    return float(max((abs(c) for c in np.ravel(v)), default=0.0))


def claim_error(
    claim: str,
    setting: Setting,
    depth: int,
    *,
    beta: Any = SIMULATION_HB_BETA,
    network: Callable[..., Any] | None = None,
) -> tuple[float, float]:
    """(abs, rel) error of one claim on one trial; see the module docstring.

    ``network`` replaces the reference network (signature ``(phi, W, x0, depth)``; for "admm"
    it returns (x' states, x states)), or for "nesterov-forms" the summed form (4)
    (``(grad, y0, depth)``) -- to check that a wrong implementation is caught.
    """
    claim = resolve_claim(claim)
    depth = claim_depth(claim, check_int(depth, "depth", 0))
    if setting.dps is None:
        a, b = _pair(claim, setting, depth, beta, network)
        return _errors(a, b)
    with mpmath.workdps(setting.dps):
        beta_mp = mpmath.mpf(beta)
        a, b = _pair(claim, setting, depth, beta_mp, network)
        return _errors(a, b)


def _finite(v: np.ndarray) -> bool:
    """Whether every entry of a state (float64 or mpmath) is finite."""
    flat = np.ravel(v)
    if flat.dtype != object:
        return bool(np.all(np.isfinite(flat)))
    return all(mpmath.isfinite(c) for c in flat)


def _errors(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> tuple[float, float]:
    """(abs, rel) error of two state sequences; (inf, inf) when any state is not finite.

    A NaN or an overflow on either side voids the comparison (NaN would otherwise vanish in
    max(), and an overflowed reference would make every relative error 0): it is a failure.
    """
    if len(a) != len(b):
        raise OptnetError(f"the two sides have {len(a)} and {len(b)} states; they must match")
    if not all(_finite(v) for v in (*a, *b)):
        return float("inf"), float("inf")
    diff = max((_norm_inf(x - y) for x, y in zip(a, b, strict=True)), default=0.0)
    scale = max((_norm_inf(y) for y in b), default=0.0)
    if scale == 0.0:
        return diff, (0.0 if diff == 0.0 else float("inf"))
    return diff, diff / scale


def _tolerance(claim: str, settings: Sequence[Setting], depth: int) -> float:
    """The bound of the module docstring; a bound over MAX_TOLERANCE is refused: such a check
    passes whatever the two sides are (diag(1e150, 1e-150) gave tolerances of 1e137)."""
    s = settings[0]
    kappa = 1.0 if claim == FORMS_CLAIM else max(t.kappa_u for t in settings)
    n = s.x0.shape[0]
    # the method's own power (MethodSpec.error_growth), read per call: user methods too
    power = 2 if claim == FORMS_CLAIM else get_spec(paper_claims().get(claim, claim)).error_growth
    tol = TOLERANCE_FACTOR * s.unit_roundoff() * n * (depth + 1) ** power * kappa
    if not tol <= MAX_TOLERANCE:
        arithmetic = "float64" if s.dps is None else f"{s.dps} digits"
        raise OptnetError(
            f"claim {claim}: its tolerance would be {tol:.2g} relative, over {MAX_TOLERANCE:g}, "
            f"so the check could not fail: cond(W) = {_cond(s):.3g} (kappa(U) = {kappa:.3g}) "
            f"with n = {n}, K = {depth} in {arithmetic}; use a better conditioned W, a "
            "smaller depth, or more digits (--precision)"
        )
    return tol


def _cond(s: Setting) -> float:
    """cond(W): 2-norm condition number, or max/min |eigenvalue| for a general W."""
    W = np.asarray(s.W, dtype=np.float64)
    if s.general_w:
        ev = np.abs(np.linalg.eigvals(W))
        return float(ev.max() / ev.min())
    return float(np.linalg.cond(W))


def _activation_name(energy: Any) -> str:
    name = str(getattr(energy, "spec", None) or energy)
    params = getattr(energy, "params", None) or {}
    bound = ", ".join(f"{k}={float(v):g}" for k, v in sorted(params.items()))
    return f"{name} [{bound}]" if bound else name


def verify_claim(
    claim: str,
    activation: Any = "sigmoid",
    *,
    depth: int = 20,
    settings: Sequence[Setting] | None = None,
    beta: Any = SIMULATION_HB_BETA,
    network: Callable[..., Any] | None = None,
    **draw: Any,
) -> ClaimResult:
    """Check one claim of :func:`list_claims` over several trials.

    ``settings`` from :func:`make_settings` (else drawn from ``draw``: W, dim, cond, trials,
    precision, seed, general_w, x0, params). ``beta`` is the heavy-ball momentum of (2)/(11)
    (default Sec. 5.3's 0.3). ``network`` swaps in another implementation (see
    :func:`claim_error`).
    """
    claim = resolve_claim(claim)
    depth = claim_depth(claim, check_int(depth, "depth", 0))
    if settings is None:
        settings = make_settings(activation, **draw)
    tol = _tolerance(claim, settings, depth)  # refused before anything is run
    errs = [claim_error(claim, s, depth, beta=beta, network=network) for s in settings]
    s0 = settings[0]
    W0 = np.asarray(s0.W, dtype=np.float64)
    return ClaimResult(
        claim=claim,
        max_abs_error=max(e[0] for e in errs),
        max_rel_error=max(e[1] for e in errs),
        passed=all(e[1] <= tol for e in errs),
        trials=len(settings),
        precision="float64" if s0.dps is None else s0.dps,
        tolerance=tol,
        activation=_activation_name(s0.energy),
        dim=W0.shape[0],
        depth=depth,
        cond=_cond(s0),
        general_w=s0.general_w,
    )


def verify_all(
    activation: Any = "sigmoid",
    *,
    claims: Sequence[str] | None = None,
    depth: int = 20,
    beta: Any = SIMULATION_HB_BETA,
    **draw: Any,
) -> list[ClaimResult]:
    """Every claim in ``claims`` (default every claim, :func:`list_claims`) on the same trials
    (W, x_0 drawn once)."""
    claims = tuple(list_claims()) if claims is None else claims
    settings = make_settings(activation, **draw)
    for claim in claims:  # every check must be able to fail before any is run
        _tolerance(resolve_claim(claim), settings, depth)
    return [verify_claim(c, depth=depth, settings=settings, beta=beta) for c in claims]
