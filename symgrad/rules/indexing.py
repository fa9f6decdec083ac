"""Integer labels and indices, and reshapes (DESIGN.md, "Indexing and shapes").

``one_hot(y)`` (labels to rows), ``pick(Z, y)`` (``Z[i, y_i]``), ``rows(C, ix)``
(``C[ix]``; its adjoint :func:`scatter_rows` adds the rows of repeated
indices), ``reshape(x, d1, d2, ...)`` and ``flatten(x)`` (keeps axis 0).

The integer argument of each (``Rule.extra["integer"]``: its positions) must be
an input of kind ``label`` or ``index`` (graph.py checks); it is never
differentiated. ``Rule.extra["bound"]`` names the attribute the lowering fills
from that input's ``classes`` or ``size`` when the call leaves it out.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError
from ..ir import show_shape
from .core import ANSWER, ARRAY, POSTFIX, RULES, SIZE, SIZES, Arg, Printed, Rule, apply, wrap


#: their family: not "structure", so the straight-line scalar step (which fixes every entry when the
#: module is generated) leaves a net with integer inputs to the array step
INDEXING = "indexing"


def _runtime(name):
    from .. import runtime
    return getattr(runtime, name)


def _integers(x):
    """An integer array's values as numpy indices (a symbolic evaluation holds them as sympy Integers)."""
    return np.asarray(x).astype(np.int64)


# ---------------------------------------------------------------- one_hot

def _one_hot_shape(shapes, classes):
    (y,) = shapes
    if not (len(y) == 1 or (len(y) == 2 and y[1] == 1)):
        raise ShapeError(f"one_hot takes labels of shape (n,) or (n, 1), got {show_shape(y)}")
    return (y[0], classes)


def _one_hot_numpy(args, node, ctx):
    ctx.helper(_runtime("one_hot"))
    ctx.uses_dtype = True
    return Printed(f"one_hot({args[0].text}, {ctx.dim(node.kw['classes'])}, dtype)")


def _one_hot_evaluate(args, node, ctx):
    k = ctx.size(node.kw["classes"])
    eye = np.eye(k, dtype=int).astype(object) if ctx.symbolic else np.eye(k, dtype=ctx.dtype)
    if ctx.symbolic:
        eye = np.vectorize(sp.Integer, otypes=[object])(eye)
    return eye[_integers(args[0]).reshape(-1)]


RULES.add(Rule(
    "one_hot", INDEXING, 1, _one_hot_shape, (None,),
    numpy=_one_hot_numpy,
    latex=lambda args, node, ctx: Printed(f"\\operatorname{{onehot}}\\left({args[0].text}\\right)"),
    evaluate=_one_hot_evaluate, domain="index",
    notation=r"$\operatorname{onehot}(y)$ has one row per label: row $i$ is 1 in column $y_i$ and 0 elsewhere.",
    doc="one_hot(y): row y_i of the identity for each label (shape (n, classes))",
    signature=(Arg("y", ARRAY), Arg("classes", SIZE, keyword=True)), extra={"integer": (0,), "bound": "classes"},
    samples=((((3,),), {"classes": sp.Integer(3)}),)))


# ---------------------------------------------------------------- pick

def _pick_shape(shapes):
    z, y = shapes
    if len(z) != 2:
        raise ShapeError(f"pick takes a 2-D array of scores, got {show_shape(z)}")
    if not (len(y) == 1 or (len(y) == 2 and y[1] == 1)) or y[0] != z[0]:
        raise ShapeError(f"pick needs one label per row of {show_shape(z)}: labels of shape ({z[0]},), "
                         f"got {show_shape(y)}")
    return (z[0],)


def _pick_vjp(g, r, z, y):
    return apply("mul", apply("expand_dims", g, axis=1), apply("one_hot", y, classes=z.shape[1]))


def _pick_numpy(args, node, ctx):
    ctx.helper(_runtime("pick"))
    return Printed(f"pick({args[0].text}, {args[1].text})")


def _pick_evaluate(args, node, ctx):
    z = args[0]
    return z[np.arange(z.shape[0]), _integers(args[1]).reshape(-1)]


RULES.add(Rule(
    "pick", INDEXING, 2, _pick_shape, (_pick_vjp, None),
    numpy=_pick_numpy,
    latex=lambda args, node, ctx: Printed(f"\\operatorname{{pick}}\\left({args[0].text}, {args[1].text}\\right)"),
    evaluate=_pick_evaluate, domain=("real", "index"),
    notation=r"$\operatorname{pick}(Z, y)$ takes one entry per row: entry $i$ is $Z_{i, y_i}$.",
    doc="pick(Z, y): Z[i, y_i] for every row i (also written Z[range(n), y])",
    extra={"integer": (1,), "bound_of": (0, 1)}, samples=((((3, 4), (3,)), {}),)))


# ---------------------------------------------------------------- rows and their adjoint

def _rows_shape(shapes):
    c, ix = shapes
    if len(c) != 2:
        raise ShapeError(f"rows takes a 2-D table, got {show_shape(c)}")
    if len(ix) + 1 > 4:
        raise ShapeError(f"rows of indices of shape {show_shape(ix)} would have {len(ix) + 1} dimensions "
                         "(at most 4)")
    return tuple(ix) + (c[1],)


def _rows_numpy(args, node, ctx):
    return Printed(f"{wrap(args[0], POSTFIX)}[{args[1].text}]", POSTFIX)


RULES.add(Rule(
    "rows", INDEXING, 2, _rows_shape,
    (lambda g, r, c, ix: apply("scatter_rows", g, ix, size=c.shape[0]), None),
    numpy=_rows_numpy,
    latex=lambda args, node, ctx: Printed(f"\\operatorname{{rows}}\\left({args[0].text}, {args[1].text}\\right)"),
    evaluate=lambda args, node, ctx: args[0][_integers(args[1])], domain=("real", "index"),
    notation=(r"$\operatorname{rows}(C, \mathit{ix})$ looks rows up in the table $C$: row $k$ of the result is "
              r"row $\mathit{ix}_k$ of $C$."),
    doc="rows(C, ix): row ix of C for every index (C[ix]; shape ix.shape + (D,))",
    extra={"integer": (1,), "bound_of": (0, 0)}, samples=((((3, 2), (4,)), {}), (((3, 2), (2, 3)), {}))))


def _scatter_shape(shapes, size):
    g, ix = shapes
    if tuple(g[:len(ix)]) != tuple(ix) or len(g) != len(ix) + 1:
        raise ShapeError(f"scatter_rows needs rows of shape {show_shape(ix)} + (D,), got {show_shape(g)}")
    return (size, g[-1])


def _scatter_numpy(args, node, ctx):
    ctx.helper(_runtime("scatter_rows"))
    return Printed(f"scatter_rows({args[0].text}, {args[1].text}, {ctx.dim(node.kw['size'])})")


def _scatter_evaluate(args, node, ctx):
    g, ix = np.asarray(args[0]), _integers(args[1])
    size = ctx.size(node.kw["size"])
    out = np.full((size, g.shape[-1]), sp.Integer(0), dtype=object) if ctx.symbolic else \
        np.zeros((size, g.shape[-1]), dtype=g.dtype)
    np.add.at(out, ix, g)
    return out


RULES.add(Rule(
    "scatter_rows", INDEXING, 2, _scatter_shape,
    (lambda g, r, rows, ix, size: apply("rows", g, ix), None),
    numpy=_scatter_numpy,
    latex=lambda args, node, ctx: Printed(
        f"\\operatorname{{scatter}}_{{{sp.latex(node.kw['size'])}}}\\left({args[0].text}, {args[1].text}\\right)"),
    evaluate=_scatter_evaluate, domain=("real", "index"), language=ANSWER,
    notation=(r"$\operatorname{scatter}_V(G, \mathit{ix})$ is the adjoint of $\operatorname{rows}$: a $V$-row "
              r"table of zeros with row $k$ of $G$ added into row $\mathit{ix}_k$, so an index that occurs twice "
              r"collects both rows."),
    doc="scatter_rows(G, ix, size=V): a (V, D) zero table with row G[k] added at row ix[k] (the adjoint of rows)",
    signature=(Arg("g", ARRAY), Arg("ix", ARRAY), Arg("size", SIZE, keyword=True)),
    extra={"integer": (1,)}, samples=((((4, 2), (4,)), {"size": sp.Integer(3)}),)))


# ---------------------------------------------------------------- reshape, flatten

def _product(dims):
    return sp.Mul(*dims) if dims else sp.Integer(1)


def _reshape_shape(shapes, shape):
    (a,) = shapes
    if not 1 <= len(shape) <= 4:
        raise ShapeError(f"reshape to {len(shape)} dimensions (at most 4)")
    if sp.expand(_product(a) - _product(shape)) != 0:
        raise ShapeError(f"reshape of {show_shape(a)} ({_product(a)} entries) to {show_shape(shape)} "
                         f"({_product(shape)} entries): the sizes do not multiply out")
    return tuple(shape)


RULES.add(Rule(
    "reshape", "structure", 1, _reshape_shape, (lambda g, r, a, shape: apply("reshape", g, shape=a.shape),),
    numpy=lambda args, node, ctx: Printed(f"np.reshape({args[0].text}, {ctx.shape(node.kw['shape'])})"),
    latex=lambda args, node, ctx: Printed(
        "\\operatorname{reshape}_{" + " \\times ".join(sp.latex(d) for d in node.kw["shape"]) + "}"
        f"\\left({args[0].text}\\right)"),
    evaluate=lambda args, node, ctx: np.reshape(args[0], ctx.shape(node.kw["shape"])),
    notation=(r"$\operatorname{reshape}_{a \times b}(X)$ holds the entries of $X$ in the same row-major "
              r"order, arranged as $a \times b$."),
    doc="reshape(x, d1, d2, ...): the same entries in row-major order, in a new shape",
    signature=(Arg("x", ARRAY), Arg("shape", SIZES)),
    samples=((((2, 3),), {"shape": (sp.Integer(3), sp.Integer(2))}),
             (((2, 3, 2),), {"shape": (sp.Integer(2), sp.Integer(6))}))))


def _flatten_shape(shapes):
    (a,) = shapes
    if len(a) < 2:
        raise ShapeError(f"flatten keeps axis 0 and joins the others; {show_shape(a)} has no others")
    return (a[0], _product(a[1:]))


RULES.add(Rule(
    "flatten", "structure", 1, _flatten_shape, (lambda g, r, a: apply("reshape", g, shape=a.shape),),
    numpy=lambda args, node, ctx: Printed(f"np.reshape({args[0].text}, (np.shape({args[0].text})[0], -1))"),
    latex=lambda args, node, ctx: Printed(f"\\operatorname{{flatten}}\\left({args[0].text}\\right)"),
    evaluate=lambda args, node, ctx: np.reshape(args[0], (np.shape(args[0])[0], -1)),
    notation=(r"$\operatorname{flatten}(X)$ keeps the first axis of $X$ and lays the others out in one "
              r"row, in row-major order."),
    doc="flatten(x): x as (x.shape[0], the product of the other sizes)",
    samples=((((2, 3, 2),), {}), (((2, 3),), {}))))
