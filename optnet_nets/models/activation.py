"""Phi as torch code: a whitelisted translation of an activation's SymPy form into torch.

Any activation the theory accepts can run in a network. :func:`make_activation` takes what
``optnet derive`` takes -- a registry name, a formula string in ``x`` (parsed by the AST
whitelist of :mod:`optnet_theory.energy.formula`, never evaluated) or a SymPy expression -- resolves
Phi with :func:`optnet_theory.energy.derive_energy` (which also checks that Phi is real and
finite on R), and translates Phi node by node into torch operations (:func:`torch_function`):
a fixed table maps each SymPy node type to a torch function; nothing is passed to ``eval``,
``lambdify`` or any code generator, and a node outside the table raises
:class:`~optnet_theory.errors.OptnetError` naming it.

The translation runs on :func:`optnet_theory.numerics.stable_form` of Phi, the same rewrites the
float64 ``phi_fn`` uses: log of a positive sum of exponentials becomes a log-sum-exp
(``torch.logaddexp``; so log(1 + e^x) is a softplus that neither overflows nor loses digits),
1/(A + B e^u) becomes a logistic (``torch.sigmoid``); on top of those, a product of
exponentials and logistics, e^a sigma(b)^k, is evaluated as e^(a + k logsigmoid(b)) (so
e^x/(1 + e^x) = e^x sigma(-x) stays 1 at x = 200 instead of inf * 0). Each branch of a
``Piecewise`` is evaluated at a point of its own region wherever it is not selected, so that
e.g. ELU's e^x - 1 at x = 100 in float32 (inf) leaves no inf * 0 = nan in the gradient. The
result is differentiable by autograd.

The paper's networks use ReLU (Sec. 6: T = conv-BN-ReLU-conv-BN in HB-Net, BN-ReLU-conv in
AGD-Net; Table 3 reads ResNet and DenseNet with ReLU): :data:`DEFAULT_ACTIVATION`. The registry
name ``relu`` maps to ``nn.ReLU`` directly (the translation of its Piecewise would compute the
same values with more memory traffic and no in-place option).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeAlias

import sympy as sp
import torch
from torch import Tensor, nn

from optnet_theory.energy.activations import X, get_activation, is_registry_name
from optnet_theory.errors import OptnetError
from optnet_theory.numerics import _EXPIT, _LSE, stable_form  # the rewrites' node types

if TYPE_CHECKING:  # pragma: no cover
    from optnet_theory.energy import Energy

__all__ = [
    "DEFAULT_ACTIVATION",
    "TORCH_FUNCTIONS",
    "ActivationFactory",
    "ActivationSpec",
    "Phi",
    "make_activation",
    "torch_function",
]

#: The activation of the paper's CNNs (Sec. 6, Table 3): ReLU, by its registry name.
DEFAULT_ACTIVATION = "relu"

#: What ``activation=`` accepts: a registry name, a formula string in x, or a SymPy expression.
ActivationSpec: TypeAlias = "str | sp.Expr"

_Value = Tensor | float
TorchFn = Callable[[Tensor], Tensor]


_LOGSIGMOID = sp.Function("optnet_logsigmoid")


def _merge_exponentials(expr: sp.Expr) -> sp.Expr:
    """e^a * sigma(b)^k * rest -> e^(a + k logsigmoid(b)) * rest in every product."""

    def is_expit(f: sp.Basic) -> bool:
        base = f.base if isinstance(f, sp.Pow) and f.exp.is_Integer else f
        return isinstance(base, sp.Function) and base.func == _EXPIT

    def merge(product: sp.Expr) -> sp.Expr:
        factors = sp.Mul.make_args(product)
        exps = [f for f in factors if isinstance(f, sp.exp)]
        logistics = [f for f in factors if is_expit(f)]
        if not exps or not logistics:
            return product
        exponent = sp.Add(*(f.args[0] for f in exps))
        for f in logistics:
            power, base = (f.exp, f.base) if isinstance(f, sp.Pow) else (sp.Integer(1), f)
            exponent += power * _LOGSIGMOID(base.args[0])
        rest = [f for f in factors if f not in exps and f not in logistics]
        return sp.Mul(sp.exp(exponent, evaluate=False), *rest, evaluate=False)

    return expr.replace(lambda e: isinstance(e, sp.Mul), merge)


def _logsumexp(*args: _Value) -> _Value:
    tensors = [a for a in args if isinstance(a, Tensor)]
    like = tensors[0]
    values = [a if isinstance(a, Tensor) else like.new_tensor(a) for a in args]
    if len(values) == 2:
        return torch.logaddexp(values[0], values[1])
    return torch.logsumexp(torch.stack(torch.broadcast_tensors(*values)), 0)


def _extreme(largest: bool) -> Callable[..., _Value]:
    """Max (``largest``) or Min of tensors and numbers: tensors pairwise, numbers by clamp."""

    def apply(*args: _Value) -> _Value:
        tensors = [a for a in args if isinstance(a, Tensor)]
        numbers = [float(a) for a in args if not isinstance(a, Tensor)]
        out = reduce(torch.maximum if largest else torch.minimum, tensors)
        if not numbers:
            return out
        if largest:
            return torch.clamp(out, min=max(numbers))
        return torch.clamp(out, max=min(numbers))

    return apply


def _torch_functions() -> dict[Any, Callable[..., _Value]]:
    return {
        sp.exp: torch.exp,
        sp.log: torch.log,
        sp.sin: torch.sin,
        sp.cos: torch.cos,
        sp.tan: torch.tan,
        sp.tanh: torch.tanh,
        sp.sinh: torch.sinh,
        sp.cosh: torch.cosh,
        sp.atan: torch.atan,
        sp.asinh: torch.asinh,
        sp.erf: torch.erf,
        sp.erfc: torch.erfc,
        sp.Abs: torch.abs,
        sp.sign: torch.sign,
        sp.Max: _extreme(True),
        sp.Min: _extreme(False),
        _LSE: _logsumexp,
        _EXPIT: torch.sigmoid,
        _LOGSIGMOID: torch.nn.functional.logsigmoid,
    }


#: SymPy function node -> the torch function of its (tensor or number) arguments. ``Add``,
#: ``Mul``, ``Pow``, ``Piecewise``, relations and logical connectives are handled structurally.
TORCH_FUNCTIONS: dict[Any, Callable[..., _Value]] = _torch_functions()

_RELATIONS: dict[Any, Callable[[Any, Any], Any]] = {
    sp.StrictGreaterThan: operator.gt,
    sp.GreaterThan: operator.ge,
    sp.StrictLessThan: operator.lt,
    sp.LessThan: operator.le,
    sp.Equality: operator.eq,
    sp.Unequality: operator.ne,
}
_CONNECTIVES: dict[Any, Callable[[Tensor, Tensor], Tensor]] = {
    sp.And: torch.logical_and,
    sp.Or: torch.logical_or,
}

_Compiled = Callable[[Tensor], _Value]


def _number(node: sp.Basic) -> float:
    value = complex(sp.N(node, 20))
    if value.imag != 0 or not math.isfinite(value.real):
        raise OptnetError(f"constant {node} is not a finite real number")
    return value.real


def _as_tensor(value: _Value, x: Tensor) -> Tensor:
    return value if isinstance(value, Tensor) else torch.full_like(x, value)


def _power(base: _Value, exponent: _Value) -> _Value:
    """base ** exponent; at least one is a tensor (constant powers are folded first)."""
    if not isinstance(base, Tensor):
        assert isinstance(exponent, Tensor)
        return torch.pow(base, exponent)
    if isinstance(exponent, Tensor):
        return torch.pow(base, exponent)
    if exponent == -1.0:
        return torch.reciprocal(base)
    if exponent == 0.5:
        return torch.sqrt(base)
    return torch.pow(base, int(exponent) if float(exponent).is_integer() else exponent)


class _Translator:
    """Compiles a SymPy expression in x into a closure over whitelisted torch operations."""

    def __init__(self, functions: dict[Any, Callable[..., _Value]]) -> None:
        self.functions = functions

    def compile(self, node: sp.Basic) -> _Compiled:
        if node == X:
            return lambda x: x
        if isinstance(node, sp.Expr) and not node.free_symbols:
            constant = _number(node)
            return lambda x: constant
        if node.free_symbols - {X}:
            names = ", ".join(sorted(str(s) for s in node.free_symbols - {X}))
            raise OptnetError(f"activation has free symbol(s) {names}; bind them to numbers")
        if isinstance(node, sp.Add):
            return self._fold(node.args, operator.add)
        if isinstance(node, sp.Mul):
            return self._fold(node.args, operator.mul)
        if isinstance(node, sp.Pow):
            base, exponent = self.compile(node.base), self.compile(node.exp)
            return lambda x: _power(base(x), exponent(x))
        if isinstance(node, sp.Piecewise):
            return self._piecewise(node)
        function = self.functions.get(node.func)
        if function is None:
            raise OptnetError(
                f"activation node {node.func.__name__} ({node}) has no torch translation; "
                f"accepted: + - * / **, Piecewise, "
                f"{', '.join(sorted(f.__name__ for f in self.functions))}"
            )
        args = [self.compile(a) for a in node.args]
        return lambda x: function(*(a(x) for a in args))

    def _fold(self, nodes: tuple[sp.Basic, ...], op: Callable[[Any, Any], Any]) -> _Compiled:
        parts = [self.compile(a) for a in nodes]
        return lambda x: reduce(op, (p(x) for p in parts))

    def condition(self, node: sp.Basic) -> Callable[[Tensor], Tensor]:
        if node is sp.true or node is sp.false:
            flag = bool(node)
            return lambda x: torch.full_like(x, flag, dtype=torch.bool)
        relation = _RELATIONS.get(node.func)
        if relation is not None:
            lhs, rhs = self.compile(node.args[0]), self.compile(node.args[1])
            return lambda x: _as_tensor(relation(lhs(x), rhs(x)), x).to(torch.bool)
        if node.func in _CONNECTIVES:
            parts = [self.condition(a) for a in node.args]
            combine = _CONNECTIVES[node.func]
            return lambda x: reduce(combine, (p(x) for p in parts))
        if isinstance(node, sp.Not):
            inner = self.condition(node.args[0])
            return lambda x: torch.logical_not(inner(x))
        raise OptnetError(
            f"Piecewise condition {node} has no torch translation; accepted: < <= > >= == !=, "
            "And, Or, Not, True"
        )

    def _piecewise(self, node: sp.Piecewise) -> _Compiled:
        branches = []
        earlier: sp.Basic = sp.false
        for expr, cond in node.args:
            region = sp.And(cond, sp.Not(earlier))
            earlier = sp.Or(earlier, cond)
            point = _inside(region)
            if point is _EMPTY:
                continue
            branches.append((self.compile(expr), self.condition(cond), point))

        def evaluate(x: Tensor) -> _Value:
            out = torch.full_like(x, math.nan)
            taken = torch.zeros_like(x, dtype=torch.bool)
            for value, cond, point in branches:
                chosen = cond(x) & ~taken
                taken = taken | chosen
                inside = x if point is None else torch.where(chosen, x, point)
                out = torch.where(chosen, value(inside), out)
            return out

        return evaluate


_EMPTY = object()


def _inside(region: sp.Basic) -> Any:
    """A float in ``region`` (a condition on x), ``_EMPTY`` if it holds nowhere, else None.

    None (the region is not a set of reals SymPy can describe) leaves the branch unmasked.
    """
    try:
        where = region.as_set().intersect(sp.S.Reals)
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        return None
    if where is sp.S.EmptySet:
        return _EMPTY
    piece = where.args[0] if isinstance(where, sp.Union) else where
    if isinstance(piece, sp.FiniteSet):
        return _number(next(iter(piece)))
    if not isinstance(piece, sp.Interval):
        return None
    lo, hi = piece.start, piece.end
    if lo.is_infinite and hi.is_infinite:
        return 0.0
    if lo.is_infinite:
        return _number(hi) - 1.0
    if hi.is_infinite:
        return _number(lo) + 1.0
    return (_number(lo) + _number(hi)) / 2


def torch_function(
    phi: sp.Expr, functions: dict[Any, Callable[..., _Value]] | None = None
) -> TorchFn:
    """Phi (SymPy in ``optnet_theory.energy.activations.X``) as an elementwise torch function.

    The expression is first put in :func:`~optnet_theory.numerics.stable_form` (and products
    of exponentials and logistics merged, see the module docstring); ``functions``
    (default :data:`TORCH_FUNCTIONS`) maps SymPy function nodes to torch functions. A node it
    does not cover raises :class:`OptnetError` naming it.
    """
    compiled = _Translator(TORCH_FUNCTIONS if functions is None else functions).compile(
        _merge_exponentials(stable_form(phi))
    )

    def apply(x: Tensor) -> Tensor:
        return _as_tensor(compiled(x), x)

    return apply


class Phi(nn.Module):
    """Phi applied elementwise (the activation of (7) and of T in Sec. 6), from SymPy."""

    def __init__(self, function: TorchFn, formula: str) -> None:
        super().__init__()
        self.function = function
        self.formula = formula

    def forward(self, x: Tensor) -> Tensor:
        return self.function(x)

    def extra_repr(self) -> str:
        return f"phi={self.formula}"


@dataclass(frozen=True)
class ActivationFactory:
    """Builds fresh activation modules for one resolved spec: ``factory(inplace=False)``.

    ``label`` is the spec as given (registry name or formula); :meth:`energy` derives Psi.
    """

    spec: ActivationSpec
    label: str
    function: TorchFn | None  # None: the registry's ReLU, built as nn.ReLU

    def __call__(self, inplace: bool = False) -> nn.Module:
        if self.function is None:
            return nn.ReLU(inplace=inplace)
        return Phi(self.function, self.label)

    def energy(self) -> Energy:
        """The derived energy of Phi (Lemma 1, eq. (8)); cached by ``derive_energy``."""
        from optnet_theory.energy import derive_energy

        return derive_energy(self.spec)

    def record(self) -> dict[str, Any]:
        """What a run records of its activation: the spec, Phi and its derived energy Psi."""
        energy = self.energy()
        return {
            "activation": self.label,
            "phi": str(energy.phi),
            "psi": None if energy.psi is None else str(energy.psi),
            "method": energy.method,
            "verified": energy.verified,
            "accuracy": energy.accuracy,
        }


def make_activation(spec: Any = DEFAULT_ACTIVATION) -> ActivationFactory:
    """Resolve ``spec`` (registry name, formula in x, or SymPy expression) to a factory.

    Raises :class:`OptnetError` for anything else, for formulas the whitelist refuses, for a
    Phi that is not real and finite on R or does not depend on x (a constant layer passes no
    signal and no gradient), and for a node with no torch translation.
    """
    if isinstance(spec, str) and not spec.strip():
        raise OptnetError("activation is empty; give a registry name or a formula in x")
    if not isinstance(spec, (str, sp.Expr)):
        raise OptnetError(
            f"activation={spec!r}; accepted: a registry name, a formula in x or a SymPy "
            "expression"
        )
    if isinstance(spec, str) and is_registry_name(spec):
        if get_activation(spec).name == "relu":
            return ActivationFactory("relu", "relu", None)
    from optnet_theory.energy import derive_energy

    energy = derive_energy(spec)
    if not energy.phi.has(X):
        raise OptnetError(
            f"activation {energy.spec!r} is the constant {energy.phi}: a network layer needs a "
            "Phi that depends on x (e.g. tanh, x*sigmoid(x))"
        )
    return ActivationFactory(spec, energy.spec, torch_function(energy.phi))
