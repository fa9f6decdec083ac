"""Printers from the IR to numpy code and to LaTeX.

Both dispatch on the node's class (Var, Const, Apply) and, for an operation,
on the rule table's form for it; arguments are always printed through the
printer first, so parenthesisation is decided once, by precedence. Scalars are
printed by subclasses of sympy's own printers. An operation without a form is
an error at generation time, never a guess.
"""

from __future__ import annotations

import inspect

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.pycode import PythonCodePrinter

from ..ir import Apply, Const, Expr, Var, as_sympy
from ..rules import RULES, Printed
from ..rules.core import ADD, ATOM, MUL, UNARY, wrap


class _ScalarCode(PythonCodePrinter):
    """Size expressions and constants as Python: 1/n -> 1 / n, 0.01 stays 0.01."""

    def _print_Rational(self, expr):
        p, q = int(expr.p), int(expr.q)
        for k in range(1, 13):
            if 10 ** k % q == 0:
                return repr(p * (10 ** k // q) / 10 ** k)
        return f"{p} / {q}"

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Float(self, expr):
        return repr(float(expr))


def _irrationals_as_floats(value):
    """value with every number that is not rational (sqrt(pi), e) as a float: the
    generated module imports numpy only, so no math.sqrt(math.pi) may be printed."""
    if value.is_number and not value.is_Rational:
        return sp.Float(float(value))
    if not value.args:
        return value
    return value.func(*(_irrationals_as_floats(a) for a in value.args))


def scalar_code(value) -> Printed:
    value = _irrationals_as_floats(as_sympy(value))
    if value.is_Integer:
        return Printed(str(int(value)), ATOM if value >= 0 else UNARY)
    if value.is_number and not value.is_Rational:
        return Printed(repr(float(value)), ATOM if value >= 0 else UNARY)
    text = _ScalarCode().doprint(value)
    if value.is_Rational and "/" not in text:
        return Printed(text, ATOM if value >= 0 else UNARY)
    if value.is_Add:
        return Printed(text, ADD)
    return Printed(text, MUL)


class NumpyPrinter:
    """IR -> numpy source text.

    Args:
        names: Optional mapping from a Var's name to the code that reads it.
    """

    def __init__(self, names=None):
        self.names = names or {}
        self.helpers: dict[str, object] = {}   # runtime functions the code calls
        self.uses_dtype = False

    # context used by the rule forms
    def helper(self, fn):
        """Copy runtime function fn into the module, with the runtime functions it calls (gelu: erf)."""
        from .. import runtime
        if fn.__name__ in self.helpers:
            return
        self.helpers[fn.__name__] = fn
        for name in fn.__code__.co_names:
            called = getattr(runtime, name, None)
            if inspect.isfunction(called) and called.__module__ == runtime.__name__:
                self.helper(called)

    def scalar(self, value, minimum=0) -> str:
        p = scalar_code(value)
        return p.text if p.prec >= minimum else f"({p.text})"

    def dim(self, d) -> str:
        return self.scalar(d, MUL)

    def shape(self, shape) -> str:
        self.uses_dtype = True
        dims = [self.scalar(d) for d in shape]
        return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"

    def print(self, e: Expr) -> Printed:
        if isinstance(e, Var):
            return Printed(self.names.get(e.name, e.name), ATOM)
        if isinstance(e, Const):
            return scalar_code(e.value)
        if isinstance(e, Apply):
            args = [self.print(a) for a in e.args]
            return RULES[e.op].numpy(args, e, self)
        raise TypeError(f"cannot print {type(e).__name__} as numpy")

    def doprint(self, e: Expr) -> str:
        return self.print(e).text


class _ScalarLatex(LatexPrinter):
    """Scalars as LaTeX; element-wise functions of the rule table in their own notation.

    Proof-time sympy functions (``step``, ``sigmoid``...) print with the rule
    table's LaTeX form, so no sympy-internal name (Heaviside, Lambda) leaks.
    """

    def _print(self, expr, **kwargs):
        from ..rules.elementwise import FUNCTIONS
        fn = FUNCTIONS.get(type(expr).__name__) if isinstance(expr, sp.Function) else None
        if fn is None or fn.native is not None or type(expr) is not fn.sympy_function:
            return super()._print(expr, **kwargs)
        node = Apply(fn.name, (), tuple(zip(fn.params, expr.args[1:])), ())
        text = RULES[fn.name].latex([Printed(super()._print(expr.args[0]), ATOM)], node, self).text
        exp = kwargs.get("exp")
        return f"{{{text}}}^{{{exp}}}" if exp else text


class LatexIRPrinter:
    """IR -> LaTeX, with display names for variables.

    Args:
        names: name -> LaTeX (the spec's [latex] table plus defaults).
        adjoint: how to show the adjoint of a name, e.g. ``\\frac{\\partial L}{\\partial X}``.
    """

    def __init__(self, names=None, adjoint=None):
        self.names = names or {}
        self.adjoint = adjoint or (lambda name: r"\frac{\partial L}{\partial %s}" % self.name_latex(name))
        self._scalar = _ScalarLatex()
        self._memo: dict = {}

    def name_latex(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        return default_latex_name(name)

    def scalar(self, value, minimum=0) -> str:
        return self._scalar.doprint(as_sympy(value))

    def dim(self, d) -> str:
        return self._scalar.doprint(d)

    def shape(self, shape) -> str:
        return r" \times ".join(self.dim(d) for d in shape)

    def helper(self, fn):
        pass

    def print(self, e: Expr) -> Printed:
        # Expanded views share sub-trees heavily (hash-consed IR): print each once.
        done = self._memo.get(e)
        if done is not None:
            return done
        if isinstance(e, Var):
            if e.role == "adjoint":
                done = Printed(self.adjoint(e.name[2:]), ATOM)
            else:
                done = Printed(self.name_latex(e.name), ATOM)
        elif isinstance(e, Const):
            value = as_sympy(e.value)
            text = decimal_latex(value) or self._scalar.doprint(value)
            prec = ATOM if (value.is_Integer and value >= 0) or value.is_Symbol else MUL
            done = Printed(text, UNARY if value.could_extract_minus_sign() else prec)
        elif isinstance(e, Apply):
            done = self._broadcast_product(e) or RULES[e.op].latex([self.print(a) for a in e.args], e, self)
        if isinstance(e, Apply) and done.text.startswith("-") and done.prec > ADD:
            # a leading minus reads as a subtraction: parenthesised after any operator
            # (A \odot (-\frac{1}{n} Y), a - (-b)), never "\odot -" or "- -"
            done = Printed(done.text, ADD)
        if done is not None:
            self._memo[e] = done
            return done
        raise TypeError(f"cannot print {type(e).__name__} as LaTeX")

    def doprint(self, e: Expr) -> str:
        return self.print(e).text

    def _coefficients_first(self, e: Apply) -> Printed | None:
        r"""An element-wise product of scaled arrays with the constants in front:
        \frac{2}{n} C \odot G, not 2 C \odot \frac{1}{n} G (which reads, left to right,
        as a matrix product with G)."""
        from ..rules import apply
        if e.op != "mul" or len(e.args) != 2 or any(a.ndim == 0 for a in e.args):
            return None
        coef, bare = sp.Integer(1), []
        for a in e.args:
            k, a = _split_coefficient(a)
            coef *= k
            bare.append(a)
        if coef == 1 or not isinstance(e.args[1], Apply) or bare[1] is e.args[1]:
            return None   # nothing scales the right operand: it prints unambiguously as it is
        return self.print(apply("mul", Const(coef), apply("mul", *bare)))

    def _broadcast_product(self, e: Apply) -> Printed | None:
        r"""A matrix times, entry by entry, its own row or column sums (the softmax's
        A \odot (G - (G \odot A) 1)): numpy broadcasts the n x 1 column across the
        columns, which a formula must say. A column of row sums scales the rows,
        diag(C 1) A; a row of column sums the columns, A diag(1^T C); a difference
        holding one is distributed first. None for any other node."""
        from ..rules import apply
        pulled = self._coefficients_first(e)
        if pulled is not None:
            return pulled
        if e.op != "mul" or len(e.args) != 2 or any(a.ndim != 2 for a in e.args):
            return None
        for s, other in (e.args, e.args[::-1]):
            if _kept_sum(s) and tuple(s.shape) != tuple(other.shape):
                sums = self.print(apply("sum", s.args[0], axis=s.kw["axis"]))
                diag = r"\operatorname{diag}\left(%s\right)" % sums.text
                if s.kw["axis"] % 2:
                    return Printed(f"{diag} {wrap(self.print(other), MUL + 1)}", MUL)
                return Printed(f"{wrap(self.print(other), MUL)} {diag}", MUL)
            if isinstance(s, Apply) and s.op in ("sub", "add") and any(_kept_sum(x) for x in s.args) \
                    and other.ndim == 2 and tuple(other.shape) == tuple(s.shape):
                return self.print(apply(s.op, *(apply("mul", other, x) for x in s.args)))
        return None


def _split_coefficient(a):
    """(k, x) for an array a = k x (seen through an expand_dims), else (1, a)."""
    from ..rules import apply
    inner = a.args[0] if isinstance(a, Apply) and a.op == "expand_dims" else a
    if isinstance(inner, Apply) and inner.op == "mul" and len(inner.args) == 2 \
            and isinstance(inner.args[0], Const) and inner.args[1].ndim:
        x = inner.args[1]
        return as_sympy(inner.args[0].value), (x if inner is a else apply("expand_dims", x, **a.kw))
    return sp.Integer(1), a


def _kept_sum(e) -> bool:
    """sum(C, axis, keepdims=True) of a matrix: a row or column that broadcasts back."""
    return (isinstance(e, Apply) and e.op == "sum" and bool(e.kw.get("keepdims")) and e.args[0].ndim == 2
            and e.kw.get("axis") in (0, 1, -1, -2))


def decimal_latex(value) -> str | None:
    """A rational with a power of ten below it as people write it: 0.01, 0.25, 10^{-5}, 3 \\cdot 10^{-6}."""
    if not (value.is_Rational and not value.is_Integer):
        return None
    p, q = int(value.p), int(value.q)
    k = 0
    while q % 10 == 0 and q > 1:
        q //= 10
        k += 1
    if q not in (1, 2, 4, 5, 8) or k == 0:   # 1/2, 1/4 stay fractions; 1/100 -> 0.01
        return None
    digits = p * (10 ** (k + 3) // (q * 10 ** k)) if q > 1 else p   # scale p/q to an integer over 10^m
    m = k + 3 if q > 1 else k
    while digits % 10 == 0 and m > 0:
        digits //= 10
        m -= 1
    sign, digits = ("-" if digits < 0 else ""), abs(digits)
    if m <= 3:
        text = str(digits).rjust(m + 1, "0")
        return f"{sign}{text[:-m]}.{text[-m:]}" if m else f"{sign}{text}"
    if digits == 1:
        return f"{sign}10^{{-{m}}}"
    mant = str(digits)
    exp = m - (len(mant) - 1)
    mant = mant[0] + ("." + mant[1:] if len(mant) > 1 else "")
    return f"{sign}{mant} \\cdot 10^{{-{exp}}}"


def default_latex_name(name: str) -> str:
    """W1 -> W_{1}, yhat -> \\hat{y}, H_1 -> H_{1}, d_x -> ..."""
    greek = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "theta", "tau", "phi", "eta"}
    base, _, sub = name.partition("_")
    if base.endswith("hat") and len(base) > 3:
        base = r"\hat{%s}" % base[:-3]
    else:
        i = len(base)
        while i > 0 and base[i - 1].isdigit():
            i -= 1
        if 0 < i < len(base) and not sub:
            base, sub = base[:i], base[i:]
        if base in greek:
            base = "\\" + base
        elif len(base) > 1 and not base.startswith("\\"):
            base = r"\mathrm{%s}" % base.replace("_", r"\_")
    if sub:
        return f"{base}_{{{sub.replace('_', ',')}}}"
    return base
