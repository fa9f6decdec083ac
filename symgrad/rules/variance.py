"""The variance along axes, with a correction: ``var(x, axis=None, correction=0, keepdims=False)``.

``var = sum((x - mean(x))**2) / (N - correction)`` over the N entries it reduces;
``correction = 1`` is Bessel's (an unbiased estimate, as the batch norm of the
makemore exercise uses it), numpy's ``ddof`` and torch's ``correction``.

Its VJP: ``dvar/dx = 2 (x - mean(x)) / (N - correction)``, spread back over the
reduced axes. The term through the mean vanishes, since the deviations sum to 0.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError
from ..ir import Const
from .core import AXIS, FLAG, MUL, NUMBER, RULES, Arg, Printed, Rule, apply, arrays
from .reduce import _axis_attr, _count, _reduced_shape, expand_back, normalize_axis

SIGNATURE = arrays(1) + (Arg("axis", AXIS, None, keyword=True), Arg("correction", NUMBER, sp.Integer(0), keyword=True),
                         Arg("keepdims", FLAG, False, keyword=True, positional=False))


def _divisor(shape, axis, correction):
    """N - correction, N the number of entries reduced; refused when it is a number <= 0."""
    count = _count(shape, normalize_axis(axis, len(shape), "var"))
    divisor = sp.expand(count - correction)
    if divisor.is_number and divisor <= 0:
        raise ShapeError(f"var over {count} entr{'y' if count == 1 else 'ies'} with correction {correction} "
                         "divides by zero or a negative count")
    return divisor


def _shape(shapes, axis=None, correction=0, keepdims=False):
    (a,) = shapes
    axes = normalize_axis(axis, len(a), "var")
    _divisor(a, axis, correction)
    return _reduced_shape(a, axes, keepdims)


def _simplify(args, attrs, shape):
    (a,) = args
    axis = attrs.get("axis")
    canonical = _axis_attr(normalize_axis(axis, a.ndim, "var"))
    if canonical != axis:
        return apply("var", a, **{**attrs, "axis": canonical})
    left_out = [k for k in ("axis", "keepdims") if k in attrs and (attrs[k] is None or attrs[k] is False)]
    if left_out:   # one IR for var(x) and var(x, axis=None)
        return apply("var", a, **{k: v for k, v in attrs.items() if k not in left_out})
    return None


def _vjp(g, r, a, axis=None, correction=0, keepdims=False):
    deviation = apply("sub", a, apply("mean", a, axis=axis, keepdims=True) if axis is not None
                      else apply("mean", a))
    scale = Const(2 / _divisor(a.shape, axis, correction))
    return apply("mul", apply("mul", scale, expand_back(g, a, axis, keepdims)), deviation)


def _numpy(args, node, ctx):
    kw = node.kw
    parts = [f"axis={kw['axis']}"] if kw.get("axis") is not None else []
    if kw.get("correction", 0) != 0:
        parts.append(f"ddof={ctx.scalar(kw['correction'])}")
    if kw.get("keepdims"):
        parts.append("keepdims=True")
    return Printed(f"np.var({args[0].text}{''.join(', ' + p for p in parts)})")


def _latex(args, node, ctx):
    kw, a = node.kw, node.args[0]
    axis = kw.get("axis")
    sub = "" if axis is None or a.ndim == 1 else f"_{{{axis}}}"
    text = f"\\operatorname{{var}}{sub}\\left({args[0].text}\\right)"
    correction = kw.get("correction", 0)
    if correction == 0:
        return Printed(text)
    count = _count(a.shape, normalize_axis(axis, a.ndim, "var"))   # var with correction c = N/(N-c) var
    return Printed(f"\\frac{{{sp.latex(count)}}}{{{sp.latex(sp.expand(count - correction))}}} {text}", MUL)


def _evaluate(args, node, ctx):
    kw, a = node.kw, node.args[0]
    axis, keep = kw.get("axis"), bool(kw.get("keepdims"))
    x = np.asarray(args[0])
    if not ctx.symbolic:
        return np.var(x, axis=axis, ddof=float(kw.get("correction", 0)), keepdims=keep)
    count = _count(a.shape, normalize_axis(axis, a.ndim, "var"))
    centred = x - np.sum(x, axis=axis, keepdims=True) / ctx.number(count)
    return np.sum(centred * centred, axis=axis, keepdims=keep) / ctx.number(_divisor(a.shape, axis,
                                                                                   kw.get("correction", 0)))


RULES.add(Rule(
    "var", "reduce", 1, _shape, (_vjp,), numpy=_numpy, latex=_latex, evaluate=_evaluate, simplify=_simplify,
    doc="var(a, axis=None, correction=0, keepdims=False): mean squared deviation, divided by N - correction",
    signature=SIGNATURE, latex_words=("var",),
    samples=((((2, 3),), {"correction": sp.Integer(0)}), (((3, 2),), {"axis": 0, "correction": sp.Integer(1)}),
             (((2, 3),), {"axis": 1, "correction": sp.Integer(1), "keepdims": True}),
             (((4,),), {"axis": 0, "correction": sp.Integer(0)}))))
