"""Lowering: a derivation and its backward plan cut into single operations.

Every forward node and every backward statement of
:func:`~symgrad.emit.numpy_module.plan_backward` becomes single operations
(three-address code). Identical sub-expressions are computed once (the IR is
hash-consed, so equal sub-trees are equal keys), and a forward value the
backward pass needs is read, never recomputed. Some operations are lowered
into parts that later operations share (:mod:`.decompose`), and each backward
expression is simplified region by region first (:mod:`.regions`).
"""

from __future__ import annotations

from ... import names as naming
from ...derive import Derivation
from ...ir import Apply, Const, Expr, Var
from ...rules import RULES
from ...spec import LOSS
from . import decompose
from .ops import VIEWS, Op, constant_array, rename
from .regions import ARITH, Regions


class Lowering:
    """Cuts expressions into single operations, computing each distinct one once.

    The state the decompositions share lives here: ``exp_of`` (value -> how to
    get exp(value) without an exp), ``softmax_parts`` (log_softmax value ->
    (exps, total, axis, kept shape)) and ``logistic`` (z -> (exp(min(z, 0)),
    exp(-max(z, 0)), exp(-|z|))).
    """

    def __init__(self):
        self.ops: list[Op] = []
        self.memo: dict[Expr, Expr] = {}
        self.count = 0
        self.exp_of: dict[Var, Apply] = {}
        self.softmax_parts: dict[Var, tuple] = {}
        self.logistic: dict[Var, tuple] = {}

    def fresh(self) -> str:
        """A new temporary's name."""
        self.count += 1
        return naming.step_temporary(self.count)

    def operand(self, e: Expr) -> Expr:
        """e as an argument: a Var, a Const, or a view of one."""
        if isinstance(e, (Var, Const)):
            return e
        if e in self.memo:
            return self.memo[e]
        c = constant_array(e)
        if c is not None:   # a constant array: filled in place, in the step's dtype
            filled = Apply("broadcast_to", (c,), (("shape", tuple(e.shape)),), tuple(e.shape))
            var = self.memo.get(filled) or self.bind(filled, self.fresh())
            self.memo[e] = var
            return var
        if e.op in VIEWS:
            out = Apply(e.op, tuple(self.operand(a) for a in e.args), e.attrs, e.shape)
            self.memo[e] = out
            return out
        return self.bind(e, self.fresh())

    def emit(self, node: Apply) -> Var:
        """A new single operation over already-lowered operands."""
        name = self.fresh()
        self.ops.append(Op(name, node))
        return Var(name, node.shape, "temp")

    def record(self, e: Expr, target: str, node: Apply, comment: str = "") -> Var:
        """``target = node`` as the lowered value of e."""
        var = Var(target, e.shape, "temp")
        self.ops.append(Op(target, node, comment))
        self.memo[e] = var
        return var

    def bind(self, e: Expr, target: str, comment: str = "") -> Var:
        """e computed into target: by its decomposition when one applies, else as one operation."""
        if isinstance(e, Apply) and e.op in decompose.FORWARD:
            var = decompose.FORWARD[e.op](self, e, target, comment)
            if var is not None:
                return var
        if isinstance(e, Apply) and e.op in RULES and RULES[e.op].family == "arith" and len(e.args) == 2:
            args = self._scalar_operands(e)
        else:
            args = tuple(self.operand(a) for a in e.args)
        return self.record(e, target, Apply(e.op, args, e.attrs, e.shape), comment)

    def definition(self, v: Expr) -> Apply | None:
        """The operation that computed the lowered value v, if any."""
        if not isinstance(v, Var):
            return None
        for op in reversed(self.ops):
            if op.target == v.name:
                return op.node
        return None

    def signed_base(self, x: Expr) -> tuple:
        """(v, -1) when the lowered x is -v for a Var v, else (x, 1)."""
        definition = self.definition(x)
        if definition is not None and definition.op == "neg" and isinstance(definition.args[0], Var):
            return definition.args[0], -1
        return x, 1

    def _scalar_operands(self, e: Apply) -> tuple:
        """A broadcast constant next to a full-size operand is passed as a Python number."""
        out = []
        for i, a in enumerate(e.args):
            c = constant_array(a)
            if c is not None and tuple(e.args[1 - i].shape) == tuple(e.shape):
                out.append(c)
            else:
                out.append(self.operand(a))
        return tuple(out)


def lower(d: Derivation, plan, comments=None) -> tuple[list[Op], dict[str, Expr], Lowering]:
    """The step's operations, what each gradient and the loss are after lowering, and the
    lowering (whose ``fresh`` names the temporaries later passes add)."""
    low = Lowering()
    graph = d.graph
    renamed: dict[Var, Expr] = {}    # forward node / adjoint Var -> its lowered value
    for node in graph.nodes:
        comment = "" if node.temp else f"{node.name} = {graph.entry_text[node.entry]}"
        expr = rename(node.expr, renamed)
        if isinstance(expr, Apply) and expr not in low.memo and expr.op not in VIEWS:
            value = low.bind(expr, node.name, comment)
        else:
            value = low.operand(expr)
        renamed[node.var] = value
    results: dict[str, Expr] = {LOSS: renamed[graph.node(LOSS).var]}
    by_target = {op.target: op.node for op in low.ops}
    regions = Regions({renamed[n.var]: by_target[n.name] for n in graph.nodes
                       if isinstance(n.expr, Apply) and n.expr.op in ARITH and n.name in by_target})
    for target, _named, expr in plan:
        expr = regions(rename(expr, renamed))
        for backward in decompose.BACKWARD:
            expr = backward(low, expr)
        adj = naming.adjoint(target)
        if isinstance(expr, Apply) and expr not in low.memo and expr.op not in VIEWS:
            value = low.bind(expr, adj, (comments or {}).get(target, f"dL/d{target}"))
        else:
            value = low.operand(expr)
        renamed[Var(adj, expr.shape, "adjoint")] = value
        results[target] = value
    return low.ops, results, low
