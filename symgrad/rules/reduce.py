"""Reductions and normalisations along axes: sum, mean, softmax, log_softmax.

``axis`` follows numpy (None = all axes, negative counts from the end); it is
normalised to a non-negative int or tuple when the operation is built.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError
from ..ir import Apply, Const, Var
from .core import (ADD, ANSWER, ARRAY, ATOM, AXIS, FLAG, MUL, ONES, RULES, Arg, OutForm, Printed, Rule, ScalarForm,
                   apply, arrays)

# sum(x, axis=None, keepdims=False), and its samples for the per-rule gradient test
REDUCTION = arrays(1) + (Arg("axis", AXIS, None, keyword=True), Arg("keepdims", FLAG, False, keyword=True,
                                                                    positional=False))
REDUCTION_DEFAULTS = {a.name: a.default for a in REDUCTION[1:]}
REDUCTION_SAMPLES = ((((2, 3),), {}), (((2, 3),), {"axis": 0}), (((2, 3),), {"axis": 1, "keepdims": True}),
                     (((3,),), {"axis": 0}))


def normalize_axis(axis, ndim: int, op: str):
    """None, or a sorted tuple of non-negative axes, checked against ndim."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
            raise ShapeError(f"{op}: axis must be an integer, got {a!r}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of range for an array with {ndim} dimension(s)")
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def _axis_attr(axes):
    if axes is None:
        return None
    return axes[0] if len(axes) == 1 else axes


def _reduced_shape(shape, axes, keepdims):
    axes = range(len(shape)) if axes is None else axes
    if keepdims:
        return tuple(sp.Integer(1) if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _count(shape, axes):
    axes = range(len(shape)) if axes is None else axes
    return sp.Mul(*[shape[i] for i in axes])


def expand_back(g, a, axis=None, keepdims=False):
    """The adjoint of a reduction: g spread back over the reduced axes."""
    axes = normalize_axis(axis, a.ndim, "sum")
    if axes is not None and not keepdims and g.ndim > 0:
        g = apply("expand_dims", g, axis=_axis_attr(axes))
    return apply("broadcast_to", g, shape=tuple(a.shape))


def _reduction_shape(op):
    def shape(shapes, axis=None, keepdims=False):
        axes = normalize_axis(axis, len(shapes[0]), op)
        return _reduced_shape(shapes[0], axes, keepdims)
    return shape


def _reduction_simplify(op):
    def simplify(args, attrs, shape):
        (a,) = args
        axis = attrs.get("axis")
        canonical = _axis_attr(normalize_axis(axis, a.ndim, op))
        if canonical != axis:
            return apply(op, a, **{**attrs, "axis": canonical})
        defaults = {k: v for k, v in attrs.items() if v is REDUCTION_DEFAULTS[k]}
        if defaults:   # left out, as a call that does not give them: one IR for sum(x) and sum(x, axis=None)
            return apply(op, a, **{k: v for k, v in attrs.items() if k not in defaults})
        if a.ndim == 0:
            return a
        return None
    return simplify


def _kw_text(node, ctx):
    kw = node.kw
    parts = []
    if kw.get("axis") is not None:
        parts.append(f"axis={kw['axis']}")
    if kw.get("keepdims"):
        parts.append("keepdims=True")
    return "".join(", " + p for p in parts)


def reduce_kw(node) -> str:
    """``, axis=..[, keepdims=True]`` for a ufunc's reduce method."""
    kw = node.kw
    parts = [f"axis={kw.get('axis')}"]   # always: a ufunc's reduce defaults to axis 0, np.sum to None
    if kw.get("keepdims"):
        parts.append("keepdims=True")
    return "".join(", " + p for p in parts)


def _sum_latex(args, node, ctx):
    a = node.args[0]
    axis = node.kw.get("axis")
    if axis is None or a.ndim == 1:   # a vector summed along its only axis: a plain sum
        return Printed(f"\\sum_{{i}} ({args[0].text})_{{i}}" if a.ndim else args[0].text, MUL)
    if a.ndim == 2 and axis in (0, 1, -1, -2):   # the textbook's ones vector: 1^T X sums down, X 1 across
        from .core import wrap
        # below any product's precedence: bracketed as a factor (A \\odot (\\mathbf{1}^\\top B)), where the
        # ones row would otherwise be read as a factor of the product beside it
        loose = ADD + 1
        if axis % 2 == 0:
            return Printed(f"\\mathbf{{1}}^\\top {wrap(args[0], MUL + 1)}", loose)
        return Printed(f"{wrap(args[0], MUL)} \\mathbf{{1}}", loose)
    return Printed(f"\\operatorname{{sum}}_{{{axis}}}\\left({args[0].text}\\right)", ATOM)


def _evaluate_sum(args, node, ctx):
    kw = node.kw
    return np.sum(args[0], axis=kw.get("axis"), keepdims=bool(kw.get("keepdims")))


def _sum_ones(node):
    """The ones vector whose product with a matrix is its row or column sums; None otherwise.

    A row (column) sum of an (n, w) array is that array times a ones vector of
    length w (n): one BLAS matrix-vector product. While the array is in cache it
    is 1.5-4x faster than np.add.reduce (a row sum of a 4096 x 512 float32 array:
    130 us against 480 us; numpy pays its inner-loop overhead once per row), but
    reading from memory it is 1.4x slower than numpy's loop. So only a value the
    step computes is summed this way (the step sums it right after computing it,
    see ``numpy_step._early``), never an input or a parameter, whose arrays
    arrive from wherever the caller left them.
    """
    a, axis, keep = node.args[0], node.kw.get("axis"), node.kw.get("keepdims")
    if a.ndim != 2 or axis not in (0, 1) or not isinstance(a, Var) or a.role in ("input", "param"):
        return None
    n, w = a.shape
    if axis == 1:
        return ((w, 1) if keep else (w,)), ONES
    return ((1, n) if keep else (n,)), ONES


def _sum_out(a, node, out, s, ctx):
    if s:    # the ones vector from _sum_ones
        operands = f"{a[0]}, {s[-1]}" if node.kw.get("axis") == 1 else f"{s[-1]}, {a[0]}"
        return [f"np.matmul({operands}, out={out})"]
    # ufunc reduce methods directly: the same sums as np.sum, without its Python-level wrapper
    return [f"np.add.reduce({a[0]}{reduce_kw(node)}, out={out})"]


def reduction(name: str, *, vjp, numpy, latex, evaluate, doc: str, **more) -> Rule:
    """Declare a reduction ``name(x, axis=None, keepdims=False)``.

    Its shape, its canonical attributes, its call signature and its gradient-test
    samples come from here; ``vjp`` is (g, r, x, axis=None, keepdims=False) -> the
    adjoint of x (:func:`expand_back` spreads g back), the printing and evaluate
    forms are those of any rule, and ``more`` any other Rule field.
    """
    return RULES.add(Rule(name, "reduce", 1, _reduction_shape(name), (vjp,), numpy=numpy, latex=latex,
                          evaluate=evaluate, simplify=_reduction_simplify(name), doc=doc, signature=REDUCTION,
                          samples=REDUCTION_SAMPLES, **more))


reduction(
    "sum", vjp=lambda g, r, a, axis=None, keepdims=False: expand_back(g, a, axis, keepdims),
    numpy=lambda args, node, ctx: Printed(f"np.sum({args[0].text}{_kw_text(node, ctx)})"),
    latex=_sum_latex, evaluate=_evaluate_sum, doc="sum(a, axis=None, keepdims=False)",
    numpy_out=OutForm(_sum_out, constant=_sum_ones, elementwise=False, early=True),
    scalar_code=ScalarForm(), latex_words=(r"\sum", "sum"))


def _mean_vjp(g, r, a, axis=None, keepdims=False):
    count = _count(a.shape, normalize_axis(axis, a.ndim, "mean"))
    return expand_back(apply("mul", Const(1 / count), g), a, axis, keepdims)


def _mean_latex(args, node, ctx):
    a = node.args[0]
    count = _count(a.shape, normalize_axis(node.kw.get("axis"), a.ndim, "mean"))
    inner = _sum_latex(args, node, ctx).text
    if inner.startswith("\\mathbf{1}"):   # the ones row opens a product: its own group after 1/n
        inner = f"\\left({inner}\\right)"
    return Printed(f"\\frac{{1}}{{{sp.latex(count)}}} {inner}", MUL)


def _evaluate_mean(args, node, ctx):
    a = node.args[0]
    count = _count(a.shape, normalize_axis(node.kw.get("axis"), a.ndim, "mean"))
    return _evaluate_sum(args, node, ctx) / ctx.number(count)


reduction(
    "mean", vjp=_mean_vjp,
    numpy=lambda args, node, ctx: Printed(f"np.mean({args[0].text}{_kw_text(node, ctx)})"),
    latex=_mean_latex, evaluate=_evaluate_mean, doc="mean(a, axis=None, keepdims=False)", scalar_code=ScalarForm())


def _expand_dims_shape(shapes, axis):
    shape = list(shapes[0])
    axes = axis if isinstance(axis, tuple) else (axis,)
    for ax in sorted(axes):
        shape.insert(ax, sp.Integer(1))
    return tuple(shape)


def _expand_dims_simplify(args, attrs, shape):
    # a constant broadcast to an array stays a broadcast constant (x * c needs no array of c)
    (a,) = args
    if isinstance(a, Apply) and a.op == "broadcast_to" and isinstance(a.args[0], Const):
        return apply("broadcast_to", a.args[0], shape=tuple(shape))
    return None


RULES.add(Rule(
    "expand_dims", "reduce", 1, _expand_dims_shape,
    (lambda g, r, a, axis: apply("sum", g, axis=axis),),
    numpy=lambda args, node, ctx: Printed(f"np.expand_dims({args[0].text}, {node.kw['axis']})"),
    latex=lambda args, node, ctx: args[0],
    evaluate=lambda args, node, ctx: np.expand_dims(args[0], node.kw["axis"]),
    simplify=_expand_dims_simplify, doc="a with a new axis of size 1 (the adjoint of a reduction needs it)",
    scalar_code=ScalarForm(), language=ANSWER, signature=(Arg("x", ARRAY), Arg("axis", AXIS, keyword=True)),
    samples=((((3,),), {"axis": 1}), (((3,),), {"axis": 0}))))


def _softmax_shape(op):
    def shape(shapes, axis=-1):
        if len(shapes[0]) == 0:
            raise ShapeError(f"{op} needs a vector or matrix, got a scalar")
        normalize_axis(axis, len(shapes[0]), op)
        return shapes[0]
    return shape


def _softmax_simplify(op):
    def simplify(args, attrs, shape):
        axis = attrs.get("axis", -1)
        canonical = normalize_axis(axis, args[0].ndim, op)[0]
        if canonical != axis:
            return apply(op, args[0], axis=canonical)
        return None
    return simplify


def _softmax_vjp(g, r, a, axis=-1):
    # J = diag(p) - p p^T along the axis, so J^T g = p * (g - sum(g * p))
    inner = apply("sum", apply("mul", g, r), axis=axis, keepdims=True)
    return apply("mul", r, apply("sub", g, inner))


def _log_softmax_vjp(g, r, a, axis=-1):
    # d log_softmax = I - 1 p^T with p = exp(r), so J^T g = g - p sum(g). Written as
    # (1 - p) g - p (sum(g) - g), with 1 - p = -expm1(r): for a one-hot g (cross-entropy)
    # no term cancels, so even a confident prediction's gradient (1 - p ~ 1e-40) keeps
    # full relative precision, where g - p sum(g) would round it to 0.
    total = apply("sum", g, axis=axis, keepdims=True)
    keep = apply("mul", apply("neg", apply("expm1", r)), g)
    return apply("sub", keep, apply("mul", apply("exp", r), apply("sub", total, g)))


def _sym_softmax(x, axis, log):
    e = np.frompyfunc(sp.exp, 1, 1)(x)
    total = np.sum(e, axis=axis, keepdims=True)
    if log:
        return x - np.frompyfunc(sp.log, 1, 1)(total)
    return e / total


def _log_softmax_out(a, node, out, s, ctx):
    axis = node.kw["axis"]
    x = a[0]
    return [f"np.subtract({x}, np.max({x}, axis={axis}, keepdims=True), out={out})",
            f"np.exp({out}, out={s[0]})",
            f"np.subtract({out}, np.log(np.sum({s[0]}, axis={axis}, keepdims=True)), out={out})"]


def _softmax_out(a, node, out, s, ctx):
    axis = node.kw["axis"]
    x = a[0]
    return [f"np.subtract({x}, np.max({x}, axis={axis}, keepdims=True), out={out})",
            f"np.exp({out}, out={out})",
            f"np.divide({out}, np.sum({out}, axis={axis}, keepdims=True), out={out})"]


def _scalar_softmax(log):
    """Straight-line code's (log_)softmax: the row maximum m subtracted first, so exp never
    overflows: e = exp(x - m), log_softmax = (x - m) - log(sum e), softmax = e / sum e.
    (The proofs' evaluation keeps the plain formula, which sympy differentiates.)"""
    def evaluate(args, node, ctx):
        xs = np.moveaxis(np.asarray(args[0], dtype=object), node.kw["axis"], -1)
        m = np.empty(xs.shape[:-1], dtype=object)
        for idx in np.ndindex(*m.shape):
            m[idx] = sp.Max(*xs[idx])
        shifted = xs - m[..., None]
        e = np.frompyfunc(sp.exp, 1, 1)(shifted)
        total = np.sum(e, axis=-1, keepdims=True)
        out = shifted - np.frompyfunc(sp.log, 1, 1)(total) if log else e / total
        return np.moveaxis(out, -1, node.kw["axis"])
    return ScalarForm(evaluate=evaluate)


def _softmax_rule(op, vjp, impl, latex_name, log, words=()):
    def numpy_form(args, node, ctx):
        ctx.helper(impl)
        return Printed(f"{op}({args[0].text}, axis={node.kw['axis']})")

    def evaluate(args, node, ctx):
        if ctx.symbolic:
            return _sym_softmax(args[0], node.kw["axis"], log)
        return impl(args[0], axis=node.kw["axis"])

    return RULES.add(Rule(
        op, "reduce", 1, _softmax_shape(op), (vjp,), numpy=numpy_form,
        latex=lambda args, node, ctx: Printed(f"{latex_name}\\left({args[0].text}\\right)"),
        evaluate=evaluate, simplify=_softmax_simplify(op),
        doc=f"{op}(a, axis=-1), normalised along one axis",
        numpy_out=OutForm(_log_softmax_out, scratch=1, elementwise=False) if log
        else OutForm(_softmax_out, elementwise=False),
        scalar_code=_scalar_softmax(log), signature=arrays(1) + (Arg("axis", AXIS, -1, keyword=True),),
        latex_words=words, samples=((((2, 3),), {"axis": 1}), (((2, 3),), {"axis": 0}), (((3,),), {}))))


def _register_softmax():
    from .. import runtime

    _softmax_rule("softmax", _softmax_vjp, runtime.softmax, r"\operatorname{softmax}", False, ("softmax",))
    _softmax_rule("log_softmax", _log_softmax_vjp, runtime.log_softmax, r"\operatorname{log\,softmax}", True,
                  ("logsoftmax",))


_register_softmax()

