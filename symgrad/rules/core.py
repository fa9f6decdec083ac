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

How an operation is written, in the spec language, the answer language and
LaTeX, is part of its rule too (``syntax``, ``spelling``, ``signature``,
``language``, ``latex_words``): the parsers, the answer printer and the LaTeX
reader loop over the table and name no operation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ShapeError
from ..ir import Apply, Const, Expr, as_sympy

# Precedence levels shared by the numpy and LaTeX printers.
ADD, MUL, UNARY, POW, POSTFIX, ATOM = 60, 70, 80, 90, 95, 100


@dataclass(frozen=True)
class Printed:
    text: str
    prec: int = ATOM


def wrap(p: Printed, minimum: int, paren=("(", ")")) -> str:
    """The text of p, parenthesised when its precedence is below minimum."""
    return p.text if p.prec >= minimum else f"{paren[0]}{p.text}{paren[1]}"


# How an operation is written (Rule.syntax).
CALL, INFIX, PREFIX, POWER, POSTFIX_OP, HIDDEN = "call", "infix", "prefix", "power", "postfix", "hidden"
# Which languages may write it (Rule.language): both, the answer language only, neither.
SPEC, ANSWER, NONE = "spec", "answer", ""

# Kinds of call arguments (Arg.kind).
ARRAY = "array"      # one array
ARRAYS = "arrays"    # one or more arrays (variadic)
SIZE = "size"        # a size name or a positive integer
SIZES = "sizes"      # one or more sizes, collected into a tuple
AXIS = "axis"        # an integer axis
FLAG = "flag"        # True or False
NUMBER = "number"    # a plain number (exact)
REQUIRED = object()  # Arg.default of an argument that must be given


@dataclass(frozen=True)
class Arg:
    """One argument of an operation's call, as the languages write it.

    Attributes:
        name: Its name; a keyword argument is written ``name=value``.
        kind: ARRAY, ARRAYS, SIZE, SIZES, AXIS, FLAG or NUMBER.
        default: The value when it is left out (REQUIRED: it may not be).
        keyword: True when printed as ``name=value``, False when printed by position.
        positional: True when it may also be given by position.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    keyword: bool = False
    positional: bool = True

    @property
    def array(self) -> bool:
        return self.kind in (ARRAY, ARRAYS)


def arrays(n: int = 1) -> tuple:
    """The signature part of ``n`` array arguments (a, b, ...)."""
    return tuple(Arg("ab"[i] if n > 1 else "x", ARRAY) for i in range(n))


@dataclass(frozen=True)
class Rule:
    """Everything symgrad knows about one operation.

    Attributes:
        name: The operation's name in the IR.
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
        domain: Where gradient checks sample the operation's array inputs:
            real | positive | nonzero, one for all or a tuple with one per input.
        doc: One line for documentation.
        notation: What its printed LaTeX form means, as a sentence of LaTeX text for the answer
            key's Conventions (listed when the document uses it); empty when the form needs no word.
        syntax: How it is written: CALL ``f(x, ...)``, INFIX ``a + b``, PREFIX
            ``-a``, POWER ``a ** c``, POSTFIX ``a.T``, HIDDEN (printed as its
            only argument: a node that names another value).
        spelling: Its text in the spec and answer languages: the function's name
            for a CALL (the IR name unless given), the operator otherwise.
        language: SPEC (the spec language and the answer language), ANSWER (the
            answer language only: adjoints' own operations) or NONE.
        signature: The call's arguments (:class:`Arg`), in order; arrays first.
            The non-array ones become the IR attributes of the same name.
        latex_words: How the LaTeX reader recognises it: commands (``\\sigma``)
            and words of ``\\operatorname{...}`` (lower case, no spacing).
        sympy: (args: list of sympy scalars, attrs: dict) -> sympy scalar, the
            scalar form of an element-wise operation; None for the others.
        inline: True when the graph keeps it inside its parent (``W.T``) instead
            of naming it.
        samples: ((shapes of the arrays, attrs), ...): where the per-rule
            gradient test applies it; the defaults cover unary operations.
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
    notation: str = ""
    extra: dict = field(default_factory=dict)
    numpy_out: "OutForm | None" = None
    scalar_code: "ScalarForm | None" = None
    syntax: str = CALL
    spelling: str | None = None
    language: str = SPEC
    signature: tuple = ()
    latex_words: tuple = ()
    sympy: Callable | None = None
    inline: bool = False
    samples: tuple = ((((2, 3),), {}),)

    def __post_init__(self):
        if (self.internal or self.extra.get("internal")) and self.language == SPEC:   # internal: never written
            object.__setattr__(self, "language", NONE)
        if self.spelling is None and self.syntax == CALL:
            object.__setattr__(self, "spelling", self.name)
        if not self.signature and self.arity is not None:
            object.__setattr__(self, "signature", arrays(self.arity))

    def takes(self) -> str:
        """What a call takes, in words: "one array and slope"."""
        count = sum(a.kind == ARRAY for a in self.signature)
        head = {1: "one array", 2: "two arrays"}.get(count, f"{count} arrays")
        extra = [a.name for a in self.signature if not a.array and a.positional and a.kind != SIZES]
        return head + (" and " + ", ".join(extra) if extra else "")

    def input_domain(self, index: int) -> str:
        """Where gradient checks sample input ``index``."""
        return self.domain if isinstance(self.domain, str) else self.domain[index]
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


SYNTAXES = (CALL, INFIX, PREFIX, POWER, POSTFIX_OP, HIDDEN)
KINDS = (ARRAY, ARRAYS, SIZE, SIZES, AXIS, FLAG, NUMBER)
DOMAINS = ("real", "positive", "nonzero", "index")   # index: an integer argument (labels, rows)


def lacking(rule: Rule) -> list[str]:
    """What ``rule`` lacks that a consumer needs, one phrase each (empty: complete).

    The derivation needs shape and VJPs; the printers numpy and latex; evaluation
    and proofs evaluate; the spec parser, the answer printer and the LaTeX reader
    syntax, spelling, signature and words; the scalar compiler of element-wise
    code the sympy form; the per-rule gradient test samples and domain.
    """
    out = [f"{f} is not callable" for f in ("shape", "numpy", "latex", "evaluate") if not callable(getattr(rule, f))]
    if not (callable(rule.vjps) or isinstance(rule.vjps, tuple) and len(rule.vjps) == (rule.arity or 0)):
        out.append("vjps: one per input (or one callable for a variadic operation)")
    sig = rule.signature
    if any(not isinstance(a, Arg) or a.kind not in KINDS for a in sig):
        out.append(f"signature: Args of the kinds {', '.join(KINDS)}")
    elif sum(a.kind == ARRAY for a in sig) != (rule.arity or 0) or (rule.arity is None) != any(a.kind == ARRAYS
                                                                                            for a in sig):
        out.append(f"signature: its arrays do not match arity {rule.arity}")
    named = {a.name for a in sig if isinstance(a, Arg) and not a.array}
    unnamed = sorted({k for _, attrs in rule.samples for k in attrs} - named)
    if unnamed:
        out.append(f"signature: it does not name the attribute(s) {', '.join(unnamed)} that calls give")
    if rule.syntax not in SYNTAXES:
        out.append(f"syntax: one of {', '.join(SYNTAXES)}")
    if rule.language and not rule.spelling:
        out.append("spelling: how the languages write it")
    if rule.syntax == CALL and rule.spelling is not None and not rule.spelling.isidentifier():
        out.append(f"spelling: {rule.spelling!r} is not a function name")
    wants = {INFIX: 2, PREFIX: 1, POSTFIX_OP: 1, POWER: 1, HIDDEN: 1}.get(rule.syntax)
    if wants is not None and rule.arity != wants:
        out.append(f"arity: {rule.syntax} syntax takes {wants} array(s)")
    if rule.syntax == POWER and [a.kind for a in sig if not a.array] != [NUMBER]:
        out.append("signature: a power takes one NUMBER (its exponent)")
    if any(not (isinstance(w, str) and (w.isalpha() and w.islower() or w[:1] == "\\" and w[1:].isalpha()))
           for w in rule.latex_words):
        out.append("latex_words: commands (\\sigma) or lower-case words")
    if rule.family == "elementwise" and (rule.sympy is None or "scalar" not in rule.extra):
        out.append("sympy: the scalar form of an element-wise function")
    domains = (rule.domain,) if isinstance(rule.domain, str) else rule.domain
    if any(d not in DOMAINS for d in domains) or not isinstance(rule.domain, str) and len(domains) != rule.arity:
        out.append(f"domain: one of {', '.join(DOMAINS)}, or one per input")
    if not rule.samples or any(len(shapes) != len(sig) - sum(not a.array for a in sig)
                               and rule.arity is not None for shapes, _ in rule.samples):
        out.append("samples: ((array shapes, attrs), ...) for the gradient test")
    return out


class RuleTable:
    """All operations, by name. Filled once at import by the family modules."""

    def __init__(self):
        self._rules: dict[str, Rule] = {}
        self._spelled: dict | None = None

    def add(self, rule: Rule) -> Rule:
        if rule.name in self._rules:
            raise ValueError(f"operation {rule.name!r} declared twice")
        missing = lacking(rule)
        if missing:
            raise ValueError(f"operation {rule.name!r} is incomplete: " + "; ".join(missing))
        if rule.spelling is not None and rule.language and self.spelled(rule.syntax, rule.spelling):
            raise ValueError(f"operation {rule.name!r} is spelled {rule.spelling!r} like another")
        self._rules[rule.name] = rule
        self._spelled = None
        return rule

    @contextlib.contextmanager
    def scope(self):
        """Rules declared inside the block are removed at its end (tests declare their own)."""
        saved = dict(self._rules)
        try:
            yield self
        finally:
            self._rules = saved
            self._spelled = None

    def spelled(self, syntax: str, spelling: str, language: str = ANSWER) -> Rule | None:
        """The rule written ``spelling`` with ``syntax`` in ``language`` (ANSWER: spec or answer)."""
        if self._spelled is None:
            self._spelled = {(r.syntax, r.spelling): r for r in self._rules.values()
                             if r.spelling is not None and r.language}
        rule = self._spelled.get((syntax, spelling))
        if rule is None or (language == SPEC and rule.language != SPEC):
            return None
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


def to_sympy(e: Expr, leaf: Callable):
    """The scalar sympy form of an element-wise IR expression, from each rule's ``sympy``.

    ``leaf(x)`` is asked first about every sub-expression that is not a constant:
    it returns the sympy expression standing for x (a symbol for a named array,
    or x's own definition), or None to let x's rule build it from its arguments.

    Raises:
        ValueError: a sub-expression that neither ``leaf`` nor a scalar form covers.
    """
    if isinstance(e, Const):
        return as_sympy(e.value)
    known = leaf(e)
    if known is not None:
        return known
    form = RULES[e.op].sympy if isinstance(e, Apply) else None
    if form is None:
        raise ValueError(f"no scalar form for {e!r}")
    return form([to_sympy(a, leaf) for a in e.args], e.kw)


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
