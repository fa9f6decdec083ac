"""Arrays built from others: concat, slice (its adjoint), ones and zeros."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError
from ..ir import show_shape
from .core import (ANSWER, ARRAY, ARRAYS, AXIS, HIDDEN, NONE, POSTFIX, RULES, SIZE, SIZES, Arg, Printed, Rule, apply,
                   wrap)
from .reduce import normalize_axis


def _concat_shape(shapes, axis=0):
    if len(shapes) < 2:
        raise ShapeError("concat needs at least two arrays")
    ndim = len(shapes[0])
    if ndim == 0 or any(len(s) != ndim for s in shapes):
        raise ShapeError("concat needs arrays with the same number of dimensions (at least 1), got "
                         + ", ".join(show_shape(s) for s in shapes))
    (ax,) = normalize_axis(axis, ndim, "concat")
    for i in range(ndim):
        if i != ax and any(s[i] != shapes[0][i] for s in shapes):
            raise ShapeError(f"concat along axis {ax} needs equal sizes on axis {i}, got "
                             + ", ".join(show_shape(s) for s in shapes))
    out = list(shapes[0])
    out[ax] = sp.Add(*[s[ax] for s in shapes])
    return tuple(out)


def _concat_simplify(args, attrs, shape):
    axis = attrs.get("axis", 0)
    (ax,) = normalize_axis(axis, args[0].ndim, "concat")
    if ax != axis or "axis" not in attrs:
        return apply("concat", *args, axis=ax)
    return None


def _concat_vjp(index, g, r, *args, axis=0):
    start = sp.Add(*[a.shape[axis] for a in args[:index]])
    stop = start + args[index].shape[axis]
    return apply("slice", g, axis=axis, start=start, stop=stop)


def _concat_latex(args, node, ctx):
    ax = node.kw["axis"]
    if node.args[0].ndim == 2:
        sep = " & " if ax == 1 else r" \\ "
        return Printed(r"\begin{bmatrix} " + sep.join(a.text for a in args) + r" \end{bmatrix}")
    return Printed(r"\begin{bmatrix} " + r" \\ ".join(a.text for a in args) + r" \end{bmatrix}")


RULES.add(Rule(
    "concat", "structure", None, _concat_shape, _concat_vjp,
    numpy=lambda args, node, ctx: Printed(
        f"np.concatenate([{', '.join(a.text for a in args)}], axis={node.kw['axis']})"),
    latex=_concat_latex,
    evaluate=lambda args, node, ctx: np.concatenate(args, axis=node.kw["axis"]),
    simplify=_concat_simplify,
    doc="concat(a, b, ..., axis=0): arrays joined along an axis",
    signature=(Arg("arrays", ARRAYS), Arg("axis", AXIS, 0, keyword=True, positional=False)),
    samples=((((2, 3), (2, 2)), {"axis": 1}), (((2, 3), (1, 3), (2, 3)), {"axis": 0}), (((2,), (3,)), {}))))


def _slice_shape(shapes, axis, start, stop):
    out = list(shapes[0])
    out[axis] = stop - start
    return tuple(out)


def _slice_vjp(g, r, a, axis, start, stop):
    size = a.shape[axis]
    parts = []
    before = list(a.shape)
    if start != 0:
        before[axis] = start
        parts.append(apply("zeros", shape=tuple(before)))
    parts.append(g)
    if stop != size:
        after = list(a.shape)
        after[axis] = size - stop
        parts.append(apply("zeros", shape=tuple(after)))
    return parts[0] if len(parts) == 1 else apply("concat", *parts, axis=axis)


def _slice_numpy(args, node, ctx):
    kw = node.kw
    a = node.args[0]
    lo = "" if kw["start"] == 0 else ctx.dim(kw["start"])
    hi = "" if kw["stop"] == a.shape[kw["axis"]] else ctx.dim(kw["stop"])
    index = [":"] * kw["axis"] + [f"{lo}:{hi}"]
    return Printed(f"{wrap(args[0], POSTFIX)}[{', '.join(index)}]", POSTFIX)


def _slice_latex(args, node, ctx):
    kw = node.kw
    lo, hi = sp.latex(kw["start"] + 1), sp.latex(kw["stop"])
    index = [":"] * kw["axis"] + [f"{lo}:{hi}"]
    return Printed(f"\\left[{args[0].text}\\right]_{{{', '.join(index)}}}", POSTFIX)


def _slice_evaluate(args, node, ctx):
    kw = node.kw
    index = [slice(None)] * kw["axis"] + [slice(ctx.size(kw["start"]), ctx.size(kw["stop"]))]
    return args[0][tuple(index)]


RULES.add(Rule(
    "slice", "structure", 1, _slice_shape, (_slice_vjp,),
    numpy=_slice_numpy, latex=_slice_latex, evaluate=_slice_evaluate,
    notation=(r"$\left[A\right]_{:, a:b}$ is columns $a$ to $b$ of $A$ (and $\left[A\right]_{a:b}$ rows $a$ "
              r"to $b$), counted from 1 with both ends included."),
    doc="a[..., start:stop] along one axis (the adjoint of concat)", language=ANSWER,
    signature=(Arg("x", ARRAY), Arg("axis", AXIS, keyword=True), Arg("start", SIZE, keyword=True),
               Arg("stop", SIZE, keyword=True)),
    samples=((((2, 5),), {"axis": 1, "start": sp.Integer(1), "stop": sp.Integer(3)}),
             (((4,),), {"axis": 0, "start": sp.Integer(0), "stop": sp.Integer(2)}))))


def _constant(name, value, latex):
    def latex_form(args, node, ctx):
        sizes = r" \times ".join(sp.latex(d) for d in node.kw["shape"])
        return Printed(f"\\mathbf{{{latex}}}_{{{sizes}}}")

    RULES.add(Rule(
        name, "structure", 0, lambda shapes, shape: tuple(shape), (),
        numpy=lambda args, node, ctx: Printed(f"np.{name}({ctx.shape(node.kw['shape'])}, dtype=dtype)"),
        latex=latex_form,
        evaluate=lambda args, node, ctx: ctx.full(node.kw["shape"], value),
        doc=f"{name}(d1, d2, ...): an array of {value}s (not differentiable)",
        signature=(Arg("shape", SIZES),), samples=(((), {"shape": (sp.Integer(2), sp.Integer(3))}),)))


_constant("ones", 1, "1")
_constant("zeros", 0, "0")


RULES.add(Rule(
    "alias", "structure", 1, lambda shapes: shapes[0], (lambda g, r, a: g,),
    numpy=lambda args, node, ctx: args[0], latex=lambda args, node, ctx: args[0],
    evaluate=lambda args, node, ctx: args[0],
    doc="a node that names another value (y = x)", syntax=HIDDEN, language=NONE))
