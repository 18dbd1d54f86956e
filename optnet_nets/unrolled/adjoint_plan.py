"""The reverse program of an unrolled method network: :func:`adjoint_plan` derives the gradient
program from the statements of :func:`~optnet_nets.unrolled.plan.build_plan`.

The adjoint of a value is the combination, with the same coefficients, of the adjoints of the
values that use it; each :class:`~optnet_nets.unrolled.plan.Product` s = Phi(y W) has the
backward :class:`AdjointProduct`. The combinations are built by the forward's own builder, so
that the two programs stay each other's transpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optnet_nets.unrolled.plan import Lin, Plan, Product, Term, _Builder, _merge

__all__ = ["AdjointPlan", "AdjointProduct", "adjoint_plan"]


@dataclass(frozen=True)
class AdjointProduct:
    """Backward of one :class:`Product`: gP = g_s * Phi'(s); dW^T (+)= alpha y^T gP;
    g_y = alpha gP W^T.

    ``gs[t]`` is the adjoint of ``ss[t]`` divided by ``alpha`` (None: zero), so a scalar
    multiple of an adjoint costs no pass of its own: it rides in the products' alpha.
    ``gys[t]`` is the new value holding g_y / alpha for ``ys[t]`` (None: not needed), ``gp``
    the value of gP; ``accumulate``: add to the layer's gradient (another sub-step of the layer
    wrote it first).
    """

    forward: Product
    gs: tuple[int | None, ...]
    alpha: float
    gp: int
    gys: tuple[int | None, ...]
    accumulate: bool


@dataclass
class AdjointPlan:
    """The reverse program: ``seed`` is dL/d(output); values are numbered after the forward's."""

    statements: list[Lin | AdjointProduct]
    seed: int
    count: int
    live: frozenset[int] = field(default_factory=frozenset)  # forward values that matter


def adjoint_plan(plan: Plan) -> AdjointPlan:
    """The reverse program of ``plan`` for d(loss)/dW given dL/d(output) (value ``seed``).

    Only values that depend on a weight get adjoints (x_0's path needs none), statements whose
    result never reaches the output are dropped, and the adjoint of v is the combination
    sum c g_u over the statements u = ... + c v + ... that use v (plus g_y from the products).
    """
    live = {plan.output}
    for st in reversed(plan.statements):
        if isinstance(st, Product):
            live.update(st.ys)
        elif st.out in live:
            live.update(v for _, v in st.terms)
    active: set[int] = set()
    for st in plan.statements:
        if isinstance(st, Product):
            active.update(st.ss)
        elif any(v in active for _, v in st.terms):
            active.add(st.out)
    b = _Builder()
    b.count = plan.count
    seed = b.new()
    # users[v]: (c, g) with dL/dv = sum c g; an adjoint is kept as a scaled value (c, g)
    users: dict[int, list[Term]] = {plan.output: [(1.0, seed)]}
    statements: list[Lin | AdjointProduct] = []
    written: set[int] = set()

    def adjoint(v: int) -> Term | None:
        terms = _merge(users.get(v, []))
        if not terms:
            return None
        if len(terms) == 1:
            return terms[0]
        before = len(b.statements)
        g = b.lin(terms)
        statements.extend(b.statements[before:])  # type: ignore[arg-type]
        return None if g is None else (1.0, g)

    def use(v: int, c: float, g: Term) -> None:
        if v in active:
            users.setdefault(v, []).append((c * g[0], g[1]))

    for st in reversed(plan.statements):
        if isinstance(st, Lin):
            if st.out in active and st.out in live:
                g = adjoint(st.out)
                if g is not None:
                    for c, v in st.terms:
                        use(v, c, g)
            continue
        refs = [adjoint(s) for s in st.ss]
        present = [r for r in refs if r is not None]
        if not present:
            continue
        alpha = present[0][0]
        gs: list[int | None] = []
        for r in refs:  # one alpha per product: other scales are applied by a pass
            if r is None:
                gs.append(None)
            elif r[0] == alpha:
                gs.append(r[1])
            else:
                before = len(b.statements)
                gs.append(b.lin([(r[0] / alpha, r[1])], materialize=True))
                statements.extend(b.statements[before:])  # type: ignore[arg-type]
        gys = tuple(b.new() if y in active else None for y in st.ys)
        statements.append(AdjointProduct(st, tuple(gs), alpha, b.new(), gys, st.layer in written))
        written.add(st.layer)
        for y, gy in zip(st.ys, gys, strict=True):
            if gy is not None:
                use(y, 1.0, (alpha, gy))
    return AdjointPlan(statements, seed, b.count, frozenset(live))
