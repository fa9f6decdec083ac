"""Fusion: rewrite numerically fragile compositions into stable equivalents.

A loss spelled the way textbooks write it, ``log(sigmoid(z))`` or
``log(softmax(z))``, overflows or takes ``log(0)`` in floating point as soon
as the sigmoid or softmax saturates (|z| of about 37 in float64), and its
gradient divides by a probability that has rounded to 0 or 1. The same
values have forms that never do: ``log sigma(z) = -softplus(-z)`` and
``log softmax(z) = log_softmax(z)``, whose gradients are ``sigma(-z)`` and
``1 - p``.

The pass works on the graph (after shapes are known, before anything is
derived), so it sees the structure however the user spelled it: through the
``bce``/``nll`` composites, inline (``log(1 - sigmoid(z))``) or through named
nodes (``p = "sigmoid(z)"`` then ``log(p)``). Only a ``log`` node is
rewritten; the sigmoid or softmax node it read keeps its name and is still
computed (the forward cache holds every named node), and temporaries nothing
reads any more are dropped. Each rewrite is recorded as a :class:`Fusion`
with one line of explanation and the identity in LaTeX, for write-ups.

The rules are an identity each (checked by ``tests/test_stability.py``
symbolically); ``derive(spec, fuse=False)`` keeps the unfused reference, and a
fused derivation carries it beside itself as ``d.textbook``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .graph import Graph, GraphNode
from .ir import Apply, Const, Expr, Var, is_const, walk
from .rewrite import rebuild
from .rules import apply


@dataclass(frozen=True)
class FusionRule:
    """One rewrite: ``match(expr, look)`` returns (fused expr, {placeholder: Expr}) or None.

    Attributes:
        name: Short identifier (``log_sigmoid``...).
        explanation: One line; ``{z}`` is replaced by the argument's name.
        latex: The identity in LaTeX; ``{z}`` is replaced by the argument.
        lhs, rhs: The identity as scalar sympy functions of one argument
            (rhs may take a tuple for vector rules), for the tests.
    """

    name: str
    match: Callable
    explanation: str
    latex: str


@dataclass(frozen=True)
class Fusion:
    """A rewrite applied to one graph node."""

    node: str            # the graph node whose expression was rewritten
    entry: str           # the spec entry (node name or "loss") it belongs to
    rule: str
    args: tuple          # ((placeholder, Expr), ...)
    before: Expr
    after: Expr
    explanation_template: str
    latex_template: str

    def _fill(self, template: str, show: Callable[[Expr], str]) -> str:
        return template.replace("{z}", show(dict(self.args)["z"]))

    @property
    def explanation(self) -> str:
        """One line for people: what was rewritten and why."""
        return f"{self.entry}: " + self._fill(self.explanation_template, repr)

    @property
    def latex(self) -> str:
        """The identity used, with the argument's plain name."""
        return self._fill(self.latex_template, repr)

    def latex_with(self, show: Callable[[Expr], str]) -> str:
        """The identity with the argument printed by ``show`` (e.g. a LaTeX printer)."""
        return self._fill(self.latex_template, show)


def _unalias(e: Expr) -> Expr:
    return e.args[0] if isinstance(e, Apply) and e.op == "alias" else e


def _op(e: Expr, op: str) -> bool:
    return isinstance(e, Apply) and e.op == op


def _log_sigmoid(expr, look):
    if _op(expr, "log") and _op(look(expr.args[0]), "sigmoid"):
        z = look(expr.args[0]).args[0]
        return apply("neg", apply("softplus", apply("neg", z))), {"z": z}
    return None


def _log_one_minus_sigmoid(expr, look):
    if not _op(expr, "log"):
        return None
    inner = look(expr.args[0])
    if _op(inner, "sub") and is_const(inner.args[0], 1) and _op(look(inner.args[1]), "sigmoid"):
        z = look(inner.args[1]).args[0]
        return apply("neg", apply("softplus", z)), {"z": z}
    return None


def _log_softmax(expr, look):
    if _op(expr, "log") and _op(look(expr.args[0]), "softmax"):
        soft = look(expr.args[0])
        return apply("log_softmax", soft.args[0], **soft.kw), {"z": soft.args[0]}
    return None


RULES = (
    FusionRule("log_sigmoid", _log_sigmoid,
               "log(sigmoid({z})) is computed as -softplus(-{z}): finite for every logit, "
               "no log(0) when the sigmoid rounds to 0",
               r"\log\sigma\left({z}\right) = -\operatorname{softplus}\left(-{z}\right)"),
    FusionRule("log_one_minus_sigmoid", _log_one_minus_sigmoid,
               "log(1 - sigmoid({z})) is computed as -softplus({z}): finite for every logit, "
               "no log(0) when the sigmoid rounds to 1",
               r"\log\left(1 - \sigma\left({z}\right)\right) = -\operatorname{softplus}\left({z}\right)"),
    FusionRule("log_softmax", _log_softmax,
               "log(softmax({z})) is computed as log_softmax({z}) (max subtracted): "
               "finite for every logit, gradient softmax - target",
               r"\log\operatorname{softmax}\left({z}\right) = {z} - \log\sum e^{{z}}"
               r" = \operatorname{log\,softmax}\left({z}\right)"),
)

#: The scalar identities behind the rules, (rule, lhs(x), rhs(x)), for tests.
IDENTITIES = {
    "log_sigmoid": (lambda x: sp.log(1 / (1 + sp.exp(-x))), lambda x: -sp.log(1 + sp.exp(-x))),
    "log_one_minus_sigmoid": (lambda x: sp.log(1 - 1 / (1 + sp.exp(-x))), lambda x: -sp.log(1 + sp.exp(x))),
}


def fuse_graph(graph: Graph) -> tuple[Graph, list[Fusion]]:
    """The graph with every fragile composition rewritten, and the rewrites made.

    The input graph is not modified.
    """
    defs = {n.name: n.expr for n in graph.nodes}

    def look(e: Expr) -> Expr:
        """The operation behind a name (one level), or e itself."""
        while isinstance(e, Var) and e.name in defs:
            e = _unalias(defs[e.name])
        return e

    fusions: list[Fusion] = []
    new_nodes: list[GraphNode] = []
    for node in graph.nodes:
        found: list[Fusion] = []

        def rewrite(e: Expr, node=node, found=found) -> Expr:
            if not isinstance(e, Apply):
                return e
            args = tuple(rewrite(a) for a in e.args)
            e = e if args == e.args else apply(e.op, *args, **e.kw)
            for rule in RULES:
                hit = rule.match(e, look)
                if hit is not None and tuple(hit[0].shape) == tuple(e.shape):
                    fused, bound = hit
                    found.append(Fusion(node.name, node.entry, rule.name, tuple(sorted(bound.items())),
                                        e, fused, rule.explanation, rule.latex))
                    return fused
            return e

        expr = rewrite(node.expr)
        if found:
            if not isinstance(expr, Apply) or expr.op == "transpose":
                expr = Apply("alias", (expr,), (), expr.shape)
            defs[node.name] = expr
            fusions.extend(found)
            node = dataclasses.replace(node, expr=expr)
        new_nodes.append(node)
    if not fusions:
        return graph, []
    return dataclasses.replace(graph, nodes=_drop_dead_temporaries(new_nodes)), fusions


def _drop_dead_temporaries(nodes: list[GraphNode]) -> list[GraphNode]:
    """Remove temporaries (symgrad-named sub-expressions) that nothing reads."""
    while True:
        read = {v.name for n in nodes for v in walk(n.expr) if isinstance(v, Var)}
        kept = [n for n in nodes if not n.temp or n.name in read]
        if len(kept) == len(nodes):
            return kept
        nodes = kept


def reuse_forward(expr: Expr, table: dict, memo: dict | None = None) -> Expr:
    """Replace sub-expressions that a forward node already computed by that node.

    ``table`` maps a node's expression to its Var, so a VJP's ``sigmoid(z3)``
    becomes the cached ``yhat`` when ``yhat = sigmoid(z3)`` is a node.
    """
    return rebuild(expr, table.get, memo)


def forward_table(graph: Graph) -> dict:
    """{node expression: node Var} for nodes worth reusing (not aliases or constants)."""
    table = {}
    for node in graph.nodes:
        e = node.expr
        if isinstance(e, Apply) and e.args and e.op != "alias" and e not in table \
                and not all(isinstance(a, Const) for a in e.args):
            table[e] = node.var
    return table
