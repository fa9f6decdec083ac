"""Where answers live: names they may use, values at test points.

An answer may use the spec's inputs, parameters and sizes, every node of the
graph (the named view, temporaries such as ``h_1`` included) and the adjoint
of any node or parameter as ``d_<name>`` (the value the true derivation gives
it). Test points are random, with symbolic sizes set to distinct values that
differ from every fixed size, so a transpose cannot hide; points where a kink
(ReLU at 0) is within reach of rounding are drawn again. Kink points, where
some kinked function sits exactly on its kink, are built separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .. import names as naming
from ..derive import Derivation, derive
from ..errors import SpecError
from ..evaluate import EvalContext, evaluate
from ..graph import _Lowering, check_elements, elements
from ..ir import Const, Expr, as_sympy, dim
from ..parse import Call
from ..rules import RULES, apply

KINK_MARGIN = 1e-3
#: An answer is evaluated here, in this process, at every test point (and its
#: values printed in a counterexample), so its intermediates are held to less
#: than a spec's (graph.MAX_ELEMENTS): at most this many entries each at the
#: test sizes, or as many as the derivation's own largest array, and four
#: times that together.
ANSWER_ELEMENTS = 1 << 20


class AnswerLowering(_Lowering):
    """The spec language's lowering, with the derivation's names in scope."""

    EXTRA = ("slice", "broadcast_to", "expand_dims")

    def __init__(self, d: Derivation):
        super().__init__(d.spec)
        self.test_sizes = test_sizes(d)
        self.entry = "answer"
        self.declare(d.spec.inputs, "input")
        self.declare(d.spec.params, "param")
        for node in d.graph.nodes:
            self.env[node.name] = node.var
        for target in d.order:
            var = d.adjoint_var(target)
            self.env[var.name] = var

    def call(self, node: Call) -> Expr:
        if node.func not in self.EXTRA:
            return super().call(node)
        if not node.args:
            raise SpecError(f"{node.func} needs an array (column {node.pos})")
        array = self.lower(node.args[0])
        kw = dict(node.kwargs)
        if node.func == "broadcast_to":
            if len(node.args) < 2 or node.kwargs:
                raise SpecError(f"broadcast_to takes an array and sizes, e.g. broadcast_to(b, n, 4) "
                                f"(column {node.pos})")
            return apply("broadcast_to", array, shape=tuple(self.size(a) for a in node.args[1:]))
        if node.func == "expand_dims":
            axis = self.axis(kw.get("axis") or (node.args[1] if len(node.args) > 1 else None), array.ndim + 1, node)
            return apply("expand_dims", array, axis=axis)
        axis = self.axis(kw["axis"], array.ndim, node) if "axis" in kw else 0
        start = self.size_expr(kw.get("start"), 0)
        stop = self.size_expr(kw.get("stop"), None) if "stop" in kw else array.shape[axis]
        lo, hi, size = (int(as_sympy(as_sympy(v).xreplace(self.test_sizes))) for v in (start, stop, array.shape[axis]))
        if not 0 <= lo <= hi <= size:
            raise SpecError(f"slice bounds {start}:{stop} are outside 0:{array.shape[axis]} (column {node.pos})")
        return apply("slice", array, axis=axis, start=start, stop=stop)

    def axis(self, value, ndim: int, node: Call) -> int:
        """An axis of an internal operation: a plain integer in -ndim .. ndim-1."""
        if value is None:
            raise SpecError(f"{node.func} needs axis= (column {node.pos})")
        number = self.number(value, f"{node.func}'s axis")
        if number.denominator != 1 or not -ndim <= number < ndim:
            raise SpecError(f"{node.func}'s axis {number} is not an axis of a {ndim}-dimensional result "
                            f"(column {node.pos})")
        return int(number)

    def size_expr(self, node, default):
        if node is None:
            return sp.Integer(default)
        value = self.lower(node)
        if not isinstance(value, Const) or not as_sympy(as_sympy(value.value).xreplace(self.test_sizes)).is_Integer:
            raise SpecError(f"slice bounds must be whole sizes or numbers (column {node.pos})")
        return as_sympy(value.value)


def answer_limit(d: Derivation) -> int:
    """The most entries one intermediate of an answer may hold (see ANSWER_ELEMENTS)."""
    sizes = test_sizes(d)
    arrays = list(d.graph.variables().values()) + [d.adjoint_var(t) for t in d.order]
    return max([ANSWER_ELEMENTS] + [elements(v.shape, sizes) for v in arrays])


def lower_answer(d: Derivation, tree) -> Expr:
    """An answer's parse tree (from symgrad.parse or the LaTeX reader) as IR,
    refused when its arrays are larger than an answer's may be (size bombs)."""
    expr = AnswerLowering(d).lower(tree)
    limit = answer_limit(d)
    check_elements(expr, limit, sizes=test_sizes(d), total=4 * limit)
    return expr


def test_sizes(d: Derivation) -> dict:
    """Symbolic sizes -> distinct values that no fixed size uses (non-square)."""
    fixed = set()
    for var in list(d.graph.inputs.values()) + list(d.graph.params.values()):
        fixed |= {int(s) for s in var.shape if as_sympy(s).is_Integer}
    out, value = {}, 5
    for name in sorted(d.graph.sizes):
        while value in fixed:
            value += 1
        out[dim(name)] = value
        value += 1
    return out


@dataclass
class Point:
    values: dict          # every name (inputs, params, nodes, d_<name>) -> array
    kink: bool = False    # True for a point placed on a kink on purpose

    def leaves(self, d: Derivation) -> dict:
        return {n: self.values[n] for n in list(d.graph.inputs) + list(d.graph.params)}


def kink_args(d: Derivation):
    """(node name, argument expression, kinks) of every kinked operation."""
    out = []
    for node in d.graph.nodes:
        rule = RULES[node.expr.op]
        if rule.kinks:
            out.append((node.name, node.expr.args[0], rule.kinks))
    return out


def fill(d: Derivation, leaves: dict, ctx: EvalContext) -> dict:
    values = dict(leaves)
    memo: dict = {}
    for node in d.graph.nodes:
        values[node.name] = evaluate(node.expr, values, ctx, memo)
    for target in d.order:
        values[naming.adjoint(target)] = evaluate(d.adjoint(target), values, ctx, memo)
    return values


def _distance_to_kinks(d, values, ctx) -> float:
    best = np.inf
    for _, arg, kinks in kink_args(d):
        v = np.asarray(evaluate(arg, values, ctx), dtype=float)
        for k in kinks:
            if v.size:
                best = min(best, float(np.min(np.abs(v - float(k)))))
    return best


def draw(rng, shape) -> np.ndarray:
    """A test value: standard normal entries rounded to 3 decimals (readable in a
    counterexample), with no negative zeros."""
    return np.round(rng.normal(0.0, 1.0, shape), 3) + 0.0


def random_points(d: Derivation, count: int, seed: int = 0) -> tuple[list[Point], EvalContext]:
    """``count`` random points away from kinks (values rounded to 3 decimals)."""
    ctx = EvalContext(test_sizes(d))
    rng = np.random.default_rng(seed)
    points, tries = [], 0
    while len(points) < count and tries < 50 * count:
        tries += 1
        leaves = {}
        for var in list(d.graph.inputs.values()) + list(d.graph.params.values()):
            leaves[var.name] = draw(rng, ctx.shape(var.shape))
        with np.errstate(all="ignore"):
            values = fill(d, leaves, ctx)
            if _distance_to_kinks(d, values, ctx) < KINK_MARGIN:
                continue
        points.append(Point(values))
    return points, ctx


def kink_points(d: Derivation, ctx: EvalContext, seed: int = 1) -> list[Point]:
    """Points where some kinked operation sits exactly on its kink.

    Built by zeroing one input or parameter at a time; kept when it puts a
    kinked argument on its kink.
    """
    if not kink_args(d):
        return []
    rng = np.random.default_rng(seed)
    names = list(d.graph.inputs.values()) + list(d.graph.params.values())
    out = []
    for zeroed in names:
        for _ in range(3):
            leaves = {v.name: (np.zeros(ctx.shape(v.shape)) if v.name == zeroed.name
                               else draw(rng, ctx.shape(v.shape))) for v in names}
            with np.errstate(all="ignore"):
                values = fill(d, leaves, ctx)
                on_kink = _distance_to_kinks(d, values, ctx) == 0.0
            if on_kink:
                out.append(Point(values, kink=True))
                break
    return out


def value_of(e: Expr, point: Point, ctx: EvalContext):
    with np.errstate(all="ignore"):
        out = np.asarray(evaluate(e, point.values, ctx), dtype=float)
    return out


def load_derivation(spec) -> Derivation:
    """The derivation answers are judged against: the spec exactly as written.

    Answers are mathematics, so the truth is the textbook chain rule, not the
    numerically stable rewrites the generated code uses (they are equal).
    """
    if isinstance(spec, Derivation):
        return derive(spec.spec, fuse=False) if spec.fusions else spec
    return derive(spec, fuse=False)
