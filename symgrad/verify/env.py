"""Where answers live: names they may use, values at test points.

An answer may use the spec's inputs, parameters and sizes, every node of the
graph (the named view, temporaries such as ``h_1`` included) and the adjoint
of any node or parameter as ``d_<name>`` (the value the true derivation gives
it). Test points are random, with symbolic sizes set to distinct values that
differ from every fixed size, so a transpose cannot hide; points where a kink
(ReLU at 0) is within reach of rounding are drawn again. Kink points, where
some kinked function sits exactly on its kink, are built separately. Sizes,
drawing and kinks are :mod:`symgrad.points`'s; the names verify's modules use
(``Point``, ``draw``, ``random_points``, ``kink_points``) are
re-exported here for them.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..derive import Derivation, derive
from ..errors import SpecError
from ..evaluate import EvalContext, evaluate
from ..graph import Lowering, check_elements, elements
from ..ir import Const, Expr, as_sympy
from ..parse import Call
from ..points import Point, answer_sizes, draw, kink_points, random_points  # noqa: F401  (verify.interfaces, verify.code)
from ..rules import apply

#: An answer is evaluated here, in this process, at every test point (and its
#: values printed in a counterexample), so its intermediates are held to less
#: than a spec's (graph.MAX_ELEMENTS): at most this many entries each at the
#: test sizes, or as many as the derivation's own largest array, and four
#: times that together.
ANSWER_ELEMENTS = 1 << 20


class AnswerLowering(Lowering):
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

    def name(self, node) -> Expr:
        """A name, or one entry of an array (``W2[0,1]``, :mod:`symgrad.verify.entries`)."""
        from .entries import check_index, entry_of, read_entry
        entry = read_entry(node.id)
        if entry is None:
            return super().name(node)
        array = super().name(type(node)(entry[0], node.pos))
        check_index(entry[0], tuple(array.shape), entry[1])
        return entry_of(array, entry[1])

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
    """The sizes answers are evaluated at (:func:`symgrad.points.answer_sizes`)."""
    return answer_sizes(d.graph)


def fill(d: Derivation, leaves: dict, ctx: EvalContext) -> dict:
    """Every node's value and every adjoint at ``leaves`` (:meth:`Derivation.values`)."""
    return d.values(leaves, ctx)


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
        return spec.textbook
    return derive(spec, fuse=False)
