"""Linear algebra: matrix product (numpy's ``@`` on 1-D and 2-D arrays),
transpose and outer product.

``@`` follows numpy: a 1-D left operand is a row, a 1-D right operand a column,
and the result drops those axes. The VJPs are written per case so that every
adjoint has exactly the shape of its input (denominator layout).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import Apply, show_shape
from .core import INFIX, MUL, POSTFIX, POSTFIX_OP, RULES, OutForm, Printed, Rule, apply, wrap


def _matmul_shape(shapes):
    a, b = shapes
    if len(a) == 0 or len(b) == 0:
        raise ShapeError(f"'@' needs arrays, got shapes {show_shape(a)} and {show_shape(b)}; "
                         "use '*' to scale by a scalar")
    if len(a) > 2 or len(b) > 2:
        raise ShapeError(f"'@' supports 1-D and 2-D arrays, got {show_shape(a)} and {show_shape(b)}")
    inner_a = a[-1]
    inner_b = b[0]
    if inner_a != inner_b:
        raise ShapeError(f"'@' inner sizes differ: {show_shape(a)} @ {show_shape(b)} "
                         f"({inner_a} against {inner_b})")
    return tuple(a[:-1]) + tuple(b[1:])


def _matmul_vjp_a(g, r, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return apply("matmul", g, apply("transpose", b))       # G B^T
    if a.ndim == 2:
        return apply("outer", g, b)                            # g b^T
    if b.ndim == 2:
        return apply("matmul", b, g)                           # B g
    return apply("mul", g, b)                                  # scalar g times b


def _matmul_vjp_b(g, r, a, b):
    if a.ndim == 2:
        return apply("matmul", apply("transpose", a), g)       # A^T G
    if b.ndim == 2:
        return apply("outer", a, g)                            # a g^T
    return apply("mul", g, a)


def transposed_latex(p: Printed) -> str:
    """``p^\\top``, parenthesised when p already carries a superscript (W^{(1)})."""
    text = wrap(p, POSTFIX)
    if "^" in text and text == p.text:
        text = f"\\left({text}\\right)"
    return f"{text}^\\top"


def _matmul_latex(args, node, ctx):
    a, b = node.args
    if a.ndim == 1:   # a 1-D left operand is a row: the transpose of a column vector
        return Printed(f"{transposed_latex(args[0])} {wrap(args[1], MUL + 1)}", MUL)
    return Printed(f"{wrap(args[0], MUL)} {wrap(args[1], MUL + 1)}", MUL)


RULES.add(Rule(
    "matmul", "linalg", 2, _matmul_shape, (_matmul_vjp_a, _matmul_vjp_b),
    numpy=lambda args, node, ctx: Printed(f"{wrap(args[0], MUL)} @ {wrap(args[1], MUL + 1)}", MUL),
    latex=_matmul_latex,
    evaluate=lambda args, node, ctx: ctx.matmul(args[0], args[1]),
    doc="a @ b, the matrix product (1-D operands as in numpy)", syntax=INFIX, spelling="@",
    samples=tuple(((a, b), {}) for a, b in [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,))]),
    numpy_out=OutForm(lambda a, node, out, s, ctx: [f"np.matmul({a[0]}, {a[1]}, out={out})"], elementwise=False)))


def _transpose_shape(shapes):
    (a,) = shapes
    return tuple(reversed(a))


def _transpose_simplify(args, attrs, shape):
    (a,) = args
    if a.ndim < 2:
        return a  # numpy: .T of a vector or scalar is itself
    if isinstance(a, Apply) and a.op == "transpose":
        return a.args[0]
    return None


RULES.add(Rule(
    "transpose", "linalg", 1, _transpose_shape,
    (lambda g, r, a: apply("transpose", g),),
    numpy=lambda args, node, ctx: Printed(f"{wrap(args[0], POSTFIX)}.T", POSTFIX),
    latex=lambda args, node, ctx: Printed(transposed_latex(args[0]), POSTFIX),
    evaluate=lambda args, node, ctx: np.transpose(args[0]),
    simplify=_transpose_simplify, doc="a.T, the transpose (identity on vectors)",
    syntax=POSTFIX_OP, spelling=".T", inline=True))


def _outer_shape(shapes):
    a, b = shapes
    if len(a) != 1 or len(b) != 1:
        raise ShapeError(f"outer needs two vectors, got {show_shape(a)} and {show_shape(b)}")
    return (a[0], b[0])


RULES.add(Rule(
    "outer", "linalg", 2, _outer_shape,
    (lambda g, r, a, b: apply("matmul", g, b), lambda g, r, a, b: apply("matmul", apply("transpose", g), a)),
    numpy=lambda args, node, ctx: Printed(f"np.outer({args[0].text}, {args[1].text})"),
    latex=lambda args, node, ctx: Printed(f"{wrap(args[0], MUL)} {transposed_latex(args[1])}", MUL),
    evaluate=lambda args, node, ctx: np.multiply.outer(args[0], args[1]),
    doc="outer(a, b) = a b^T for vectors", samples=((((2,), (3,)), {}),)))
