"""A safe parser for activation formulas typed by users (untrusted text).

The text is parsed by :func:`ast.parse` into a syntax tree and rebuilt as SymPy node by node
from a whitelist: numbers, the variable ``x``, the constants ``pi`` and ``E``, declared
parameter names, ``+ - * / **``, unary minus, calls of a fixed set of functions, and
``Piecewise((expr, condition), ..., (expr, True))`` with comparisons as conditions. Nothing is
ever passed to ``eval``, ``exec``, ``sympify`` or ``parse_expr``. Everything else is refused
with a :class:`FormulaError` whose one-line message says what was wrong.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable

import sympy as sp

from optnet_theory.energy.activations import X, parameter, sigmoid
from optnet_theory.errors import OptnetError

MAX_LENGTH = 500
MAX_NODES = 300
MAX_DEPTH = 40
MAX_LITERAL = 1e9
MAX_POWER_DIGITS = 300


class FormulaError(OptnetError):
    """A formula string was refused by the parser (message: what, and what is accepted)."""


def _softplus(u: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(u))


def _relu(u: sp.Expr) -> sp.Expr:
    return sp.Max(u, 0)


#: function name -> (SymPy constructor, allowed argument counts (None: 2 or more)).
FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int | None]] = {
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "ln": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "tanh": (sp.tanh, 1),
    "sinh": (sp.sinh, 1),
    "cosh": (sp.cosh, 1),
    "atan": (sp.atan, 1),
    "arctan": (sp.atan, 1),
    "asinh": (sp.asinh, 1),
    "arcsinh": (sp.asinh, 1),
    "erf": (sp.erf, 1),
    "erfc": (sp.erfc, 1),
    "abs": (sp.Abs, 1),
    "sign": (sp.sign, 1),
    "sigmoid": (sigmoid, 1),
    "softplus": (_softplus, 1),
    "relu": (_relu, 1),
    "max": (sp.Max, None),
    "min": (sp.Min, None),
}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
_COMPARE = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}
_BINARY = {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow}


def accepted() -> str:
    """One line naming what a formula may contain."""
    return (
        "accepted: numbers, x, pi, E, declared parameters, + - * / **, "
        f"functions {', '.join(FUNCTIONS)}, Piecewise((expr, cond), ..., (expr, True))"
    )


class _Builder:
    """Rebuilds a whitelisted Python syntax tree as a SymPy expression."""

    def __init__(self, parameters: frozenset[str]) -> None:
        self.parameters = parameters

    def expr(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            return self.number(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.expr(node.operand, depth + 1)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left = self.expr(node.left, depth + 1)
            right = self.expr(node.right, depth + 1)
            return self.binary(node.op, left, right)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise FormulaError(f"{_describe(node)} is not allowed in a formula; {accepted()}")

    def number(self, value: object) -> sp.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FormulaError(f"constant {value!r} is not a number; {accepted()}")
        if not math.isfinite(value) or abs(value) > MAX_LITERAL:
            raise FormulaError(f"number {value!r} is too large (limit {MAX_LITERAL:g})")
        return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))

    def name(self, ident: str) -> sp.Expr:
        if ident == "x":
            return X
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in self.parameters:
            return parameter(ident)
        if ident in FUNCTIONS or ident == "Piecewise":
            raise FormulaError(f"function {ident!r} used without calling it")
        declared = ", ".join(sorted(self.parameters)) or "none"
        raise FormulaError(
            f"unknown name {ident!r}: the only variable is x; constants pi, E; "
            f"parameters must be declared with a value (declared: {declared})"
        )

    def binary(self, op: ast.operator, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            if right.is_zero:
                raise FormulaError("division by zero in the formula")
            return left / right
        if right.is_number and left.is_number:
            self.check_power(left, right)
        elif right.is_number and abs(float(sp.N(right))) > 64:
            raise FormulaError("exponent larger than 64 in the formula")
        return left**right

    def check_power(self, base: sp.Expr, exponent: sp.Expr) -> None:
        b = abs(complex(sp.N(base)))
        e = complex(sp.N(exponent))
        if b > 0 and abs(e.real) * abs(math.log10(b)) > MAX_POWER_DIGITS:
            raise FormulaError(
                f"number too large: a power with more than {MAX_POWER_DIGITS} digits"
            )

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise FormulaError(f"only plain function names may be called; {accepted()}")
        fname = node.func.id
        if node.keywords:
            raise FormulaError(f"keyword arguments are not allowed (in call of {fname!r})")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise FormulaError(f"starred arguments are not allowed (in call of {fname!r})")
        if fname == "Piecewise":
            return self.piecewise(node.args, depth)
        if fname not in FUNCTIONS:
            raise FormulaError(f"unknown function {fname!r}; {accepted()}")
        build, arity = FUNCTIONS[fname]
        if (arity is None and len(node.args) < 2) or (
            arity is not None and len(node.args) != arity
        ):
            wanted = "2 or more" if arity is None else str(arity)
            raise FormulaError(f"{fname} takes {wanted} argument(s), got {len(node.args)}")
        return build(*(self.expr(a, depth + 1) for a in node.args))

    def piecewise(self, args: list[ast.expr], depth: int) -> sp.Expr:
        if not args:
            raise FormulaError("Piecewise needs at least one (expr, condition) pair")
        pairs = []
        for arg in args:
            if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                raise FormulaError("each Piecewise argument must be a pair (expr, condition)")
            value = self.expr(arg.elts[0], depth + 1)
            pairs.append((value, self.condition(arg.elts[1], depth + 1)))
        conds = [c for _, c in pairs]
        covered = sp.Or(*conds).as_set()
        if not covered.is_superset(sp.S.Reals):
            missing = sp.S.Reals - covered
            raise FormulaError(
                f"Piecewise conditions do not cover every real x (missing {missing}); "
                "end with (expr, True)"
            )
        return sp.Piecewise(*pairs)

    def condition(self, node: ast.AST, depth: int) -> sp.Basic:
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v, depth + 1) for v in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        if isinstance(node, ast.Compare):
            terms = [self.expr(node.left, depth + 1)]
            terms += [self.expr(c, depth + 1) for c in node.comparators]
            rels = []
            for op, lhs, rhs in zip(node.ops, terms, terms[1:], strict=False):
                if type(op) not in _COMPARE:
                    raise FormulaError("conditions may use only < <= > >=")
                rels.append(_COMPARE[type(op)](lhs, rhs))
            if any(not r.free_symbols <= {X} for r in rels):
                raise FormulaError("a Piecewise condition may depend on x only")
            return sp.And(*rels)
        raise FormulaError("a Piecewise condition must be a comparison such as x > 0, or True")


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripting",
        ast.Lambda: "lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
        ast.Compare: "a comparison outside Piecewise",
        ast.BoolOp: "a boolean operator outside Piecewise",
        ast.Tuple: "a tuple outside Piecewise",
        ast.List: "a list",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.IfExp: "if/else",
        ast.NamedExpr: "assignment",
        ast.JoinedStr: "an f-string",
        ast.Await: "await",
        ast.Yield: "yield",
    }
    for kind, text in kinds.items():
        if isinstance(node, kind):
            return text
    if isinstance(node, ast.BinOp):
        return f"operator {type(node.op).__name__}"
    if isinstance(node, ast.UnaryOp):
        return f"operator {type(node.op).__name__}"
    return type(node).__name__


def parse_formula(text: str, parameters: Iterable[str] = ()) -> sp.Expr:
    """Parse an activation formula in ``x`` into SymPy, refusing anything not whitelisted.

    ``parameters`` names the extra symbols allowed (e.g. ``alpha``); every other name, a
    second variable included, is refused. Raises :class:`FormulaError` only.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise FormulaError("empty formula; give an expression in x such as 'x/(1+abs(x))'")
    depth = deepest = 0
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise FormulaError(f"brackets nested deeper than {MAX_DEPTH} levels")
    if "__" in text:
        raise FormulaError("double underscores (dunder names) are not allowed in a formula")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a valid expression: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise FormulaError(f"not a valid expression: {type(exc).__name__}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise FormulaError(f"formula too large: {count} syntax nodes (limit {MAX_NODES})")
    names = frozenset(p for p in parameters if p.isidentifier() and p != "x")
    try:
        result = _Builder(names).expr(tree.body, 0)
    except FormulaError:
        raise
    except (TypeError, ValueError, ArithmeticError, RecursionError, AttributeError) as exc:
        raise FormulaError(f"formula could not be built: {type(exc).__name__}") from None
    if not isinstance(result, sp.Expr):
        raise FormulaError("formula is not an expression")
    if result.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise FormulaError("formula is undefined or infinite (e.g. division by zero, log(0))")
    return result
