"""Mistakes of batched code for the catalogue (:mod:`.mistakes`): a broadcast's sum over the batch
left out or taken over the wrong axis (a bias gradient), and batch statistics (batch norm's mean
and variance) treated as constants."""

from __future__ import annotations

from ..derive import Derivation
from ..errors import SymgradError
from ..ir import Apply, Expr, Var, as_sympy, walk
from ..rules import apply


def try_apply(op, *args, **kw):
    try:
        return [apply(op, *args, **kw)]
    except SymgradError:
        return []


def has_adjoint(e: Expr) -> bool:
    return any(isinstance(v, Var) and v.role == "adjoint" for v in walk(e))


def unbroadcast_sums(e: Expr) -> list:
    """A broadcast's adjoint ``sum(g, axis)``: its sum left out (``bias_not_summed``), or taken over
    the other axis or every axis (``bias_summed_wrong_axis``): (mistake, rewritten node) pairs. The
    shape changes, so the catalogue keeps them for the asked-for name itself only."""
    if isinstance(e, Apply) and e.op == "matmul" and _is_ones_row(e.args[0]) and has_adjoint(e.args[1]):
        inner, axis, keepdims = e.args[1], 0, True        # ones(N, 1).T @ g: the batch sum written as a product
    elif isinstance(e, Apply) and e.op == "sum" and has_adjoint(e.args[0]):
        inner, axis, keepdims = e.args[0], e.kw.get("axis"), e.kw.get("keepdims", False)
        while isinstance(inner, Apply) and inner.op == "sum":
            inner = inner.args[0]
    else:
        return []
    out = [("bias_not_summed", inner)]
    if inner.ndim == 2 and axis is not None and not isinstance(axis, tuple):
        out += [("bias_summed_wrong_axis", new) for new in
                try_apply("sum", inner, axis=1 - axis % 2, keepdims=keepdims)]
    if inner.ndim >= 1 and axis is not None:
        out += [("bias_summed_wrong_axis", new) for new in try_apply("sum", inner)]
    return out


def _is_ones_row(e: Expr) -> bool:
    """``ones(N, 1).T``: the row of ones whose product with g sums g's rows."""
    return isinstance(e, Apply) and e.op == "transpose" and isinstance(e.args[0], Apply) and \
        e.args[0].op == "ones" and e.args[0].ndim == 2 and as_sympy(e.args[0].shape[1]) == 1


def _is_statistic(d: Derivation, source: str) -> bool:
    """A node that reduces along an axis (a batch mean or variance): ``mean(x, axis=0)``."""
    if source not in d.graph.variables() or source in d.graph.inputs or source in d.graph.params:
        return False
    expr = d.graph.node(source).expr
    return isinstance(expr, Apply) and expr.op in ("mean", "sum") and expr.kw.get("axis") is not None


def _feeds_statistics(d: Derivation, source: str, memo: dict) -> bool:
    """The node is a statistic, or every node it feeds does (the square inside the variance)."""
    if source not in memo:
        memo[source] = False
        users = [c.source for c in d.contributions.get(source, ())]
        memo[source] = _is_statistic(d, source) or bool(users) and all(_feeds_statistics(d, u, memo) for u in users)
    return memo[source]


def statistics_override(d: Derivation, cone: list) -> dict:
    """Target -> its adjoint with every path through a statistic node (batch norm's mean and
    variance) left out, for the targets of ``cone`` that have such a path and another one: the
    gradient of code that treats the statistics as constants (dx = gamma * dout / std)."""
    override, memo = {}, {}
    for target in cone:
        parts = d.contributions[target]
        kept = [c.expr for c in parts if not _feeds_statistics(d, c.source, memo)]
        if kept and len(kept) < len(parts):
            total = kept[0]
            for other in kept[1:]:
                total = apply("add", total, other)
            override[target] = total
    return override
