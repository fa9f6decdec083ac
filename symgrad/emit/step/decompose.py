"""Per-operation decompositions of the lowering, and the backward rewrites that use their parts.

Forward (:data:`FORWARD`, op name -> function(lowering, e, target, comment)
returning the lowered Var, or None when the ordinary lowering applies):

- log_softmax(z) = s - log(t), s = z - max(z), t = sum(exp(s)), each a value
  of its own, so its VJP reuses exp(s) and t;
- softplus(x) = relu(x) + log1p(exp(-|x|)), from the logistic parts;
- sigmoid(-v) = 1 / (1 + exp(v)) (``sigmoid_neg``): no array of -v;
- exp(log_softmax(z)) = e / t from the forward pass's parts: no second exp.

Backward (:data:`BACKWARD`, each function(lowering, expr) -> expr, applied in
order to every backward expression): log_softmax's VJP in its cheap form, and
pairs A sigmoid(z) +- B sigmoid(-z) over the shared logistic parts.

The parts are internal rules (:mod:`symgrad.rules.internal`): ``shift_max``,
``min0``, ``sigmoid_neg``, ``log1p``, ``scaled_recip_1p``.
"""

from __future__ import annotations

from ...ir import Apply, Const, Expr, Var, dim
from ...rules import RULES
from .ops import bottom_up, factors, product


def _log_softmax(low, e: Apply, target: str, comment: str) -> Var:
    """log_softmax(z) = s - log(t), s = z - max(z), t = sum(exp(s)): each a value of its own."""
    z = low.operand(e.args[0])
    axis = e.kw["axis"]
    kept = tuple(d if i != axis else dim(1) for i, d in enumerate(e.shape))
    kept_kw = (("axis", axis), ("keepdims", True))
    m = low.emit(Apply("shift_max", (z,), kept_kw, kept))
    shifted = low.emit(Apply("sub", (z, m), (), e.shape))
    exps = low.emit(Apply("exp", (shifted,), (), e.shape))
    total = low.emit(Apply("sum", (exps,), kept_kw, kept))
    log_total = low.emit(Apply("log", (total,), (), kept))
    var = low.record(e, target, Apply("sub", (shifted, log_total), (), e.shape), comment)
    low.exp_of[var] = Apply("div", (exps, total), (), e.shape)
    low.softmax_parts[var] = (exps, total, axis, kept)
    return var


def logistic_parts(low, z: Var) -> tuple:
    """(a, b, t) = (exp(min(z, 0)), exp(-max(z, 0)), exp(-|z|)), each computed once.

    With r = 1 / (1 + t): sigmoid(z) = a r, sigmoid(-z) = b r and
    softplus(+-z) = relu(+-z) + log1p(t), all exact to rounding for every z
    (no exp of a positive number, so nothing overflows and no errstate is
    needed), from two exps that sigmoid(z), sigmoid(-z) and both softplus
    share. -max(z, 0) is min(z, 0) - z: exact, a plain subtraction (numpy
    runs np.maximum against a scalar slower), and b's exp needs no negation.
    """
    if z in low.logistic:
        return low.logistic[z]
    shape = z.shape
    low_node = Apply("min0", (z,), (), shape)
    lowest = low.memo.get(low_node) or low.emit(low_node)
    low.memo[low_node] = lowest
    minus_high = low.emit(Apply("sub", (lowest, z), (), shape))
    low.memo[Apply("neg", (Apply("relu", (z,), (), shape),), (), shape)] = minus_high
    a = low.emit(Apply("exp", (lowest,), (), shape))
    b = low.emit(Apply("exp", (minus_high,), (), shape))
    t = low.emit(Apply("mul", (a, b), (), shape))
    low.logistic[z] = (a, b, t)
    return low.logistic[z]


def _softplus(low, e: Apply, target: str, comment: str) -> Var:
    """softplus(x) = relu(x) + log1p(exp(-|x|)), exact everywhere. The second part is even
    in x, so softplus(x) and softplus(-x), the two logs of a fused binary cross-entropy,
    share it, and it comes from the logistic parts that the sigmoids of their VJPs use."""
    x = low.operand(e.args[0])
    base, sign = low.signed_base(x)
    _a, _b, t = logistic_parts(low, base)
    tail_node = Apply("log1p", (t,), (), e.shape)
    tail = low.memo.get(tail_node)
    if tail is None:
        tail = low.memo[tail_node] = low.emit(tail_node)
    # relu(-v) = -min(v, 0) and relu(v) = -(min(v, 0) - v): no array of -v, and a sum takes the sign out
    shape = e.shape
    minus = (low.memo[Apply("min0", (base,), (), shape)] if sign < 0
             else low.memo[Apply("neg", (Apply("relu", (base,), (), shape),), (), shape)])
    positive = low.emit(Apply("neg", (minus,), (), shape))
    return low.record(e, target, Apply("add", (positive, tail), (), e.shape), comment)


def _sigmoid(low, e: Apply, target: str, comment: str) -> Var | None:
    """sigmoid(-v) = 1 / (1 + exp(v)): no array of -v."""
    base, sign = low.signed_base(low.operand(e.args[0]))
    if sign > 0:
        return None
    return low.record(e, target, Apply("sigmoid_neg", (base,), (), e.shape), comment)


def _exp(low, e: Apply, target: str, comment: str) -> Var | None:
    """exp(log_softmax(z)) = e / t with e, t from the forward pass: no second exp."""
    arg = low.operand(e.args[0])
    if arg not in low.exp_of:
        return None
    return low.record(e, target, low.exp_of[arg], comment)


FORWARD = {"log_softmax": _log_softmax, "softplus": _softplus, "sigmoid": _sigmoid, "exp": _exp}


def softmax_backward(low, e: Expr) -> Expr:
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
    return bottom_up(e, lambda x: _cheap_log_softmax_vjp(low, x), {})


def _cheap_log_softmax_vjp(low, e: Apply) -> Expr | None:
    # the rule's form: sub(mul(neg(expm1(r)), g), ...)
    keep = e.args[0] if e.op == "sub" else None
    if not (isinstance(keep, Apply) and keep.op == "mul"):
        return None
    factor, g = keep.args
    if not (isinstance(factor, Apply) and factor.op == "neg" and isinstance(factor.args[0], Apply)
            and factor.args[0].op == "expm1"):
        return None
    r = factor.args[0].args[0]
    if r not in low.softmax_parts:
        return None
    exps, total, axis, kept = low.softmax_parts[r]
    if RULES["log_softmax"].vjp(0)(g, r, r, axis=axis) != e:
        return None
    scale, base = None, g
    definition = low.definition(g)
    if (definition is not None and definition.op == "mul" and isinstance(definition.args[0], Const)
            and tuple(definition.args[1].shape) == tuple(g.shape)):
        scale, base = definition.args
    shape = tuple(e.shape)
    row_sum = Apply("sum", (base,), (("axis", axis), ("keepdims", True)), kept)
    out = Apply("sub", (base, Apply("mul", (exps, Apply("div", (row_sum, total), (), kept)), (), shape)), (), shape)
    return out if scale is None else Apply("mul", (scale, out), (), shape)


def logistic_backward(low, e: Expr) -> Expr:
    """e with every A sigmoid(z) +- B sigmoid(-z) rewritten as (A a +- B b) (c r).

    Binary cross-entropy's VJP at the logits z is c ((1 - y) sigmoid(z) - y sigmoid(-z)):
    both sigmoids are kept so a confident, right prediction keeps its tiny gradient.
    With the logistic parts (see :func:`logistic_parts`) that is
    ((1 - y) a - y b) * c / (1 + t): no exp beyond the two the loss takes, and a
    constant factor c shared by A and B is applied once, inside the division.
    """
    return bottom_up(e, lambda x: _logistic_pair(low, x), {})


def _sigmoid_term(low, e: Expr):
    """(z, sign, other factors) when e is a product holding one sigmoid(sign * z) whose
    logistic parts exist, else None."""
    parts = factors(e)
    found = []
    for k, f in enumerate(parts):
        node = f
        if isinstance(f, Var):
            node = low.definition(f)
        if isinstance(node, Apply) and node.op == "sigmoid":
            arg = node.args[0]
            if isinstance(arg, Apply) and arg.op == "neg" and isinstance(arg.args[0], Var):
                z, sign = arg.args[0], -1
            elif isinstance(arg, Var):
                z, sign = low.signed_base(arg)
            else:
                continue
            if z in low.logistic:
                found.append((z, sign, parts[:k] + parts[k + 1:]))
    return found[0] if len(found) == 1 else None


def _logistic_pair(low, e: Apply) -> Expr | None:
    if e.op not in ("add", "sub") or not low.logistic:
        return None
    terms = [_sigmoid_term(low, x) for x in e.args]
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
    a, b, t = low.logistic[z]
    parts = [product(rest + [a if sign > 0 else b], shape) for (_z, sign, _), rest in zip(terms, rests)]
    ratio = Apply("scaled_recip_1p", (t, scale), (), shape)
    return Apply("mul", (Apply(e.op, tuple(parts), (), shape), ratio), (), shape)


BACKWARD = (softmax_backward, logistic_backward)
