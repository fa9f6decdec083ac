"""The rule table: one entry per operation, and the helpers that build entries.

Vocabulary used by every vector-Jacobian product (VJP) in the table:

``g``
    the adjoint of the operation's result (dL/dresult), an IR expression with
    the result's shape;
``r``
    the result itself (a Var naming the forward value), so derivatives such as
    sigmoid' = r (1 - r) reuse the forward pass;
``a, b, ...`` / ``x``
    the operation's inputs, in order;
``**attrs``
    the operation's static attributes (``axis``, ``keepdims``, ``slope``...).

A VJP returns the adjoint contribution for its input, with that input's shape.
``None`` in place of a VJP marks an input that is not differentiable.

Printing forms receive their arguments already printed, as :class:`Printed`
(text plus precedence), and return a Printed; they decide nothing about the
arguments beyond parenthesising them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ShapeError
from ..ir import Apply, Expr

# Precedence levels shared by the numpy and LaTeX printers.
ADD, MUL, UNARY, POW, POSTFIX, ATOM = 60, 70, 80, 90, 95, 100


@dataclass(frozen=True)
class Printed:
    text: str
    prec: int = ATOM


def wrap(p: Printed, minimum: int, paren=("(", ")")) -> str:
    """The text of p, parenthesised when its precedence is below minimum."""
    return p.text if p.prec >= minimum else f"{paren[0]}{p.text}{paren[1]}"


@dataclass(frozen=True)
class Rule:
    """Everything symgrad knows about one operation.

    Attributes:
        name: The operation's name in the IR (and in the spec language unless
            ``spelling`` says otherwise).
        family: arith | linalg | reduce | structure | elementwise.
        arity: Number of array inputs, None when variadic (concat).
        shape: (arg_shapes, **attrs) -> result shape; raises ShapeError.
        vjps: One VJP per input (None: not differentiable); for a variadic
            operation a single callable (index, g, r, *args, **attrs).
        numpy: (args: list[Printed], node: Apply, ctx) -> Printed.
        latex: (args: list[Printed], node: Apply, ctx) -> Printed.
        evaluate: (args: list[array], attrs: dict, ctx) -> array, for both
            float arrays and object arrays of sympy expressions (ctx.symbolic).
        simplify: Optional (args, attrs) -> Expr | None, applied when the
            operation is built (algebraic identities such as x * 1 = x).
        kinks: Points where an element-wise function is not differentiable.
        domain: Where gradient checks sample this operation's first input:
            real | positive.
        doc: One line for documentation.
        numpy_out: Optional :class:`OutForm`, how the compiled step writes the
            result into a reused array (``out=``); without one the step prints
            ``numpy`` and allocates.
        scalar_code: Optional :class:`ScalarForm`, how straight-line float code
            for a tiny fixed-size net computes it; without one (element-wise
            and reduce families) such a net gets the array step.
        internal: True for an operation no language spells: the compiled
            step's own parts (:mod:`symgrad.rules.internal`).
    """

    name: str
    family: str
    arity: int | None
    shape: Callable
    vjps: Any
    numpy: Callable
    latex: Callable
    evaluate: Callable
    simplify: Callable | None = None
    kinks: tuple = ()
    domain: str = "real"
    doc: str = ""
    extra: dict = field(default_factory=dict)
    numpy_out: "OutForm | None" = None
    scalar_code: "ScalarForm | None" = None
    internal: bool = False

    def vjp(self, index: int) -> Callable | None:
        """The VJP for input ``index`` (None when it is not differentiable)."""
        if callable(self.vjps):
            vjps = self.vjps
            return lambda *args, **attrs: vjps(index, *args, **attrs)
        return self.vjps[index]

    def differentiable(self, index: int) -> bool:
        return callable(self.vjps) or self.vjps[index] is not None


FLOAT, MASK, ZEROS, ONES = "float", "bool", "zeros", "ones"


@dataclass(frozen=True)
class OutForm:
    """How the compiled step writes one operation's result into a given array.

    code: (args: list[str], node: Apply, out: str, scratch: list[str], ctx) -> lines,
        args already printed, ctx the numpy printer.
    kind: FLOAT, or MASK for a boolean result.
    scratch: how many extra float arrays of the result's shape it needs.
    constant: (node) -> (shape, ZEROS or ONES) or None: a read-only array of the
        workspace the form reads, passed after the scratch arrays; one per shape and
        fill, shared by every operation that asks for it. A zero row, because numpy
        runs np.maximum(x, row) with its vector loop and np.maximum(x, 0) element by
        element; a ones vector, because a row or column sum of an array still in
        cache runs as a BLAS matrix-vector product 1.5-4x faster than np.add.reduce.
    elementwise: True when ``out`` may be one of the inputs (numpy ufuncs allow it).
    returns: False when the last line does not evaluate to ``out``.
    early: True when the step should run it right after its one argument is
        computed, while that array is in cache: a sum along an axis (its BLAS form
        is fast only then) and the ReLU mask (made in the forward pass, it leaves
        the pre-activation dead after ReLU, which then runs in place).
    scalar: (args, ctx) -> an expression for a result with no array (shape ()). Only
        the step's own operations need it: every rule's operation prints such a
        result with the rule's own numpy form.
    """

    code: Callable
    kind: str = FLOAT
    scratch: int = 0
    constant: Callable | None = None
    elementwise: bool = True
    returns: bool = True
    early: bool = False
    scalar: Callable | None = None


def ufunc_out(name: str, *extra: str) -> OutForm:
    """``np.<name>(args..., extra..., out=out)``."""
    tail = "".join(f", {e}" for e in extra)
    return OutForm(lambda a, node, out, s, ctx: [f"np.{name}({', '.join(a)}{tail}, out={out})"])


def against_zero(name: str) -> OutForm:
    """``np.<name>(x, zeros, out=out)``: x against a zero row (0 when the result is a scalar)."""
    return OutForm(lambda a, node, out, s, ctx: [f"np.{name}({a[0]}, {s[-1] if s else 0}, out={out})"],
                   constant=zero_row)


def zero_row(node) -> tuple | None:
    """The zeros a comparison with 0 reads: one row of the result (None for a scalar)."""
    return ((node.shape[-1],), ZEROS) if node.shape else None


@dataclass(frozen=True)
class ScalarForm:
    """How straight-line Python float code computes one operation.

    code: for an element-wise function, a Python expression with ``{0}`` for
        the argument (``"math.tanh({0})"``), or a float function whose source
        is copied into the generated module and called by its name.
    evaluate: (args: object arrays, node) -> object array of sympy expressions,
        when the code must be computed differently from the proofs' symbolic
        evaluation (softmax subtracts the row maximum); None: the rule's own
        ``evaluate``.
    """

    code: Any = None
    evaluate: Callable | None = None


class RuleTable:
    """All operations, by name. Filled once at import by the family modules."""

    def __init__(self):
        self._rules: dict[str, Rule] = {}

    def add(self, rule: Rule) -> Rule:
        if rule.name in self._rules:
            raise ValueError(f"operation {rule.name!r} declared twice")
        self._rules[rule.name] = rule
        return rule

    def __getitem__(self, name: str) -> Rule:
        return self._rules[name]

    def __contains__(self, name: str) -> bool:
        return name in self._rules

    def __iter__(self):
        return iter(self._rules.values())

    def names(self) -> list[str]:
        return list(self._rules)


RULES = RuleTable()


def apply(op: str, *args: Expr, **attrs) -> Expr:
    """Build ``op(*args)``: infer its shape, then apply the rule's simplifications.

    Raises:
        ShapeError: when the arguments' shapes do not fit the operation.
    """
    rule = RULES[op]
    if rule.arity is not None and len(args) != rule.arity:
        raise ShapeError(f"{op} takes {rule.arity} argument(s), got {len(args)}")
    shape = rule.shape([a.shape for a in args], **attrs)
    if rule.simplify is not None:
        simpler = rule.simplify(args, attrs, shape)
        if simpler is not None:
            return simpler
    return Apply(op, tuple(args), tuple(sorted(attrs.items())), tuple(shape))


# -- printing helpers named after the shape of the form -----------------------

def infix(symbol: str, prec: int, strict_right: bool = True):
    """A left-associative binary operator ``a <symbol> b``."""
    def form(args, node, ctx):
        left, right = args
        return Printed(f"{wrap(left, prec)}{symbol}{wrap(right, prec + 1 if strict_right else prec)}", prec)
    return form


def call(template: str, prec: int = ATOM):
    """A function-call-like form; ``{0}``, ``{1}`` are the printed arguments."""
    def form(args, node, ctx):
        return Printed(template.format(*[a.text for a in args], **node.kw), prec)
    return form
