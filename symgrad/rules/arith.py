"""Element-wise arithmetic with numpy broadcasting: + - * / ** and negation.

Broadcasting is handled once, here: the :func:`broadcasting` helper wraps every
VJP of a broadcasting operation in :func:`sum_to`, so the adjoint of a bias
broadcast over a batch is summed over the batch, whatever the operation.
"""

from __future__ import annotations

import sympy as sp

from ..errors import ShapeError
from ..ir import Apply, Const, Expr, is_const, show_shape
from .core import (ADD, ANSWER, ATOM, INFIX, MUL, NUMBER, POW, POWER, PREFIX, RULES, SIZES, UNARY, Arg, OutForm,
                   Printed, Rule, apply, arrays, infix, ufunc_out, wrap)

# where the per-rule gradient test applies a broadcasting operation: equal shapes, a bias row
_BROADCAST_SAMPLES = ((((2, 3), (2, 3)), {}), (((2, 3), (3,)), {}), (((1, 3), (2, 1)), {}))


def broadcast_shapes(s1, s2):
    """numpy's broadcasting rule on symbolic shapes."""
    out = []
    for i in range(1, max(len(s1), len(s2)) + 1):
        d1 = s1[-i] if i <= len(s1) else sp.Integer(1)
        d2 = s2[-i] if i <= len(s2) else sp.Integer(1)
        if d1 == d2 or d2 == 1:
            out.append(d1)
        elif d1 == 1:
            out.append(d2)
        else:
            raise ShapeError(f"shapes {show_shape(s1)} and {show_shape(s2)} do not broadcast "
                             f"(size {d1} against {d2})")
    return tuple(reversed(out))


def sum_to(g: Expr, shape) -> Expr:
    """Sum g down to ``shape``, undoing numpy broadcasting (the adjoint of a broadcast)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = apply("sum", g, axis=tuple(range(lead)) if lead > 1 else 0)
    kept = tuple(i for i, (dg, ds) in enumerate(zip(g.shape, shape)) if ds == 1 and dg != 1)
    if kept:
        g = apply("sum", g, axis=kept if len(kept) > 1 else kept[0], keepdims=True)
    return g


def _drop_broadcast(args, shape):
    """x + broadcast_to(c, s) == x + c when x alone already has the result shape."""
    out = list(args)
    changed = False
    for i, a in enumerate(args):
        other = args[1 - i]
        if isinstance(a, Apply) and a.op == "broadcast_to" and tuple(other.shape) == tuple(shape):
            out[i] = a.args[0]
            changed = True
    return out if changed else None


def broadcasting(name, symbol, *, numpy, latex, evaluate, vjps, sympy, simplify=None, doc="", numpy_out=None,
                 domain="real"):
    """An element-wise binary operation with numpy broadcasting, written ``a <symbol> b``."""

    def shape(shapes, **attrs):
        return broadcast_shapes(*shapes)

    def wrapped(vjp, index):
        def go(g, r, a, b, **attrs):
            return sum_to(vjp(g, r, a, b), (a, b)[index].shape)
        return go

    def simplify_all(args, attrs, shape):
        dropped = _drop_broadcast(args, shape)
        if dropped is not None:
            return apply(name, *dropped)
        return simplify(args, shape) if simplify else None

    return RULES.add(Rule(name, "arith", 2, shape, tuple(wrapped(v, i) for i, v in enumerate(vjps)),
                          numpy, latex, evaluate, simplify_all, doc=doc, numpy_out=numpy_out, domain=domain,
                          syntax=INFIX, spelling=symbol, sympy=sympy, samples=_BROADCAST_SAMPLES))


def _fold(op, a: Const, b: Const):
    return Const(sp.simplify(op(a.value, b.value)))


def _simplify_add(args, shape):
    a, b = args
    if is_const(a) and is_const(b):
        return _fold(lambda x, y: x + y, a, b)
    if is_const(b, 0) and tuple(a.shape) == tuple(shape):
        return a
    if is_const(a, 0) and tuple(b.shape) == tuple(shape):
        return b
    if isinstance(b, Apply) and b.op == "neg":
        return apply("sub", a, b.args[0])
    return None


def _simplify_sub(args, shape):
    a, b = args
    if is_const(a) and is_const(b):
        return _fold(lambda x, y: x - y, a, b)
    if is_const(b, 0) and tuple(a.shape) == tuple(shape):
        return a
    if is_const(a, 0) and tuple(b.shape) == tuple(shape):
        return apply("neg", b)
    return None


def _simplify_mul(args, shape):
    a, b = args
    if is_const(a) and is_const(b):
        return _fold(lambda x, y: x * y, a, b)
    if is_const(b) and not is_const(a):
        a, b = b, a  # constants first: 2 * x
    if is_const(a, 1) and tuple(b.shape) == tuple(shape):
        return b
    if is_const(a, -1) and tuple(b.shape) == tuple(shape):
        return apply("neg", b)
    if is_const(a) and isinstance(b, Apply) and b.op == "mul" and is_const(b.args[0]):
        return apply("mul", _fold(lambda x, y: x * y, a, b.args[0]), b.args[1])
    if is_const(a) and isinstance(b, Apply) and b.op == "neg":
        return apply("mul", Const(-a.value), b.args[0])
    if (a, b) != tuple(args):
        return apply("mul", a, b)
    return None


def _simplify_div(args, shape):
    a, b = args
    if is_const(a) and is_const(b):
        return _fold(lambda x, y: x / y, a, b)
    if is_const(b, 1) and tuple(a.shape) == tuple(shape):
        return a
    if is_const(b) and not is_const(a):
        return apply("mul", Const(1 / b.value), a)
    return None


# The element-wise product binds less tightly than juxtaposition (a matrix
# product or a scalar factor) and more tightly than +; a matrix product inside
# it is parenthesised as well, so a formula reads the same whichever of the two
# conventions its reader uses: (X W) \odot C, X^\top (G \odot D).
HADAMARD = MUL - 5


def _hadamard_operand(p: Printed, e, minimum: int) -> str:
    juxtaposed = isinstance(e, Apply) and e.op in ("matmul", "outer") and e.ndim > 0
    return f"({p.text})" if juxtaposed and p.prec <= MUL else wrap(p, minimum)


def _mul_latex(args, node, ctx):
    a, b = node.args
    if a.ndim == 0 or b.ndim == 0:
        return Printed(f"{wrap(args[0], MUL)} {wrap(args[1], MUL + 1)}", MUL)
    return Printed(f"{_hadamard_operand(args[0], a, HADAMARD)} \\odot "
                   f"{_hadamard_operand(args[1], b, HADAMARD + 1)}", HADAMARD)


def _div_latex(args, node, ctx):
    return Printed(f"\\frac{{{args[0].text}}}{{{args[1].text}}}", ATOM)


add = broadcasting(
    "add", "+", sympy=lambda a, kw: a[0] + a[1],
    numpy=infix(" + ", ADD, strict_right=False), latex=infix(" + ", ADD, strict_right=False),
    evaluate=lambda args, node, ctx: args[0] + args[1],
    vjps=(lambda g, r, a, b: g, lambda g, r, a, b: g), simplify=_simplify_add,
    doc="a + b, element-wise with broadcasting", numpy_out=ufunc_out("add"))

sub = broadcasting(
    "sub", "-", sympy=lambda a, kw: a[0] - a[1], numpy=infix(" - ", ADD), latex=infix(" - ", ADD),
    evaluate=lambda args, node, ctx: args[0] - args[1],
    vjps=(lambda g, r, a, b: g, lambda g, r, a, b: apply("neg", g)), simplify=_simplify_sub,
    doc="a - b, element-wise with broadcasting", numpy_out=ufunc_out("subtract"))

mul = broadcasting(
    "mul", "*", sympy=lambda a, kw: a[0] * a[1], numpy=infix(" * ", MUL), latex=_mul_latex,
    evaluate=lambda args, node, ctx: args[0] * args[1],
    vjps=(lambda g, r, a, b: apply("mul", g, b), lambda g, r, a, b: apply("mul", g, a)),
    simplify=_simplify_mul,
    doc="a * b, element-wise (Hadamard) with broadcasting", numpy_out=ufunc_out("multiply"))

div = broadcasting(
    "div", "/", sympy=lambda a, kw: a[0] / a[1], domain=("real", "nonzero"), numpy=infix(" / ", MUL), latex=_div_latex,
    evaluate=lambda args, node, ctx: args[0] / args[1],
    vjps=(lambda g, r, a, b: apply("div", g, b),
          lambda g, r, a, b: apply("neg", apply("div", apply("mul", g, r), b))),
    simplify=_simplify_div,
    doc="a / b, element-wise with broadcasting", numpy_out=ufunc_out("divide"))


def _neg_simplify(args, attrs, shape):
    (a,) = args
    if isinstance(a, Const):
        return Const(-a.value)
    if isinstance(a, Apply) and a.op == "neg":
        return a.args[0]
    if isinstance(a, Apply) and a.op == "mul" and is_const(a.args[0]):
        return apply("mul", Const(-a.args[0].value), a.args[1])
    return None


RULES.add(Rule(
    "neg", "arith", 1, lambda shapes: shapes[0],
    (lambda g, r, a: apply("neg", g),),
    numpy=lambda args, node, ctx: Printed(f"-{wrap(args[0], UNARY)}", UNARY),
    latex=lambda args, node, ctx: Printed(f"-{wrap(args[0], UNARY)}", UNARY),
    evaluate=lambda args, node, ctx: -args[0],
    simplify=_neg_simplify, doc="-a", numpy_out=ufunc_out("negative"),
    syntax=PREFIX, spelling="-", sympy=lambda a, kw: -a[0]))


def _pow_shape(shapes, exponent):
    return shapes[0]


def _pow_vjp(g, r, a, exponent):
    c = Const(exponent)
    if exponent == 2:
        return apply("mul", apply("mul", Const(2), a), g)
    return apply("mul", apply("mul", c, apply("pow", a, exponent=exponent - 1)), g)


def _pow_simplify(args, attrs, shape):
    exponent = attrs["exponent"]
    if exponent == 1:
        return args[0]
    if isinstance(args[0], Const):
        return Const(args[0].value ** exponent)
    return None


def _pow_numpy(args, node, ctx):
    return Printed(f"{wrap(args[0], POW + 1)} ** {ctx.scalar(node.kw['exponent'], POW + 1)}", POW)


def _pow_out(a, node, out, s, ctx):
    e = node.kw["exponent"]
    if e == 2:
        return [f"np.multiply({a[0]}, {a[0]}, out={out})"]
    return [f"np.power({a[0]}, {ctx.scalar(e)}, out={out})"]


def _pow_latex(args, node, ctx):
    e = node.kw["exponent"]
    exp_text = sp.latex(e)
    if e == sp.Rational(1, 2):
        return Printed(f"\\sqrt{{{args[0].text}}}", ATOM)
    base = wrap(args[0], ATOM)   # only a name or a bracketed form takes an exponent
    if "^" in base and base == args[0].text:   # W^{(1)} squared: (W^{(1)})^{2}, not a double superscript
        base = f"\\left({base}\\right)"
    return Printed(f"{base}^{{{exp_text}}}", POW)


RULES.add(Rule(
    "pow", "arith", 1, _pow_shape, (_pow_vjp,),
    numpy=_pow_numpy, latex=_pow_latex,
    evaluate=lambda args, node, ctx: args[0] ** ctx.number(node.kw["exponent"]),
    simplify=_pow_simplify, doc="a ** c for a constant exponent c", numpy_out=OutForm(_pow_out),
    syntax=POWER, spelling="**", signature=arrays(1) + (Arg("exponent", NUMBER),),
    sympy=lambda a, kw: a[0] ** kw["exponent"], domain="positive",   # a fractional power needs a > 0
    samples=((((2, 3),), {"exponent": sp.Integer(2)}), (((2, 3),), {"exponent": sp.Integer(3)}),
             (((2, 3),), {"exponent": sp.Rational(-3, 2)}))))


def _broadcast_shape(shapes, shape):
    broadcast_shapes(shapes[0], shape)
    return tuple(shape)


def _broadcast_simplify(args, attrs, shape):
    return args[0] if tuple(args[0].shape) == tuple(shape) else None


RULES.add(Rule(
    "broadcast_to", "arith", 1, _broadcast_shape,
    (lambda g, r, a, shape: sum_to(g, a.shape),),
    numpy=lambda args, node, ctx: Printed(f"np.broadcast_to({args[0].text}, {ctx.shape(node.kw['shape'])})"),
    latex=lambda args, node, ctx: args[0],
    evaluate=lambda args, node, ctx: ctx.broadcast(args[0], node.kw["shape"]),
    simplify=_broadcast_simplify, doc="a repeated to a larger shape (numpy broadcasting)",
    language=ANSWER, signature=arrays(1) + (Arg("shape", SIZES),),
    samples=tuple(((shape,), {"shape": (sp.Integer(2), sp.Integer(3))}) for shape in [(3,), (2, 1)]),
    # np.copyto broadcasts an array (a row sum's gradient, (n, 1) -> (n, w)) as well as a scalar
    numpy_out=OutForm(lambda a, node, out, s, ctx: [f"np.copyto({out}, {a[0]})"], returns=False)))
