"""The compiled training step of a generated module: forward and backward in reused arrays.

The plain ``forward``/``backward`` functions allocate every value afresh, which
is what a reader wants to see. ``step(params, inputs, workspace)`` computes the
same loss and gradients as ``loss_and_grads`` but as a straight sequence of
single numpy calls, each writing into an array of a :class:`Workspace` that is
allocated once per batch size and dtype and then reused (``out=``). Planning
happens here, in Python, and the template only places the result:

1. *Lowering*: every forward node and every backward statement of
   :func:`~symgrad.emit.numpy_module.plan_backward` is cut into single
   operations (three-address code). Identical sub-expressions are computed once
   (the IR is hash-consed, so equal sub-trees are equal keys), and a forward
   value the backward pass needs is read, never recomputed. log_softmax,
   softplus, sigmoid(-v) and relu(-v) are lowered into parts that later
   operations share (the log_softmax VJP reuses the forward's exp and row
   sums; softplus(+-z) and a pair sigmoid(z), sigmoid(-z) in a VJP share
   exp(min(z, 0)) and exp(-max(z, 0))); whole-array sums are distributed into
   dot products; operations nothing reads are pruned.
2. *Buffers*: a value gets an array of the workspace; when an element-wise
   operation consumes a value for the last time, its result is written over
   that value's array (in place). Arrays whose last reader has run go back
   to a pool (most recently freed first out, while still in cache) and are
   reused by later values of the same shape, so the workspace holds about the
   largest set of values alive at one time. A second schedule, with arrays
   that only reductions read computed as late as they can be, is kept when it
   needs fewer arrays. Sums along an axis and ReLU masks run right after the
   array they read is made (:func:`_early`): the array is still in cache, and
   a pre-activation read only by ReLU and its mask dies at ReLU, which then
   runs in place.
3. *Forms*: each operation is printed with its ``out=`` form, the
   ``numpy_out`` of its rule (:func:`out_form`); an operation without one is
   printed with its ordinary numpy form and allocates (correct, only slower). The ReLU derivative is a
   0/1 mask written with ``np.greater(x, 0, out=mask)`` and multiplied in,
   not an index or ``np.where``; ReLU itself compares against a read-only
   zero row (numpy's vector loop; against the scalar 0 it goes element by element),
   and a row or column sum of a computed matrix is its product with a ones
   vector (BLAS). Constants are Python numbers, so a float32
   step stays float32 throughout (numpy's weak-scalar rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .. import names as naming
from ..derive import Derivation
from ..ir import Apply, Const, Expr, Var, as_sympy, dim, is_const, walk
from ..rules import RULES
from ..rules.core import FLOAT, MASK, ONES, ZEROS, OutForm, against_zero
from ..rules.reduce import reduce_kw
from ..spec import LOSS
from .printers import NumpyPrinter

# Operations printed inside their consumer (numpy views or scalars, no work).
_VIEWS = {"transpose", "expand_dims"}

#: out= forms of the step's own operations, which are no operation of the rule
#: table: the row maximum (a part of log_softmax), min(x, 0) (relu(-x) = -min(x, 0)),
#: sigmoid(-x) from x, log1p, and c / (1 + t) (the logistic parts'
#: common factor, see :meth:`_Lowering.logistic_parts`). Every other form is the
#: ``numpy_out`` of the operation's rule.
STEP_FORMS: dict[str, OutForm] = {
    "max": OutForm(lambda a, node, out, s, ctx: [f"np.maximum.reduce({a[0]}{reduce_kw(node)}, out={out})"],
                   elementwise=False),
    "min0": replace(against_zero("minimum"), scalar=lambda a, ctx: f"np.minimum({a[0]}, 0)"),
    "sigmoid_neg": OutForm(lambda a, node, out, s, ctx: [
        'with np.errstate(over="ignore"):', f"    np.exp({a[0]}, out={out})",
        f"np.add({out}, 1, out={out})", f"np.divide(1, {out}, out={out})"], returns=False,
        scalar=lambda a, ctx: _sigmoid_of_negated(a, ctx)),
    "log1p": OutForm(lambda a, node, out, s, ctx: [f"np.log1p({a[0]}, out={out})"],
                     scalar=lambda a, ctx: f"np.log1p({a[0]})"),
    "scaled_recip_1p": OutForm(lambda a, node, out, s, ctx: [
        f"np.add({a[0]}, 1, out={out})", f"np.divide({a[1]}, {out}, out={out})"],
        scalar=lambda a, ctx: f"{a[1]} / (1 + {a[0]})"),
}


def _sigmoid_of_negated(args, printer):
    from .. import runtime
    printer.helper(runtime.sigmoid)
    return f"sigmoid(-({args[0]}))"


def out_form(op: str) -> OutForm | None:
    """The out= form of an operation (see :class:`~symgrad.rules.core.OutForm`), or None."""
    if op in STEP_FORMS:
        return STEP_FORMS[op]
    return RULES[op].numpy_out if op in RULES else None


def _full_reduction(node: Apply) -> bool:
    return node.op in ("sum", "mean") and node.kw.get("axis") is None and not node.kw.get("keepdims")


def _fuse_dots(ops: list) -> list:
    """sum/mean(a * b) over all entries, a and b of one shape, -> one np.vdot (no product array)."""
    uses = {name: len(at) for name, at in _readers(ops).items()}
    by_target = {op.target: op for op in ops}
    dropped = set()
    for op in ops:
        node = op.node
        if not (_full_reduction(node) and isinstance(node.args[0], Var)):
            continue
        product = by_target.get(node.args[0].name)
        inner_sum = None
        if (product is not None and product.node.op == "sum" and isinstance(product.node.args[0], Var)
                and uses.get(product.target) == 1):
            # sum over all of (sum over some axes of a * b) is one dot product too
            inner_sum, product = product, by_target.get(product.node.args[0].name)
        if product is None or uses.get(product.target) != 1:
            continue
        p = product.node
        if p.op == "pow" and p.kw["exponent"] == 2:
            a, b = p.args[0], p.args[0]
        elif p.op == "mul" and all(tuple(x.shape) == tuple(p.shape) for x in p.args):
            a, b = p.args
        else:
            continue
        if not all(isinstance(x, Var) for x in (a, b)):
            continue
        count = 1
        if node.op == "mean":   # divided by the size of the mean's own argument
            for d in node.args[0].shape:
                count = count * d
        op.node = Apply("dot", (a, b), (("count", count),), ())
        dropped.add(product.target)
        if inner_sum is not None:
            dropped.add(inner_sum.target)
    return [op for op in ops if op.target not in dropped]


def _scalar_form(node: Apply, args: list, printer) -> str | None:
    """Whole-array reductions without numpy's Python-level wrappers."""
    if node.op == "dot":
        a, b = node.args
        text = f"np.vdot({args[0]}, {args[1]})"
        if node.kw["count"] != 1:
            text += f" / {_divisor(node.kw['count'], printer)}"
        return text
    if _full_reduction(node) and node.args[0].shape:
        text = f"np.add.reduce({args[0]}, axis=None)"
        if node.op == "mean":
            size = 1
            for d in node.args[0].shape:
                size = size * d
            text += f" / {_divisor(size, printer)}"
        return text
    form = STEP_FORMS.get(node.op)
    if form is not None and form.scalar is not None:    # the step's own operation on a scalar (softplus(s))
        return form.scalar(args, printer)
    return None


def _bottom_up(e: Expr, rewrite, memo: dict) -> Expr:
    """e with rewrite(x) in place of every sub-expression x it rewrites (None: kept), children
    first, so a rewrite sees its arguments already rewritten."""
    if not isinstance(e, Apply):
        return e
    if e not in memo:
        args = tuple(_bottom_up(a, rewrite, memo) for a in e.args)
        out = e if args == e.args else Apply(e.op, args, e.attrs, e.shape)
        memo[e] = rewrite(out) or out
    return memo[e]


def _factors(e: Expr) -> list:
    """The factors of a product (nested muls flattened), or [e]."""
    if isinstance(e, Apply) and e.op == "mul":
        return _factors(e.args[0]) + _factors(e.args[1])
    return [e]


def _product(factors: list, shape: tuple) -> Expr:
    """factors multiplied left to right; constants first, as the derivation writes them."""
    factors = sorted(factors, key=lambda f: not isinstance(f, Const))
    out = factors[0]
    for f in factors[1:]:
        out = Apply("mul", (out, f), (), shape if shape else tuple(f.shape))
    return out


def _divisor(size, printer) -> str:
    return str(size) if getattr(size, "is_Symbol", False) else printer.scalar(size, 71)


@dataclass
class Op:
    """One lowered operation: ``target = node`` (node's arguments are Vars, Consts or views)."""

    target: str
    node: Apply
    comment: str = ""
    buffer: str | None = None
    scratch: list = field(default_factory=list)


def _constant_array(e: Expr):
    """The Const c when e is c broadcast (and reshaped) to an array, else None."""
    while isinstance(e, Apply) and e.op in ("broadcast_to", "expand_dims"):
        e = e.args[0]
    return e if isinstance(e, Const) else None


class _Lowering:
    """Cuts expressions into single operations, computing each distinct one once."""

    def __init__(self):
        self.ops: list[Op] = []
        self.memo: dict[Expr, Expr] = {}
        self.count = 0
        self.exp_of: dict[Var, Apply] = {}   # value -> how to get exp(value) without an exp
        self.softmax_parts: dict[Var, tuple] = {}   # log_softmax value -> (exps, total, axis, kept shape)
        self.logistic: dict[Var, tuple] = {}   # z -> (exp(min(z, 0)), exp(-max(z, 0)), exp(-|z|))

    def fresh(self) -> str:
        self.count += 1
        return naming.step_temporary(self.count)

    def operand(self, e: Expr) -> Expr:
        """e as an argument: a Var, a Const, or a view of one."""
        if isinstance(e, (Var, Const)):
            return e
        if e in self.memo:
            return self.memo[e]
        c = _constant_array(e)
        if c is not None:   # a constant array: filled in place, in the step's dtype
            filled = Apply("broadcast_to", (c,), (("shape", tuple(e.shape)),), tuple(e.shape))
            var = self.memo.get(filled) or self.bind(filled, self.fresh())
            self.memo[e] = var
            return var
        if e.op in _VIEWS:
            out = Apply(e.op, tuple(self.operand(a) for a in e.args), e.attrs, e.shape)
            self.memo[e] = out
            return out
        return self.bind(e, self.fresh())

    def emit(self, node: Apply) -> Var:
        """A new single operation over already-lowered operands."""
        name = self.fresh()
        self.ops.append(Op(name, node))
        return Var(name, node.shape, "temp")

    def bind(self, e: Expr, target: str, comment: str = "") -> Var:
        if isinstance(e, Apply) and e.op == "log_softmax":
            return self._log_softmax(e, target, comment)
        if isinstance(e, Apply) and e.op == "softplus":
            return self._softplus(e, target, comment)
        if isinstance(e, Apply) and e.op == "sigmoid":
            base, sign = self._signed_base(self.operand(e.args[0]))
            if sign < 0:
                # sigmoid(-v) = 1 / (1 + exp(v)): no array of -v
                var = Var(target, e.shape, "temp")
                self.ops.append(Op(target, Apply("sigmoid_neg", (base,), (), e.shape), comment))
                self.memo[e] = var
                return var
        if isinstance(e, Apply) and e.op == "exp" and self.operand(e.args[0]) in self.exp_of:
            # exp(log_softmax(z)) = e / t with e, t from the forward pass: no second exp
            node = self.exp_of[self.operand(e.args[0])]
            var = Var(target, e.shape, "temp")
            self.ops.append(Op(target, node, comment))
            self.memo[e] = var
            return var
        if isinstance(e, Apply) and e.op in RULES and RULES[e.op].family == "arith" and len(e.args) == 2:
            args = self._scalar_operands(e)
        else:
            args = tuple(self.operand(a) for a in e.args)
        var = Var(target, e.shape, "temp")
        self.ops.append(Op(target, Apply(e.op, args, e.attrs, e.shape), comment))
        self.memo[e] = var
        return var

    def _log_softmax(self, e: Apply, target: str, comment: str) -> Var:
        """log_softmax(z) = s - log(t), s = z - max(z), t = sum(exp(s)): each a value of its own."""
        z = self.operand(e.args[0])
        axis = e.kw["axis"]
        kept = tuple(d if i != axis else dim(1) for i, d in enumerate(e.shape))
        kept_kw = (("axis", axis), ("keepdims", True))
        m = self.emit(Apply("max", (z,), kept_kw, kept))
        shifted = self.emit(Apply("sub", (z, m), (), e.shape))
        exps = self.emit(Apply("exp", (shifted,), (), e.shape))
        total = self.emit(Apply("sum", (exps,), kept_kw, kept))
        log_total = self.emit(Apply("log", (total,), (), kept))
        var = Var(target, e.shape, "temp")
        self.ops.append(Op(target, Apply("sub", (shifted, log_total), (), e.shape), comment))
        self.memo[e] = var
        self.exp_of[var] = Apply("div", (exps, total), (), e.shape)
        self.softmax_parts[var] = (exps, total, axis, kept)
        return var

    def logistic_parts(self, z: Var) -> tuple:
        """(a, b, t) = (exp(min(z, 0)), exp(-max(z, 0)), exp(-|z|)), each computed once.

        With r = 1 / (1 + t): sigmoid(z) = a r, sigmoid(-z) = b r and
        softplus(+-z) = relu(+-z) + log1p(t), all exact to rounding for every z
        (no exp of a positive number, so nothing overflows and no errstate is
        needed), from two exps that sigmoid(z), sigmoid(-z) and both softplus
        share. -max(z, 0) is min(z, 0) - z: exact, a plain subtraction (numpy
        runs np.maximum against a scalar slower), and b's exp needs no negation.
        """
        if z in self.logistic:
            return self.logistic[z]
        shape = z.shape
        low_node = Apply("min0", (z,), (), shape)
        low = self.memo.get(low_node) or self.emit(low_node)
        self.memo[low_node] = low
        minus_high = self.emit(Apply("sub", (low, z), (), shape))
        self.memo[Apply("neg", (Apply("relu", (z,), (), shape),), (), shape)] = minus_high
        a = self.emit(Apply("exp", (low,), (), shape))
        b = self.emit(Apply("exp", (minus_high,), (), shape))
        t = self.emit(Apply("mul", (a, b), (), shape))
        self.logistic[z] = (a, b, t)
        return self.logistic[z]

    def _signed_base(self, x: Expr) -> tuple:
        """(v, -1) when the lowered x is -v for a Var v, else (x, 1)."""
        definition = self.definition(x)
        if definition is not None and definition.op == "neg" and isinstance(definition.args[0], Var):
            return definition.args[0], -1
        return x, 1

    def _softplus(self, e: Apply, target: str, comment: str) -> Var:
        """softplus(x) = relu(x) + log1p(exp(-|x|)), exact everywhere. The second part is even
        in x, so softplus(x) and softplus(-x), the two logs of a fused binary cross-entropy,
        share it, and it comes from the logistic parts that the sigmoids of their VJPs use."""
        x = self.operand(e.args[0])
        base, sign = self._signed_base(x)
        _a, _b, t = self.logistic_parts(base)
        tail_node = Apply("log1p", (t,), (), e.shape)
        tail = self.memo.get(tail_node)
        if tail is None:
            tail = self.memo[tail_node] = self.emit(tail_node)
        # relu(-v) = -min(v, 0) and relu(v) = -(min(v, 0) - v): no array of -v, and a sum takes the sign out
        shape = e.shape
        minus = (self.memo[Apply("min0", (base,), (), shape)] if sign < 0
                 else self.memo[Apply("neg", (Apply("relu", (base,), (), shape),), (), shape)])
        positive = self.emit(Apply("neg", (minus,), (), shape))
        var = Var(target, e.shape, "temp")
        self.ops.append(Op(target, Apply("add", (positive, tail), (), e.shape), comment))
        self.memo[e] = var
        return var

    def _sigmoid_term(self, e: Expr):
        """(z, sign, other factors) when e is a product holding one sigmoid(sign * z) whose
        logistic parts exist, else None."""
        factors = _factors(e)
        found = []
        for k, f in enumerate(factors):
            node = f
            if isinstance(f, Var):
                node = self.definition(f)
            if isinstance(node, Apply) and node.op == "sigmoid":
                arg = node.args[0]
                if isinstance(arg, Apply) and arg.op == "neg" and isinstance(arg.args[0], Var):
                    z, sign = arg.args[0], -1
                elif isinstance(arg, Var):
                    z, sign = self._signed_base(arg)
                else:
                    continue
                if z in self.logistic:
                    found.append((z, sign, factors[:k] + factors[k + 1:]))
        return found[0] if len(found) == 1 else None

    def logistic_backward(self, e: Expr) -> Expr:
        """e with every A sigmoid(z) +- B sigmoid(-z) rewritten as (A a +- B b) (c r).

        Binary cross-entropy's VJP at the logits z is c ((1 - y) sigmoid(z) - y sigmoid(-z)):
        both sigmoids are kept so a confident, right prediction keeps its tiny gradient.
        With the logistic parts (see :meth:`logistic_parts`) that is
        ((1 - y) a - y b) * c / (1 + t): no exp beyond the two the loss takes, and a
        constant factor c shared by A and B is applied once, inside the division.
        """
        return _bottom_up(e, self._logistic_pair, {})

    def _logistic_pair(self, e: Apply) -> Expr | None:
        if e.op not in ("add", "sub") or not self.logistic:
            return None
        terms = [self._sigmoid_term(x) for x in e.args]
        if None in terms or terms[0][0] != terms[1][0] or terms[0][1] == terms[1][1]:
            return None
        z = terms[0][0]
        shape = tuple(e.shape)
        if tuple(z.shape) != shape:
            return None
        rests = [rest for _z, _sign, rest in terms]
        scale = Const(1)
        common = [f for f in rests[0] if isinstance(f, Const) and f in rests[1]]
        if common:
            scale = common[0]
            rests = [[f for k, f in enumerate(r) if k != r.index(scale)] for r in rests]
        if not all(tuple(f.shape) in (shape, ()) for r in rests for f in r):
            return None
        a, b, t = self.logistic[z]
        parts = [_product(rest + [a if sign > 0 else b], shape) for (_z, sign, _), rest in zip(terms, rests)]
        ratio = Apply("scaled_recip_1p", (t, scale), (), shape)
        return Apply("mul", (Apply(e.op, tuple(parts), (), shape), ratio), (), shape)

    def softmax_backward(self, e: Expr) -> Expr:
        """e with every log_softmax VJP at a lowered log_softmax r rewritten to its cheap form.

        The rule's VJP, (1 - p) g - p (sum(g) - g) with 1 - p = -expm1(r), keeps
        full relative precision where p rounds to 1 (the plain backward, whose
        log_softmax sums with log1p). The step's log_softmax sums with log,
        so there that precision is already gone, and the same value is
        g - e (sum(g) / t) with e, t the forward pass's exp(z - max) and its
        sum: no expm1, no exp, no divide over the whole array. When g is c * V
        (cross-entropy: -Y / n), c (V - e (sum(V) / t)) saves the pass for g.
        A match is the rule's own VJP rebuilt from the candidate g and r and
        compared (hash-consed IR), so a look-alike is never rewritten.
        """
        return _bottom_up(e, self._cheap_log_softmax_vjp, {})

    def _cheap_log_softmax_vjp(self, e: Apply) -> Expr | None:
        # the rule's form: sub(mul(neg(expm1(r)), g), ...)
        keep = e.args[0] if e.op == "sub" else None
        if not (isinstance(keep, Apply) and keep.op == "mul"):
            return None
        factor, g = keep.args
        if not (isinstance(factor, Apply) and factor.op == "neg" and isinstance(factor.args[0], Apply)
                and factor.args[0].op == "expm1"):
            return None
        r = factor.args[0].args[0]
        if r not in self.softmax_parts:
            return None
        exps, total, axis, kept = self.softmax_parts[r]
        if RULES["log_softmax"].vjp(0)(g, r, r, axis=axis) != e:
            return None
        scale, base = None, g
        definition = self.definition(g)
        if (definition is not None and definition.op == "mul" and isinstance(definition.args[0], Const)
                and tuple(definition.args[1].shape) == tuple(g.shape)):
            scale, base = definition.args
        shape = tuple(e.shape)
        row_sum = Apply("sum", (base,), (("axis", axis), ("keepdims", True)), kept)
        out = Apply("sub", (base, Apply("mul", (exps, Apply("div", (row_sum, total), (), kept)), (), shape)), (), shape)
        return out if scale is None else Apply("mul", (scale, out), (), shape)

    def definition(self, v: Expr) -> Apply | None:
        """The operation that computed the lowered value v, if any."""
        if not isinstance(v, Var):
            return None
        for op in reversed(self.ops):
            if op.target == v.name:
                return op.node
        return None

    def _scalar_operands(self, e: Apply) -> tuple:
        """A broadcast constant next to a full-size operand is passed as a Python number."""
        out = []
        for i, a in enumerate(e.args):
            c = _constant_array(a)
            if c is not None and tuple(e.args[1 - i].shape) == tuple(e.shape):
                out.append(c)
            else:
                out.append(self.operand(a))
        return tuple(out)


# -- element-wise regions, simplified as scalar expressions -------------------

_ARITH = {"add", "sub", "mul", "div", "neg", "pow"}
_COST = {"div": 2, "pow": 1}


def _is_elementwise(e: Expr) -> bool:
    return isinstance(e, Apply) and (e.op in _ARITH or RULES[e.op].family == "elementwise")


def _cost(e: Expr) -> int:
    """Passes over memory an expression costs (functions and divisions count more)."""
    total = 0
    for node in walk(e):
        if isinstance(node, Apply):
            total += _COST.get(node.op, 1) if node.op in _ARITH else 4
    return total


class _Regions:
    """Rewrites maximal element-wise sub-trees into their cheapest equal scalar form.

    A backward expression such as ``dL/dP * P * (1 - P)`` with
    ``dL/dP = c (1 - Y) / (1 - P) - c Y / P`` (sigmoid into binary
    cross-entropy) is one element-wise region over the leaves P and Y; sympy's
    ``cancel`` turns it into ``c (P - Y)``: the same function, two passes
    instead of ten, and no 0/0 where P rounds to 0 or 1. A rewrite is kept only
    when it is cheaper and has the region's shape.
    """

    def __init__(self, definitions: dict | None = None):
        self.cache: dict = {}
        # forward values defined by arithmetic (1 - P), which a region may see through
        self.definitions = {v: e for v, e in (definitions or {}).items()
                            if isinstance(e, Apply) and e.op in _ARITH}

    def __call__(self, e: Expr) -> Expr:
        if not isinstance(e, Apply):
            return e
        if _is_elementwise(e) and e.shape:
            return self.region(e)
        args = tuple(self(a) for a in e.args)
        return e if args == e.args else Apply(e.op, args, e.attrs, e.shape)

    def region(self, e: Apply) -> Expr:
        import sympy as sp
        from ..rules.elementwise import FUNCTIONS, from_sympy

        leaves: dict[Expr, sp.Symbol] = {}

        def to_sympy(x: Expr):
            if isinstance(x, Const):
                return as_sympy(x.value)
            if x in self.definitions:
                return to_sympy(self.definitions[x])
            if not _is_elementwise(x):
                leaf = self(x)
                if leaf not in leaves:
                    leaves[leaf] = sp.Symbol(f"leaf{len(leaves)}", real=True)
                return leaves[leaf]
            a = [to_sympy(arg) for arg in x.args]
            kw = x.kw
            if x.op == "add":
                return a[0] + a[1]
            if x.op == "sub":
                return a[0] - a[1]
            if x.op == "mul":
                return a[0] * a[1]
            if x.op == "div":
                return a[0] / a[1]
            if x.op == "neg":
                return -a[0]
            if x.op == "pow":
                return a[0] ** as_sympy(kw["exponent"])
            fn = FUNCTIONS[x.op]
            return fn.sympy_function(a[0], *[as_sympy(kw[p]) for p in fn.params])

        scalar = to_sympy(e)
        key = (scalar, tuple(tuple(leaf.shape) for leaf in leaves))
        if key not in self.cache:
            self.cache[key] = self._cheapest(scalar)
        better = self.cache[key]
        if better is None:
            return self._rebuild(e)
        bind = {sym: leaf for leaf, sym in leaves.items()}
        out = from_sympy(better, bind)
        if tuple(out.shape) != tuple(e.shape) or _cost(out) >= _cost(e):
            return self._rebuild(e)
        return out

    def _rebuild(self, e: Apply) -> Expr:
        if not isinstance(e, Apply):
            return e
        args = tuple(self._rebuild(a) if _is_elementwise(a) else self(a) for a in e.args)
        return e if args == e.args else Apply(e.op, args, e.attrs, e.shape)

    @staticmethod
    def _cheapest(scalar):
        import sympy as sp
        if not any(p.exp.is_negative and not p.base.is_number for p in scalar.atoms(sp.Pow)):
            return None   # no division by a variable (1/sqrt(pi) is none) to cancel: keep the derivation's form
        if sp.count_ops(scalar) > _MAX_REGION_OPS:
            return None   # sympy's polynomial gcd can take minutes on a large region
        cancelled = sp.factor(sp.cancel(sp.together(scalar)))
        if sp.count_ops(cancelled) < sp.count_ops(scalar):
            return cancelled
        return None


#: Regions with more operations than this are not given to sympy to cancel. The rewrites
#: that pay (binary cross-entropy's c (P - Y)) come from regions of about 11; gelu' of a
#: cube, at 38, took sympy's gcd over 10 minutes before the division test above excluded it.
_MAX_REGION_OPS = 30


def lower(d: Derivation, plan, comments=None) -> tuple[list[Op], dict[str, Expr]]:
    """The step's operations, and what each gradient and the loss are after lowering."""
    low = _Lowering()
    graph = d.graph
    rename: dict[Var, Expr] = {}    # forward node / adjoint Var -> its lowered value
    for node in graph.nodes:
        comment = "" if node.temp else f"{node.name} = {graph.entry_text[node.entry]}"
        expr = _rename(node.expr, rename)
        if isinstance(expr, Apply) and expr not in low.memo and expr.op not in _VIEWS:
            value = low.bind(expr, node.name, comment)
        else:
            value = low.operand(expr)
        rename[node.var] = value
    results: dict[str, Expr] = {LOSS: rename[graph.node(LOSS).var]}
    by_target = {op.target: op.node for op in low.ops}
    regions = _Regions({rename[n.var]: by_target[n.name] for n in graph.nodes
                        if isinstance(n.expr, Apply) and n.expr.op in _ARITH and n.name in by_target})
    for target, _named, expr in plan:
        expr = low.logistic_backward(low.softmax_backward(regions(_rename(expr, rename))))
        adj = naming.adjoint(target)
        if isinstance(expr, Apply) and expr not in low.memo and expr.op not in _VIEWS:
            value = low.bind(expr, adj, (comments or {}).get(target, f"dL/d{target}"))
        else:
            value = low.operand(expr)
        rename[Var(adj, expr.shape, "adjoint")] = value
        results[target] = value
    ops = _distribute_sums(_fuse_dots(low.ops), low.fresh)
    return _prune(ops, [results[LOSS]] + [results[p] for p in graph.params]), results


def _distribute_sums(ops: list, fresh) -> list:
    """Distribute whole-array sums over the element-wise operations that feed them.

    A loss is a sum over all entries of an element-wise expression; each
    addition, subtraction, negation or product inside it would be a pass that
    writes a whole array. With linearity, sum(a + b) = sum(a) + sum(b),
    sum(-a) = -sum(a), sum(a * b) = vdot(a, b), vdot(a, b + c) = vdot(a, b) +
    vdot(a, c), and, for c broadcast along some axes, vdot(a, b - c) =
    vdot(a, b) - vdot(sum of a along those axes, c): the loss becomes a few
    read-only dot products and sums of Python numbers. Only values read by
    nothing else are taken apart (their operations are pruned afterwards).
    A difference of two whole arrays is left alone: sum(a) - sum(b) could
    cancel where the entries of a - b do not (the losses' terms, log-probabilities
    and their shifts, share one sign, so their sums do not cancel).
    Cross-entropy's loss then needs no log_softmax array, and binary
    cross-entropy's none of its five element-wise temporaries.
    """
    uses = {name: len(at) for name, at in _readers(ops).items()}
    by_target = {op.target: op for op in ops}

    def single(v):
        """The defining node of v when v is an array read only once, else None."""
        if isinstance(v, Var) and v.shape and uses.get(v.name) == 1 and v.name in by_target:
            return by_target[v.name].node
        return None

    def full(v, shape):
        return isinstance(v, Var) and tuple(v.shape) == shape

    def terms(kind, args, sign):
        """[(sign, kind, args)]: kind "total" (args (x,)) or "dot" (args (a, b))."""
        if kind == "total":
            (x,) = args
            d = single(x)
            shape = tuple(x.shape)
            if d is not None and d.op == "add" and all(full(a, shape) for a in d.args):
                return terms("total", (d.args[0],), sign) + terms("total", (d.args[1],), sign)
            if d is not None and d.op == "neg" and full(d.args[0], shape):
                return terms("total", d.args, -sign)
            if d is not None and d.op == "mul" and all(full(a, shape) for a in d.args):
                return terms("dot", d.args, sign)
            return [(sign, kind, args)]
        for a, b in (args, args[::-1]):
            d = single(b)
            shape = tuple(b.shape)
            if d is None or not full(a, shape):
                continue
            if d.op == "neg" and full(d.args[0], shape):
                return terms("dot", (a, d.args[0]), -sign)
            if d.op == "add" and all(full(x, shape) for x in d.args):
                return terms("dot", (a, d.args[0]), sign) + terms("dot", (a, d.args[1]), sign)
            if d.op == "sub" and full(d.args[0], shape) and isinstance(d.args[1], Var):
                small = tuple(d.args[1].shape)
                if len(small) == len(shape) and all(k == n or k == 1 for k, n in zip(small, shape)) and small != shape:
                    return terms("dot", (a, d.args[0]), sign) + [(-sign, "rowdot", (a, d.args[1]))]
        return [(sign, kind, args)]

    out_ops = list(ops)
    for op in ops:
        node = op.node
        if node.op == "dot":
            found, count = terms("dot", node.args, 1), node.kw["count"]
        elif _full_reduction(node) and isinstance(node.args[0], Var) and node.args[0].shape:
            found = terms("total", node.args, 1)
            count = 1
            if node.op == "mean":
                for d in node.args[0].shape:
                    count = count * d
        else:
            continue
        found = _merge_complements(found, by_target)
        if found == [(1, "dot" if node.op == "dot" else "total", node.args)]:
            continue   # nothing to take apart
        new_ops, names = [], []
        for sign, kind, args in found:
            if kind == "rowdot":
                a, small = args
                axes = tuple(i for i, (k, n) in enumerate(zip(small.shape, a.shape)) if k != n)
                row_sum = Apply("sum", (a,), (("axis", axes[0] if len(axes) == 1 else axes), ("keepdims", True)),
                                tuple(small.shape))
                existing = next((o for o in out_ops + new_ops if o.node == row_sum), None)
                if existing is not None and existing in out_ops and out_ops.index(existing) > out_ops.index(op):
                    between = {o.target for o in out_ops[out_ops.index(op):out_ops.index(existing)]}
                    if _vars(existing.node) & between:
                        existing = None
                    else:
                        out_ops.remove(existing)
                        new_ops.append(existing)
                if existing is None:
                    existing = Op(fresh(), row_sum)
                    new_ops.append(existing)
                args, kind = (Var(existing.target, tuple(small.shape), "temp"), small), "dot"
            if kind == "dot":
                term = Apply("dot", tuple(args), (("count", count),), ())
            else:   # a whole-array sum; a mean divides by the size of its argument, which is count
                term = Apply("sum" if count == 1 else "mean", tuple(args), (("axis", None),), ())
            new_ops.append(Op(fresh(), term))
            names.append((sign, Var(new_ops[-1].target, (), "temp")))
        if len(names) == 1 and names[0][0] > 0:
            op.node = new_ops.pop().node
        else:
            total = names[0][1] if names[0][0] > 0 else Apply("neg", (names[0][1],), (), ())
            for sign, v in names[1:]:
                total = Apply("add" if sign > 0 else "sub", (total, v), (), ())
            op.node = total
        for new in new_ops:   # each as early as its arguments allow, so they die (and free arrays) sooner
            needs = _vars(new.node)
            deps = [k for k, o in enumerate(out_ops) if o.target in needs]
            _hoist_free(out_ops, deps)
            deps = [k for k, o in enumerate(out_ops) if o.target in needs]
            out_ops.insert(max(deps) + 1 if deps else out_ops.index(op), new)
    return out_ops


def _merge_complements(found: list, by_target: dict) -> list:
    """vdot(y, x) + vdot(1 - y, x) -> sum(x): one pass instead of two.

    Binary cross-entropy's two log terms share the tail log1p(exp(-|z|)),
    weighted by y and by 1 - y. Both dot products have the sign of x where y
    lies in [0, 1], so the sum of x agrees with them to rounding.
    """
    def complement(p, q):
        d = by_target.get(q.name) if isinstance(q, Var) else None
        return d is not None and d.node.op == "sub" and is_const(d.node.args[0], 1) and d.node.args[1] == p

    def merged(first, second):
        (sign, kind, args), (sign2, kind2, args2) = first, second
        if kind != "dot" or kind2 != "dot" or sign != sign2:
            return None
        for x in set(args) & set(args2):
            p = args[1] if args[0] == x else args[0]
            q = args2[1] if args2[0] == x else args2[0]
            if complement(p, q) or complement(q, p):
                return sign, "total", (x,)
        return None

    out = list(found)
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            if out[i] is not None and out[j] is not None and merged(out[i], out[j]):
                out[i], out[j] = merged(out[i], out[j]), None
    return [t for t in out if t is not None]


def _hoist_free(ops: list, deps: list) -> None:
    """Move the last of deps up to just after the others when it reads no computed value.

    A dot product of the loss, vdot((1 - y), relu(z)), can only run once both
    arrays exist; 1 - y reads inputs alone, so computing it there, not at its
    place in the forward order, lets relu(z) die (and its array be reused) early.
    """
    if len(deps) < 2:
        return
    deps = sorted(deps)
    last = ops[deps[-1]]
    computed = {o.target for o in ops}
    if _vars(last.node) & computed:
        return
    ops.insert(deps[-2] + 1, ops.pop(deps[-1]))


def _prune(ops: list, results: list) -> list:
    """Drop operations whose value neither a result nor a kept operation reads (a rewrite
    left them behind)."""
    live = set()
    for v in results:
        live |= _vars(v)
    kept = []
    for op in reversed(ops):
        if op.target in live:
            kept.append(op)
            live |= _vars(op.node)
    return kept[::-1]


def _rename(e: Expr, mapping: dict) -> Expr:
    if isinstance(e, Var):
        return mapping.get(e, e)
    if isinstance(e, Apply):
        args = tuple(_rename(a, mapping) for a in e.args)
        return e if args == e.args else Apply(e.op, args, e.attrs, e.shape)
    return e


def _vars(e: Expr) -> set[str]:
    return {v.name for v in walk(e) if isinstance(v, Var)}


def assign_buffers(ops: list[Op], keep: set[str]) -> list[tuple]:
    """Give every array-valued op an array of the workspace; returns [(shape, kind)] per buffer.

    keep: names that must survive to the end (the returned gradients).
    """
    last: dict[str, int] = {}
    for i, op in enumerate(ops):
        for name in _vars(op.node):
            last[name] = i
    for name in keep:
        last[name] = len(ops)
    buffers: list[tuple] = []
    pool: dict[tuple, list[int]] = {}
    held: dict[str, int] = {}        # value name -> buffer index
    readers = _readers(ops)
    for i, op in enumerate(ops):
        form = out_form(op.node.op)
        if not op.node.shape:
            # a scalar result (a dot product, a full sum) holds no array: what it read last is free
            for name in sorted(_vars(op.node)):
                if last.get(name) == i and name in held:
                    b = held.pop(name)
                    pool.setdefault(buffers[b], []).append(b)
            continue
        if form is None:
            continue
        kind = form.kind
        if kind == MASK and any(ops[j].node.op != "mul" for j in readers.get(op.target, ())):
            kind = FLOAT    # a 0/1 mask read by anything but a product is written as 0.0/1.0 (erf(step(x)))
        key = (tuple(op.node.shape), kind)
        dying = [n for n in sorted(_vars(op.node)) if last.get(n) == i and n in held]
        chosen = None
        if form.elementwise:
            for arg in op.node.args:
                if isinstance(arg, Var) and arg.name in dying and buffers[held[arg.name]] == key:
                    chosen = held.pop(arg.name)
                    dying.remove(arg.name)
                    break
        if chosen is None:
            chosen = _take(pool, buffers, key)
        op.buffer = naming.step_buffer(chosen)
        scratch = [_take(pool, buffers, (key[0], FLOAT)) for _ in range(form.scratch)]
        op.scratch = [naming.step_buffer(s) for s in scratch]
        for s in scratch:
            pool[(key[0], FLOAT)].append(s)
        constant = form.constant(op.node) if form.constant else None
        if constant:    # shared and never written: one per shape and fill
            if constant not in buffers:
                buffers.append(constant)
            op.scratch.append(naming.step_buffer(buffers.index(constant)))
        for name in dying:
            b = held.pop(name)
            pool.setdefault(buffers[b], []).append(b)
        held[op.target] = chosen
        if last.get(op.target, -1) <= i and op.target not in keep:
            held.pop(op.target)
            pool.setdefault(key, []).append(chosen)
    return buffers


def _fewest_buffers(schedules: list, keep: set) -> tuple:
    """(ops, buffers) of the schedule whose workspace holds the fewest arrays (the first on a tie)."""
    best = None
    for ops in schedules:
        ops = [replace(op, scratch=[]) for op in ops]
        buffers = assign_buffers(ops, keep)
        if best is None or len(buffers) < len(best[1]):
            best = ops, buffers
    return best


def _sink_reductions(ops: list) -> list:
    """The schedule with every array that only whole-array reductions read computed late.

    Such an array (a loss term like log1p(exp(-|z|)), read by dot products) is
    computed, by default, where the forward pass reaches it, while the arrays
    it is made from often stay alive for the backward pass anyway. Moved to
    just before the last other reader of those arrays (with the reductions and
    scalar arithmetic that read it and came before that reader), it may find an
    array the backward pass has freed instead of a new one. A move that would
    put anything after a value it reads is not made. Values do not change, only
    the order; the caller keeps this schedule only when it needs fewer arrays.
    """
    ops = list(ops)
    readers = _readers(ops)
    candidates = [op for op in ops if op.node.shape and readers.get(op.target)
                  and not any(ops[j].node.shape for j in readers[op.target])]
    for op in candidates:
        readers = _readers(ops)
        k = ops.index(op)
        later = [j for v in _vars(op.node) for j in readers.get(v, []) if j > k and j not in readers[op.target]]
        if not later:
            continue
        to = max(later)
        # op, and the scalar arithmetic before `to` that reads it (directly or not), move to just before `to`
        moved, names = [op], {op.target}
        for j in range(k + 1, to):
            if not ops[j].node.shape and _vars(ops[j].node) & names:
                moved.append(ops[j])
                names.add(ops[j].target)
        # anything else reading what moves must run after its new place
        staying = {id(o) for o in ops} - {id(m) for m in moved}
        if any(_vars(o.node) & names for o in ops[k:to] if id(o) in staying):
            continue
        rest = [o for o in ops if id(o) in staying]
        at = next(j for j, o in enumerate(rest) if o is ops[to])
        ops = rest[:at] + moved + rest[at:]
    return ops


def _early(ops: list) -> list:
    """The schedule with every array-valued operation of an ``early`` out= form
    (sums along an axis, the ReLU mask) moved to just after its one argument is made.

    The bias gradients (column sums) would otherwise run after the matrix
    product that also reads their argument, by when that array has left the
    cache; right after it is written, it is still there, which is what the
    sum's BLAS form (``rules.reduce._sum_ones``) needs to be fast. A ReLU mask
    made in the forward pass, from the pre-activation the ReLU has just read,
    leaves that array dead after the ReLU, which can then run in place: one
    array fewer, and one pass less over a cold one in the backward pass. Only
    the order changes; each moved operation reads nothing but its argument.
    One pass: linear in the number of operations.
    """
    made = {op.target for op in ops}
    after: dict[str, list] = {}     # value name -> the operations to run right after it is made
    moved = set()
    for op in ops:
        form = out_form(op.node.op)
        arg = op.node.args[0] if len(op.node.args) == 1 else None
        if form and form.early and op.node.shape and isinstance(arg, Var) and arg.name in made:
            moved.add(id(op))
            if not op.comment:    # a reader should not wonder why a backward-pass value is made here
                op = replace(op, comment=f"{op.node.op}({arg.name}), made here while {arg.name} is in cache")
            after.setdefault(arg.name, []).append(op)
    out: list = []

    def place(op):
        out.append(op)
        for follower in after.get(op.target, ()):
            place(follower)

    for op in ops:
        if id(op) not in moved:
            place(op)
    return out


def _readers(ops: list) -> dict[str, list[int]]:
    """Value name -> the positions of the operations that read it, in order."""
    out: dict[str, list[int]] = {}
    for k, op in enumerate(ops):
        for name in _vars(op.node):
            out.setdefault(name, []).append(k)
    return out


def _take(pool, buffers, key) -> int:
    free = pool.setdefault(key, [])
    if free:
        return free.pop()
    buffers.append(key)
    return len(buffers) - 1


def render_ops(ops: list[Op], printer: NumpyPrinter) -> list:
    """Statement lines (comment, [code lines]) for the template."""
    out = []
    for op in ops:
        form = out_form(op.node.op)
        args = [printer.doprint(a) for a in op.node.args]
        if op.buffer is None or form is None:
            text = _scalar_form(op.node, args, printer) or printer.doprint(op.node)
            out.append((op.comment, [f"{op.target} = {text}"]))
            continue
        lines = form.code(args, op.node, op.buffer, op.scratch, printer)
        if len(lines) == 1 and form.returns:
            lines[0] = f"{op.target} = {lines[0]}"
        else:
            lines.append(f"{op.target} = {op.buffer}")
        out.append((op.comment, lines))
    return out


def step_data(d: Derivation, plan, comments: dict) -> dict:
    """Everything the template needs for the step section."""
    ops, results = lower(d, plan, comments)
    grads = {p: results[p] for p in d.graph.params}
    keep = {v.name for v in grads.values() if isinstance(v, Var)}
    ops, buffers = _fewest_buffers([_early(o) for o in (ops, _sink_reductions(ops))], keep)
    printer = NumpyPrinter()
    lines = render_ops(ops, printer)
    grad_code = {}
    for p, v in grads.items():
        text = printer.doprint(v)
        # a gradient that is a view or a constant gets its own array, shaped like p
        if not isinstance(v, Var) or v.name not in keep:
            text = f"np.array({text}, dtype=dtype)" if isinstance(v, Const) else f"np.ascontiguousarray({text})"
        grad_code[p] = text
    fill = {ZEROS: "zeros", ONES: "ones"}
    allocations = [f"np.{fill.get(kind, 'empty')}({printer.shape(shape)}, "
                   f"{'bool' if kind == MASK else 'dtype'})" for shape, kind in buffers]
    return {
        "lines": lines,
        "buffers": [naming.step_buffer(i) for i in range(len(buffers))],
        "allocations": allocations,
        "loss_code": printer.doprint(results[LOSS]),
        "grad_code": grad_code,
        "helpers": printer.helpers,
    }
