"""Internal operations: the compiled step's own parts, declared like every other operation.

The compiled training step (:mod:`symgrad.emit.step`) lowers some operations
into parts that other operations share (log_softmax's row maximum, the
logistic parts of sigmoid and softplus, dot products for whole-array sums).
Those parts are operations of the IR like any other, so each is one entry of
the rule table with its shape, its numpy form (what the step prints for a
result with no array, shape ()), its out= form (what it prints into a reused
array), a LaTeX form and an evaluation.

Every rule here is ``internal``: the spec language, the answer languages and
the LaTeX reader do not accept it (family ``step`` is none they read), and
none is ever differentiated (every VJP is None: they appear only after
derivation, in the step's operation list).
"""

from __future__ import annotations

import numpy as np

from .core import ATOM, MUL, RULES, OutForm, Printed, Rule, against_zero
from .reduce import normalize_axis, reduce_kw

FAMILY = "step"


def _same_shape(shapes, **attrs):
    return shapes[0]


def _max_shape(shapes, axis=None, keepdims=False):
    axes = normalize_axis(axis, len(shapes[0]), "max")
    axes = range(len(shapes[0])) if axes is None else axes
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shapes[0]))
    return tuple(d for i, d in enumerate(shapes[0]) if i not in axes)


def _max_numpy(args, node, ctx):
    return Printed(f"np.maximum.reduce({args[0].text}{reduce_kw(node)})")


def _sigmoid_neg_numpy(args, node, ctx):
    from .. import runtime
    ctx.helper(runtime.sigmoid)
    return Printed(f"sigmoid(-({args[0].text}))")


def _sigmoid_neg_out(a, node, out, s, ctx):
    # 1 / (1 + exp(v)): no array of -v; exp(v) = inf gives 0, the limit, so no warning
    return ['with np.errstate(over="ignore"):', f"    np.exp({a[0]}, out={out})",
            f"np.add({out}, 1, out={out})", f"np.divide(1, {out}, out={out})"]


def _divided(text: str, count, ctx) -> Printed:
    """text / count (count 1: text alone); a size symbol n prints bare."""
    if count == 1:
        return Printed(text)
    divisor = str(count) if getattr(count, "is_Symbol", False) else ctx.scalar(count, MUL + 1)
    return Printed(f"{text} / {divisor}", MUL)


def _internal(name, arity, shape, numpy, latex, evaluate, doc, numpy_out=None):
    return RULES.add(Rule(name, FAMILY, arity, shape, (None,) * arity, numpy=numpy, latex=latex,
                          evaluate=evaluate, doc=doc, numpy_out=numpy_out, internal=True,
                          samples=((((2, 3),) * arity, {}),)))   # no input is differentiable: never sampled


_internal(
    "shift_max", 1, _max_shape, _max_numpy,
    latex=lambda args, node, ctx: Printed(f"\\max_{{{node.kw.get('axis')}}}\\left({args[0].text}\\right)"),
    evaluate=lambda args, node, ctx: np.max(args[0], axis=node.kw.get("axis"),
                                            keepdims=bool(node.kw.get("keepdims"))),
    doc="the maximum along an axis (log_softmax's shift in the compiled step)",
    numpy_out=OutForm(lambda a, node, out, s, ctx: [f"np.maximum.reduce({a[0]}{reduce_kw(node)}, out={out})"],
                      elementwise=False))

_internal(
    "min0", 1, _same_shape,
    lambda args, node, ctx: Printed(f"np.minimum({args[0].text}, 0)"),
    latex=lambda args, node, ctx: Printed(f"\\min({args[0].text}, 0)"),
    evaluate=lambda args, node, ctx: np.minimum(args[0], 0),
    doc="min(x, 0), so relu(-x) = -min(x, 0) needs no array of -x",
    numpy_out=against_zero("minimum"))

_internal(
    "sigmoid_neg", 1, _same_shape, _sigmoid_neg_numpy,
    latex=lambda args, node, ctx: Printed(f"\\sigma(-{args[0].text})"),
    evaluate=lambda args, node, ctx: 1 / (1 + np.exp(args[0])),
    doc="sigmoid(-x) from x: 1 / (1 + exp(x))",
    numpy_out=OutForm(_sigmoid_neg_out, returns=False))

_internal(
    "log1p", 1, _same_shape,
    lambda args, node, ctx: Printed(f"np.log1p({args[0].text})"),
    latex=lambda args, node, ctx: Printed(f"\\log(1 + {args[0].text})"),
    evaluate=lambda args, node, ctx: np.log1p(args[0]),
    doc="log(1 + t), the tail of softplus: log1p(exp(-|x|))",
    numpy_out=OutForm(lambda a, node, out, s, ctx: [f"np.log1p({a[0]}, out={out})"]))

_internal(
    "scaled_recip_1p", 2, _same_shape,
    lambda args, node, ctx: Printed(f"{args[1].text} / (1 + {args[0].text})", MUL),
    latex=lambda args, node, ctx: Printed(f"\\frac{{{args[1].text}}}{{1 + {args[0].text}}}"),
    evaluate=lambda args, node, ctx: args[1] / (1 + args[0]),
    doc="c / (1 + t), the common factor of the logistic parts (t = exp(-|z|), c a constant)",
    numpy_out=OutForm(lambda a, node, out, s, ctx: [
        f"np.add({a[0]}, 1, out={out})", f"np.divide({a[1]}, {out}, out={out})"]))

_internal(
    "dot", 2, lambda shapes, count=1: (),
    lambda args, node, ctx: _divided(f"np.vdot({args[0].text}, {args[1].text})", node.kw["count"], ctx),
    latex=lambda args, node, ctx: Printed(f"\\frac{{\\langle {args[0].text}, {args[1].text} \\rangle}}"
                                          f"{{{node.kw['count']}}}", ATOM),
    evaluate=lambda args, node, ctx: np.vdot(args[0], args[1]) / ctx.number(node.kw["count"]),
    doc="the sum over all entries of a * b, divided by count (a whole-array sum or mean of a product)")
