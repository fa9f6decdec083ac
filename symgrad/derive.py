"""Reverse mode over the graph: the adjoint of every node and parameter.

For each node, in reverse order, the adjoint ``g`` of its result is pushed
through its operation with the rule table's VJPs, one contribution per
differentiable input. Contributions to the same name are added, so a value used
twice (a tied parameter, ridge regression's w) gets both. Operations kept
inline in a node (a transpose) pass their contribution on to their own input.

Two views of every adjoint:

* named: in terms of forward values and the adjoints of later nodes
  (``d_W1 = A^T d_H_1``), for readable code and LaTeX;
* expanded: in inputs and parameters only, for answers that may use nothing
  else and for proofs.

:func:`derive` returns the stable derivation (fragile compositions rewritten,
:mod:`symgrad.fuse`) and carries the textbook one beside it
(:attr:`Derivation.textbook`, the spec exactly as written: what write-ups and
verify show), the contributions folded back into the spec's own entries
(:meth:`Derivation.entry_contributions`, each keeping its operation) and the
evaluation of every node and adjoint at a point (:meth:`Derivation.values`).
Jupyter display hooks are attached by the package facade (symgrad/__init__.py),
so nothing here imports an emitter.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import sympy as sp

from . import names as naming
from .fuse import forward_table, fuse_graph, reuse_forward
from .errors import DerivationError
from .evaluate import evaluate
from .graph import Graph, build_graph
from .ir import Apply, Const, Expr, Var, walk
from .rewrite import substitute
from .rules import RULES, apply
from .spec import LOSS


@dataclass(frozen=True)
class Contribution:
    """dL/d<target> += expr, flowing from node ``source`` through input ``index``."""

    target: str
    source: str
    op: str
    index: int
    expr: Expr


@dataclass
class Derivation:
    """Every adjoint of a graph, in both views."""

    graph: Graph
    needs_grad: set
    contributions: dict = field(default_factory=dict)   # target -> [Contribution]
    order: list = field(default_factory=list)           # targets, in the order computed
    fusions: list = field(default_factory=list)         # symgrad.fuse.Fusion, in graph order
    written: Graph | None = None                        # the graph before fusion (None: nothing fused)

    @functools.cached_property
    def _variables(self) -> dict:
        """The graph's variables by name, built once (adjoint_var runs once per node)."""
        return self.graph.variables()

    @property
    def spec(self):
        return self.graph.spec

    @functools.cached_property
    def textbook(self) -> "Derivation":
        """The derivation of the spec exactly as written, without the stable rewrites
        (the textbook chain rule; equal in value). Itself when nothing was fused."""
        if not self.fusions:
            return self
        return derive(self.written, fuse=False)

    def adjoint_var(self, name: str) -> Expr:
        """The adjoint of ``name`` as a variable (dL/dloss is the constant 1)."""
        if name == LOSS:
            return Const(sp.Integer(1))
        shape = self._variables[name].shape
        return Var(naming.adjoint(name), shape, "adjoint")

    def adjoint(self, name: str) -> Expr:
        """The named view: the sum of the contributions to ``name``."""
        if name == LOSS:
            return Const(sp.Integer(1))
        parts = self.contributions[name]
        out = parts[0].expr
        for c in parts[1:]:
            out = apply("add", out, c.expr)
        return out

    def grad(self, param: str) -> Expr:
        return self.adjoint(param)

    @property
    def params(self) -> list[str]:
        return list(self.graph.params)

    def temporary_values(self) -> dict[str, Expr]:
        """Each temporary's value over inputs, parameters and named nodes only."""
        temps: dict[str, Expr] = {}
        for node in self.graph.nodes:
            if node.temp:
                temps[node.name] = substitute(node.expr, temps)
        return temps

    def entry_mapping(self) -> dict[str, Expr]:
        """Folds temporaries back into the spec's entries: each temporary's value, and each
        temporary's adjoint (``d_<temp>``), over entry-level names only (inputs, parameters,
        named nodes and the adjoints of named nodes). Substituting it into an expression of
        the derivation gives the same expression in the spec's own terms."""
        mapping = self.temporary_values()
        for target in self.order:
            if target in mapping:   # a temporary
                mapping[naming.adjoint(target)] = substitute(self.adjoint(target), mapping)
        return mapping

    def entry_definitions(self) -> dict[str, Expr]:
        """Each spec entry's value over inputs, parameters and earlier entries."""
        mapping = self.entry_mapping()
        return {n.name: _unalias(substitute(n.expr, mapping)) for n in self.graph.entry_nodes()}

    def entry_contributions(self) -> dict[str, list[Contribution]]:
        """Target -> its contributions at entry level, for every entry and parameter with an
        adjoint: temporaries folded in (:meth:`entry_mapping`), the source being the spec
        entry the adjoint flows from; each keeps the operation and input it went through."""
        mapping = self.entry_mapping()
        entry_of = {n.name: n.entry for n in self.graph.nodes}
        temps = {n.name for n in self.graph.nodes if n.temp}
        out: dict[str, list[Contribution]] = {}
        for target in self.order:
            if target in temps:
                continue
            out[target] = [dataclasses.replace(c, source=entry_of[c.source],
                                               expr=substitute(c.expr, mapping))
                           for c in self.contributions[target]]
        return out

    def values(self, leaves: dict, ctx) -> dict:
        """Evaluation at a point: ``leaves`` (every input and parameter, by name) plus every
        node's value and every adjoint (``d_<name>``), float or symbolic as ``ctx`` says
        (:class:`symgrad.evaluate.EvalContext`)."""
        values = dict(leaves)
        memo: dict = {}
        for node in self.graph.nodes:
            values[node.name] = evaluate(node.expr, values, ctx, memo)
        for target in self.order:
            values[naming.adjoint(target)] = evaluate(self.adjoint(target), values, ctx, memo)
        return values

    def expanded_values(self) -> dict[str, Expr]:
        """Every node's value in inputs and parameters only."""
        values: dict[str, Expr] = {}
        for node in self.graph.nodes:
            values[node.name] = _unalias(substitute(node.expr, values))
        return values

    def expanded(self, name: str) -> Expr:
        """The adjoint of ``name`` in inputs and parameters only."""
        return self.expanded_adjoints()[name]

    def expanded_adjoints(self) -> dict[str, Expr]:
        values = self.expanded_values()
        mapping = dict(values)
        out: dict[str, Expr] = {}
        for target in self.order:
            expr = substitute(self.adjoint(target), mapping)
            out[target] = expr
            mapping[naming.adjoint(target)] = expr
        return out


def _unalias(e: Expr) -> Expr:
    return e.args[0] if isinstance(e, Apply) and e.op == "alias" else e


def _depends(graph: Graph) -> set[str]:
    """Names whose value depends on a parameter or on an input or node whose gradient the spec asks for."""
    out = set(graph.params) | set(graph.spec.extra_gradients)
    for node in graph.nodes:
        if any(isinstance(v, Var) and v.name in out for v in walk(node.expr)):
            out.add(node.name)
    return out


def _extra_adjoints(d: Derivation, pending: dict) -> None:
    """The adjoints of the inputs and nodes the spec lists in ``gradients`` (or marks grad = true)."""
    graph = d.graph
    for name in graph.spec.extra_gradients:
        if name in graph.inputs:
            if name not in pending:
                raise DerivationError(f"{name!r} is listed in gradients but does not influence the loss",
                                      source=graph.spec.source, node=name)
            d.contributions[name] = pending.pop(name)
            d.order.append(name)
        elif name not in d.contributions:
            why = ("is rewritten away by a stable form (" + ", ".join(sorted({f.rule for f in d.fusions})) + ")"
                   if d.fusions and not any(n.name == name for n in graph.nodes) else "does not influence the loss")
            raise DerivationError(f"{name!r} is listed in gradients but {why}, so it has no adjoint",
                                  source=graph.spec.source, node=name)


def derive(spec_or_graph, fuse: bool = True) -> Derivation:
    """Derive every adjoint of a spec (a Spec, path, bundled name or Graph).

    Args:
        spec_or_graph: What to derive.
        fuse: Rewrite fragile compositions (log of a sigmoid or softmax) into
            their stable forms first (:mod:`symgrad.fuse`); ``False`` derives
            the spec exactly as written, the reference for comparisons.
    """
    graph = spec_or_graph if isinstance(spec_or_graph, Graph) else build_graph(spec_or_graph)
    fusions, written = [], graph
    if fuse:
        graph, fusions = fuse_graph(graph)
    needs = _depends(graph)
    d = Derivation(graph, needs, fusions=fusions, written=written if fusions else None)
    pending: dict[str, list[Contribution]] = {}
    blocked: set[str] = set()    # operations with no derivative that a parameter's value went through

    def distribute(expr: Apply, g: Expr, source: str, result: Expr):
        rule = RULES[expr.op]
        for i, arg in enumerate(expr.args):
            if not any(isinstance(v, Var) and v.name in needs for v in walk(arg)):
                continue
            vjp = rule.vjp(i)
            if vjp is None:
                blocked.add(expr.op)
                continue
            contribution = vjp(g, result, *expr.args, **expr.kw)
            push(arg, contribution, source, expr.op, i)

    def push(expr: Expr, g: Expr, source: str, op: str, index: int):
        """Send adjoint g into expr, an argument of node ``source``."""
        if isinstance(expr, Var):
            if expr.name in needs:
                pending.setdefault(expr.name, []).append(Contribution(expr.name, source, op, index, g))
            return
        if isinstance(expr, Apply):
            distribute(expr, g, source, expr)

    for node in reversed(graph.nodes):
        if node.name not in needs:
            continue
        if node.name != LOSS:
            if node.name not in pending:
                continue  # does not reach the loss
            d.contributions[node.name] = pending.pop(node.name)
            d.order.append(node.name)
        distribute(node.expr, d.adjoint_var(node.name), node.name, node.var)
    for name in graph.params:
        if name not in pending:    # every path to the loss goes through an operation without a derivative
            ops = ", ".join(sorted(blocked))
            raise DerivationError(f"parameter {name!r} reaches the loss only through {ops}, which has no "
                                  "derivative (it is constant almost everywhere), so it has no gradient",
                                  source=graph.spec.source, node=name)
        d.contributions[name] = pending.pop(name)
        d.order.append(name)
    _extra_adjoints(d, pending)
    table = forward_table(graph)
    for target, parts in d.contributions.items():
        d.contributions[target] = [dataclasses.replace(c, expr=reuse_forward(c.expr, table)) for c in parts]
    return d
