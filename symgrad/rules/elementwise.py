"""Element-wise functions, declared by their scalar definition only.

Each function is a sympy expression in the symbol ``x`` (plus numeric
parameters such as leaky ReLU's ``slope``). Its derivative is ``sympy.diff``
of that definition, rewritten, where possible, in terms of the forward value
``r`` (sigmoid' = r (1 - r), tanh' = 1 - r^2, exp' = r) or of another declared
function (softplus' = sigmoid), so generated code reuses what the forward pass
computed. Kinks follow one convention: the derivative at a kink is the one of
the branch that holds there (ReLU'(0) = 0, leaky ReLU'(0) = slope), as in
PyTorch and JAX.

For proofs, every function also exists as an opaque sympy ``Function`` whose
``fdiff`` is that same derivative, so sympy can differentiate an expanded loss
without unfolding the definitions; :func:`prove_derivative` separately checks
each derivative against ``sympy.diff`` of the definition.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .. import runtime
from ..errors import DerivationError
from ..ir import Const, Expr, as_sympy
from . import scalar_code as sc
from .core import (ATOM, MASK, NONE, NUMBER, REQUIRED, RULES, SPEC, Arg, OutForm, Printed, Rule, ScalarForm,
                   against_zero, apply, arrays, ufunc_out)

X = sp.Symbol("x", real=True)
R = sp.Symbol("r", real=True)


@dataclass(frozen=True)
class ScalarFunction:
    """The scalar facts of one element-wise function."""

    name: str
    body: sp.Expr            # definition in X (and params)
    params: tuple            # names of numeric parameters, in call order
    latex_name: str
    impl: object             # numeric implementation (runtime function or numpy ufunc)
    native: object = None    # sympy's own function, when sympy has one (exp, log...)
    kinks: tuple = ()
    domain: str = "real"

    @property
    def param_symbols(self):
        return tuple(sp.Symbol(p, real=True) for p in self.params)

    @functools.cached_property
    def sympy_function(self):
        """The sympy function used in proofs: sympy's own, or an opaque one."""
        if self.native is not None:
            return self.native
        scalar = self

        def fdiff(fn, argindex=1):
            if argindex != 1:
                raise sp.ArgumentIndexError(fn, argindex)
            bind = {X: fn.args[0], R: fn}
            bind.update(dict(zip(scalar.param_symbols, fn.args[1:])))
            return scalar.derivative.xreplace(bind)

        return type(self.name, (sp.Function,), {
            "nargs": 1 + len(self.params), "fdiff": fdiff, "is_real": True,
            "_latex": lambda fn, printer, *a, **k:
                rf"\operatorname{{{scalar.name}}}\left({printer._print(fn.args[0])}\right)",
        })

    @functools.cached_property
    def derivative(self) -> sp.Expr:
        """d/dx of the definition, in X, R (= the function's value) and params."""
        d = sp.diff(self.body, X)
        if isinstance(d, sp.Piecewise) or d.has(sp.Heaviside):
            return _step_form(d)
        if d.is_number:
            return d
        simpler = sp.simplify(d)
        # keep sympy's simplification only if every function in it has an operation (no cosh)
        return _reuse_result(self, simpler if _printable(simpler) else d)


class _Functions(Mapping):
    """name -> :class:`ScalarFunction` of every element-wise rule: a view of the rule
    table (its ``extra["scalar"]``), so a function is declared in one registry only."""

    def __getitem__(self, name: str) -> ScalarFunction:
        if name not in RULES or "scalar" not in RULES[name].extra:
            raise KeyError(name)
        return RULES[name].extra["scalar"]

    def __iter__(self):
        return (rule.name for rule in RULES if "scalar" in rule.extra)

    def __len__(self) -> int:
        return sum(1 for _ in self)


FUNCTIONS = _Functions()


def _unfold(expr: sp.Expr) -> sp.Expr:
    """Replace opaque functions by their definitions (recursively)."""
    for fn in FUNCTIONS.values():
        if fn.native is None and expr.has(fn.sympy_function):
            expr = expr.replace(
                lambda e, f=fn: isinstance(e, f.sympy_function),
                lambda e, f=fn: _unfold(f.body.xreplace(
                    {X: e.args[0], **dict(zip(f.param_symbols, e.args[1:]))})))
    return expr


def _printable(expr: sp.Expr) -> bool:
    """True when every function in expr is a declared element-wise function."""
    known = {f.native for f in FUNCTIONS.values() if f.native is not None}
    known |= {f.sympy_function for f in FUNCTIONS.values() if f.native is None}
    return all(type(f) in known or f.func in known for f in expr.atoms(sp.Function))


def _is_zero(expr: sp.Expr) -> bool:
    expr = _unfold(expr)
    if sp.simplify(expr) == 0:
        return True
    return sp.simplify(expr.rewrite(sp.exp)) == 0


def _reuse_result(fn: ScalarFunction, d: sp.Expr) -> sp.Expr:
    """Write d in terms of the forward value R where an identity allows it."""
    f = fn.body
    # A polynomial of degree <= 2 in the value: d = c0 + c1 f + c2 f^2.
    points = [sp.Rational(3, 10), sp.Rational(7, 10), sp.Rational(11, 10)]  # inside every domain
    if not fn.params:
        rows = [[1, f.subs(X, p), f.subs(X, p) ** 2] for p in points]
        rhs = [d.subs(X, p) for p in points]
        try:
            coeffs = sp.Matrix(rows).evalf(30).solve(sp.Matrix(rhs).evalf(30))
        except (ValueError, ZeroDivisionError, TypeError):
            coeffs = None
        if coeffs is not None and any(not v.is_real for v in coeffs):
            coeffs = None
        if coeffs is not None:
            c = [sp.nsimplify(sp.Float(v, 25), tolerance=1e-20, rational=True) for v in coeffs]
            if any(v != 0 for v in c[1:]):
                candidate = c[0] + c[1] * R + c[2] * R ** 2
                if _is_zero(candidate.subs(R, f) - d):
                    if c[0] == 0:
                        return R * sp.expand(candidate / R)
                    return candidate
    # Another declared function of x: softplus' = sigmoid.
    for other in FUNCTIONS.values():
        if other.name == fn.name or other.params or other.body.has(sp.Piecewise):
            continue
        if _is_zero(other.body - d):
            return other.sympy_function(X)
    return _fold_known(d)


def _fold_known(d: sp.Expr) -> sp.Expr:
    """Spot declared functions inside d (e.g. 1/(1+exp(-x)) -> sigmoid(x))."""
    for other in FUNCTIONS.values():
        if other.native is None and not other.params and not other.body.has(sp.Piecewise):
            d = d.subs(other.body, other.sympy_function(X))
    return d


def _step_form(d: sp.Expr) -> sp.Expr:
    """Piecewise((a, x > 0), (b, True)) -> b + (a - b) step(x); kink takes branch b."""
    step = FUNCTIONS["step"].sympy_function
    if d.has(sp.Heaviside):
        d = d.replace(sp.Heaviside, lambda *args: step(args[0]))
        return d
    pieces = d.args
    if len(pieces) == 2 and pieces[1].cond == sp.true and pieces[0].cond == (X > 0):
        a, b = pieces[0].expr, pieces[1].expr
        return b + sp.factor(a - b) * step(X)
    if len(pieces) == 3 and pieces[0].cond == (X > 0) and pieces[1].cond == (X < 0) and pieces[2].cond == sp.true:
        # a kink with a value of its own: abs' = sign, 0 at 0
        a, b, c = (p.expr for p in pieces)
        if c == 0 and b == -a:
            return a * sp.sign(X)
        return c + sp.factor(a - c) * step(X) + sp.factor(b - c) * step(-X)
    raise DerivationError(f"cannot turn derivative {d} into a step form: write the function as "
                          "Piecewise((f, x > 0), (g, True)) or Piecewise((f, x > 0), (g, x < 0), (h, True))")


def from_sympy(expr: sp.Expr, bind: dict) -> Expr:
    """Turn a scalar sympy expression into an element-wise IR expression.

    ``bind`` maps sympy symbols (X, R, params) to IR expressions.
    """
    if expr in bind:
        return bind[expr]
    if not (expr.free_symbols & set(bind)):
        return Const(expr)
    if isinstance(expr, sp.Add):
        terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
        out = from_sympy(terms[0], bind)
        for t in terms[1:]:
            if t.could_extract_minus_sign():
                out = apply("sub", out, from_sympy(-t, bind))
            else:
                out = apply("add", out, from_sympy(t, bind))
        return out
    if isinstance(expr, sp.Mul):
        num, den = sp.fraction(expr, exact=True)  # exact: keep exp(-x**2) a factor, never 1/exp(x**2), which overflows
        if den != 1:
            return apply("div", from_sympy(num, bind), from_sympy(den, bind))
        coeff, rest = expr.as_coeff_Mul()
        factors = sp.Mul.make_args(rest)
        out = from_sympy(factors[0], bind)
        for f in factors[1:]:
            out = apply("mul", out, from_sympy(f, bind))
        return apply("mul", Const(coeff), out) if coeff != 1 else out
    if isinstance(expr, sp.Pow):
        base, e = expr.args
        if not e.is_number:
            raise DerivationError(f"cannot generate code for a variable exponent in {expr}")
        if e < 0:
            return apply("div", Const(1), from_sympy(base ** -e, bind))
        return apply("pow", from_sympy(base, bind), exponent=e)
    for fn in FUNCTIONS.values():
        if isinstance(expr, fn.sympy_function) if fn.native is None else expr.func == fn.native:
            args = [from_sympy(a, bind) for a in expr.args[:1]]
            params = {p: v for p, v in zip(fn.params, expr.args[1:])}
            return apply(fn.name, *args, **params)
    raise DerivationError(f"no element-wise operation for {expr.func} in {expr}")


def _vjp(fn: ScalarFunction):
    def vjp(g, r, x, **params):
        bind = {X: x, R: r}
        bind.update({sp.Symbol(k, real=True): Const(v) for k, v in params.items()})
        return apply("mul", g, from_sympy(fn.derivative, bind))
    return vjp


def _body_ir(fn: ScalarFunction, x: Expr, kw: dict) -> Expr:
    """The function's definition as element-wise IR applied to x."""
    bind = {X: x}
    bind.update({sp.Symbol(p, real=True): Const(kw[p]) for p in fn.params})
    return from_sympy(fn.body, bind)


def _numpy_form(fn: ScalarFunction):
    if fn.impl is None:
        # declared by its formula only: print the formula itself, in numpy
        def form(args, node, ctx):
            return ctx.print(_body_ir(fn, node.args[0], node.kw))
    elif getattr(fn.impl, "__module__", None) == runtime.__name__:
        # a careful implementation in symgrad.runtime: its source is copied into the module
        def form(args, node, ctx):
            ctx.helper(fn.impl)
            extra = "".join(f", {ctx.scalar(node.kw[p])}" for p in fn.params)
            return Printed(f"{fn.name}({args[0].text}{extra})", ATOM)
    else:
        def form(args, node, ctx):
            return Printed(f"np.{fn.impl.__name__}({args[0].text})", ATOM)
    return form


def _latex_form(fn: ScalarFunction):
    def form(args, node, ctx):
        if "{0}" in fn.latex_name:   # a notation of its own, e.g. the indicator 1[x > 0]
            return Printed(fn.latex_name.replace("{0}", args[0].text), ATOM)
        extra = "".join(f", {sp.latex(node.kw[p])}" for p in fn.params)
        # plain parentheses: a long argument may break across lines (\left ... \right may not)
        return Printed(f"{fn.latex_name}({args[0].text}{extra})", ATOM)
    return form


def _evaluate(fn: ScalarFunction):
    def evaluate(args, node, ctx):
        params = [node.kw[p] for p in fn.params]
        if ctx.symbolic:
            f = fn.sympy_function
            return np.frompyfunc(lambda v: f(v, *params), 1, 1)(args[0])
        if fn.impl is None:
            from ..ir import Var
            x = Var("x", node.args[0].shape, "input")
            return ctx.evaluate(_body_ir(fn, x, node.kw), {"x": args[0]})
        return fn.impl(args[0], *[float(p) for p in params])
    return evaluate


def _latex_words(latex: str) -> tuple:
    """The reader's word for a function printed ``latex``: ``\\tanh`` itself, or the
    lower-case word of ``\\operatorname{LeakyReLU}`` (leakyrelu); none for a notation."""
    word = re.fullmatch(r"\\operatorname\{([A-Za-z]+)\}", latex)
    if word:
        return (word.group(1).lower(),)
    return (latex,) if re.fullmatch(r"\\[A-Za-z]+", latex) else ()


def elementwise(name: str, body: sp.Expr, *, latex: str, impl=None, params=(), defaults=None, native=None,
                kinks=(), domain="real", differentiable=True, internal=False, doc="",
                numpy_out: OutForm | None = None, scalar=None, words=()) -> Rule:
    """Declare an element-wise function from its scalar definition ``body`` (in X).

    The forward formula is all that is needed: the derivative comes from
    ``sympy.diff``, and without ``impl`` the generated code and numeric
    evaluation use the formula itself (written with exp, log, tanh, erf and the
    functions declared before). ``impl`` (a function of :mod:`symgrad.runtime`
    or a numpy ufunc) replaces the formula where a numerically careful version
    exists. ``internal`` functions serve derivatives only and are not part of
    the spec language. ``defaults`` gives parameters their values when a call
    leaves them out; ``words`` adds LaTeX reader words to the one ``latex`` gives
    (``\\ln`` for log). Optional, for speed: ``numpy_out`` (the compiled step's
    in-place form, see :class:`~symgrad.rules.core.OutForm`) and ``scalar``
    (straight-line float code: an expression in ``{0}`` or a function of
    :mod:`symgrad.rules.scalar_code`, see :class:`~symgrad.rules.core.ScalarForm`).
    """
    fn = ScalarFunction(name, body, tuple(params), latex, impl, native, tuple(kinks), domain)
    vjp = _vjp(fn) if differentiable else None
    defaults = defaults or {}
    signature = arrays(1) + tuple(Arg(p, NUMBER, defaults.get(p, REQUIRED)) for p in fn.params)
    return RULES.add(Rule(
        name, "elementwise", 1, lambda shapes, **params: shapes[0], (vjp,),
        numpy=_numpy_form(fn), latex=_latex_form(fn), evaluate=_evaluate(fn),
        kinks=fn.kinks, domain=domain, doc=doc, extra={"scalar": fn},
        numpy_out=numpy_out, scalar_code=None if scalar is None else ScalarForm(scalar),
        language=NONE if internal else SPEC, signature=signature,
        samples=tuple((((2, 3),), {p: v for p in fn.params}) for v in (sp.Rational(1, 5), sp.Rational(-3, 2)))
        if fn.params else ((((2, 3),), {}),),
        latex_words=() if internal else _latex_words(latex) + tuple(words),
        sympy=lambda a, kw: fn.sympy_function(a[0], *[as_sympy(kw[p]) for p in fn.params])))


def _softplus_out(a, node, out, s, ctx):
    # max(x, 0) + log1p(exp(-|x|)): exact everywhere like np.logaddexp(0, x), which numpy
    # computes element by element, 15-30x slower than these six vectorised passes.
    # ``out`` may be x itself: x is read before out is written.
    x = a[0]
    return [f"np.maximum({x}, 0, out={s[0]})",
            f"np.abs({x}, out={out})",
            f"np.negative({out}, out={out})",
            f"np.exp({out}, out={out})",
            f"np.log1p({out}, out={out})",
            f"np.add({out}, {s[0]}, out={out})"]


def _sigmoid_out(a, node, out, s, ctx):
    # 1 / (1 + exp(-x)) is exact to rounding everywhere; exp(-x) = inf for very
    # negative x gives 0, the limit, so that overflow is not worth a warning.
    return ['with np.errstate(over="ignore"):',
            f"    np.exp(np.negative({a[0]}, out={out}), out={out})",
            f"np.add({out}, 1, out={out})",
            f"np.divide(1, {out}, out={out})"]


def prove_derivative(name: str) -> bool:
    """True when the derivative symgrad uses equals sympy.diff of the definition."""
    fn = FUNCTIONS[name]
    truth = sp.diff(fn.body, X)
    ours = fn.derivative.xreplace({R: fn.sympy_function(X, *fn.param_symbols)})
    diff = _unfold(ours) - truth
    if isinstance(truth, sp.Piecewise) or truth.has(sp.Heaviside):
        # compare branch by branch: at x > 0, at x < 0 and at the kink itself
        for point in (sp.Rational(3, 2), sp.Rational(-3, 2), 0):
            if sp.simplify(_unfold(ours).subs(X, point) - fn.body.diff(X).subs(X, point)) != 0 \
                    and point != 0:
                return False
        at_kink = _unfold(ours).subs(X, 0)
        expected = sp.Piecewise(*[(p.expr, p.cond) for p in truth.args]).subs(X, 0) \
            if isinstance(truth, sp.Piecewise) else None
        return expected is None or sp.simplify(at_kink - expected) == 0
    return _is_zero(diff)


def source_of(fn) -> str:
    return inspect.getsource(fn)


_x = X
elementwise("step", sp.Piecewise((1, _x > 0), (0, True)), latex=r"\mathrm{1\!\!1}[{0} > 0]", impl=runtime.step,
            kinks=(0,), differentiable=False,
            numpy_out=OutForm(lambda a, node, out, s, ctx: [f"np.greater({a[0]}, 0, out={out})"], kind=MASK,
                              early=True),
            scalar="(1.0 if {0} > 0.0 else 0.0)",
            doc="1 where x > 0, else 0 (the ReLU derivative; 0 at 0)")
elementwise("exp", sp.exp(_x), latex=r"\exp", impl=np.exp, native=sp.exp, doc="e^x",
            numpy_out=ufunc_out("exp"), scalar=sc._exp)
elementwise("log", sp.log(_x), latex=r"\log", impl=np.log, native=sp.log, domain="positive", words=(r"\ln",),
            doc="natural logarithm", numpy_out=ufunc_out("log"), scalar=sc._log)
elementwise("expm1", sp.exp(_x) - 1, latex=r"\operatorname{expm1}", impl=np.expm1,
            native=lambda x: sp.exp(x) - 1, internal=True,
            doc="e^x - 1, accurate near 0 (1 - softmax = -expm1(log_softmax) without cancellation)",
            numpy_out=ufunc_out("expm1"), scalar=sc._expm1)
elementwise("tanh", sp.tanh(_x), latex=r"\tanh", impl=np.tanh, native=sp.tanh, doc="hyperbolic tangent",
            words=("tanh",),
            numpy_out=ufunc_out("tanh"), scalar="math.tanh({0})")
elementwise("erf", sp.erf(_x), latex=r"\operatorname{erf}", impl=runtime.erf, native=sp.erf,
            doc="the error function")
elementwise("sigmoid", 1 / (1 + sp.exp(-_x)), latex=r"\sigma", impl=runtime.sigmoid, words=("sigmoid",),
            doc="logistic sigmoid 1 / (1 + e^-x)",
            numpy_out=OutForm(_sigmoid_out, returns=False), scalar=sc._sigmoid)
elementwise("relu", sp.Piecewise((_x, _x > 0), (0, True)), latex=r"\operatorname{ReLU}",
            impl=runtime.relu, kinks=(0,), doc="max(x, 0); ReLU'(0) = 0",
            numpy_out=against_zero("maximum"),
            # NaN <= 0 is False: NaN passes through, as np.maximum(NaN, 0) does
            scalar="(0.0 if {0} <= 0.0 else {0})")
elementwise("leaky_relu", sp.Piecewise((_x, _x > 0), (sp.Symbol("slope", real=True) * _x, True)),
            params=("slope",), defaults={"slope": sp.Rational(1, 100)}, latex=r"\operatorname{LeakyReLU}",
            impl=runtime.leaky_relu, kinks=(0,),
            doc="x for x > 0, slope * x otherwise; derivative at 0 is slope")
elementwise("softplus", sp.log(1 + sp.exp(_x)), latex=r"\operatorname{softplus}", impl=runtime.softplus,
            doc="log(1 + e^x)",
            numpy_out=OutForm(_softplus_out, scratch=1), scalar=sc._softplus)
elementwise("gelu", _x * (1 + sp.erf(_x / sp.sqrt(2))) / 2, latex=r"\operatorname{GELU}", impl=runtime.gelu,
            doc="x Phi(x), Phi the standard normal CDF (exact, erf form)")
elementwise("elu", sp.Piecewise((_x, _x > 0), (sp.Symbol("alpha", real=True) * (sp.exp(_x) - 1), True)),
            params=("alpha",), defaults={"alpha": sp.Integer(1)}, latex=r"\operatorname{ELU}", impl=runtime.elu,
            kinks=(0,), doc="x for x > 0, alpha (e^x - 1) otherwise; derivative at 0 is alpha")
elementwise("sign", sp.Piecewise((1, _x > 0), (-1, _x < 0), (0, True)), latex=r"\operatorname{sign}",
            impl=np.sign, native=sp.sign, differentiable=False, internal=True,
            numpy_out=ufunc_out("sign"), scalar="(1.0 if {0} > 0.0 else (-1.0 if {0} < 0.0 else 0.0))",
            doc="1 where x > 0, -1 where x < 0, 0 at 0 (the derivative of abs)")
elementwise("abs", sp.Piecewise((_x, _x > 0), (-_x, _x < 0), (0, True)), latex=r"\operatorname{abs}",
            impl=np.abs, kinks=(0,), numpy_out=ufunc_out("abs"), scalar="abs({0})",
            doc="|x|; abs'(0) = sign(0) = 0 (the subgradient 0, as ReLU'(0) = 0)")
elementwise("sqrt", sp.sqrt(_x), latex=r"\operatorname{sqrt}", impl=np.sqrt, native=sp.sqrt, domain="positive",
            doc="square root (x > 0)")
elementwise("rsqrt", 1 / sp.sqrt(_x), latex=r"\operatorname{rsqrt}", domain="positive",
            native=lambda x: 1 / sp.sqrt(x),
            doc="1 / sqrt(x) (x > 0)")
