"""The mistake catalogue: variants of the true derivation that embody the
common mistakes, built by rewriting the IR of the derivation's contributions.

Every contribution ``dL/dT += expr`` records the operation (``op``) whose
vector-Jacobian product made it. A mistake rewrites one contribution's
expression the way a student gets that step wrong (a transpose dropped, the
operands of ``@`` swapped, ``*`` for ``@``, the activation's derivative taken
at its output...); the adjoint of the asked-for name is then re-assembled
through the rest of the (correct) chain. Mistakes that change a shape (a bias
gradient not summed over the batch, the ones column kept) only apply to the
asked-for name itself. Nothing here edits formula text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..derive import Contribution, Derivation
from ..errors import SymgradError
from ..ir import Apply, Const, Expr, Var, as_sympy, walk
from ..rewrite import substitute
from ..rules import RULES, apply
from ..rules.elementwise import FUNCTIONS, R, X, from_sympy
from .mistake_kinds import CODE_ONLY, MESSAGES, MISTAKES, REPAIR_ONLY  # noqa: F401 - the catalogue's names
from .mistakes_batch import has_adjoint as _has_adjoint
from .mistakes_batch import statistics_override, unbroadcast_sums
from .mistakes_batch import try_apply as _try


@dataclass(frozen=True)
class Variant:
    mistake: str
    expr: Expr
    target: str        # the adjoint whose step was rewritten
    source: str        # the operation's node


def semi_expanded(d: Derivation, name: str, override: dict | None = None) -> Expr:
    """The adjoint of ``name`` in forward values only (no d_<name> left)."""
    memo: dict = {}

    def adj(target):
        if target in memo:
            return memo[target]
        expr = override[target] if override and target in override else d.adjoint(target)
        mapping = {v.name: adj(v.name[2:]) for v in walk(expr) if isinstance(v, Var) and v.role == "adjoint"}
        out = substitute(expr, mapping) if mapping else expr
        memo[target] = out
        return out

    return adj(name)


def _cone(d: Derivation, name: str) -> list[str]:
    """Targets whose adjoint the adjoint of ``name`` is built from (itself included)."""
    out, stack = [], [name]
    while stack:
        t = stack.pop()
        if t in out or t not in d.contributions:
            continue
        out.append(t)
        for c in d.contributions[t]:
            stack.extend(v.name[2:] for v in walk(c.expr) if isinstance(v, Var) and v.role == "adjoint")
    return out


def _rebuild(e: Expr, rewrite) -> list[Expr]:
    """Every tree obtained by applying ``rewrite`` at exactly one node of e."""
    out = []
    for new in rewrite(e):
        out.append(new)
    if isinstance(e, Apply):
        for i, arg in enumerate(e.args):
            for new_arg in _rebuild(arg, rewrite):
                args = e.args[:i] + (new_arg,) + e.args[i + 1:]
                try:
                    out.append(apply(e.op, *args, **e.kw))
                except SymgradError:
                    pass
    return out


def _structural(e: Expr):
    """(mistake, rewritten node) for one node, from its operation alone."""
    if not isinstance(e, Apply):
        return
    if e.op == "transpose":
        yield "missing_transpose", e.args[0]
    if e.op == "outer":
        yield "missing_transpose", apply("outer", e.args[1], e.args[0])
    if e.op == "matmul":
        a, b = e.args
        for new in _try("matmul", b, a):
            yield "wrong_order", new
        if b.ndim == 2 and a.ndim == 2:
            for new in _try("matmul", apply("transpose", b), apply("transpose", a)):
                yield "wrong_order", new
        for new in _try("mul", a, b):
            yield "hadamard_vs_matmul", new
    if e.op == "mul" and all(a.ndim > 0 for a in e.args):
        a, b = e.args
        for new in _try("matmul", a, b) + _try("matmul", b, a):
            yield "hadamard_vs_matmul", new
    if e.op == "neg":
        yield "sign_error", e.args[0]


def _node_rewrites(rewrite_pairs, mistake):
    def rewrite(e):
        return [new for m, new in rewrite_pairs(e) if m == mistake]
    return rewrite


def _consts(e: Expr, change):
    """Rewrite every constant: change(value) -> new value or None."""
    def rewrite(node):
        if isinstance(node, Const):
            new = change(as_sympy(node.value))
            if new is not None:
                return [Const(new)]
        return []
    return rewrite


def contribution_variants(d: Derivation, c: Contribution) -> list[tuple[str, Expr]]:
    """(mistake, rewritten contribution) pairs for one step of the derivation."""
    out: list[tuple[str, Expr]] = []
    for mistake in ("missing_transpose", "wrong_order", "hadamard_vs_matmul", "sign_error"):
        out += [(mistake, new) for new in _rebuild(c.expr, _node_rewrites(_structural, mistake))]
    penalty = _rebuild(c.expr, _drop_penalty_weight(d))   # the penalty's weight (l2_reg) left out
    if c.op != "pow":   # the square's own 2 (yhat - y) is the factor mistakes' (missing_factor_2)
        out += [("chain_factor_dropped", new) for new in _rebuild(c.expr, _drop_chain_factor)
                + _rebuild(c.expr, _drop_upstream_scalar) if new not in penalty]
    out += [("regularization_dropped", new) for new in penalty]
    node = d.graph.node(c.source)
    op_expr = _op_expr(d, c)
    if c.op == "pow" and op_expr is not None and op_expr.kw.get("exponent") == 2:
        out += [("missing_factor_2", new) for new in
                _rebuild(c.expr, _consts(c.expr, lambda v: v / 2 if v.is_number and (v / 2).is_Integer else None))]
    if c.op == "mean" and op_expr is not None:
        from ..rules.reduce import _count, normalize_axis
        arg = op_expr.args[0]
        count = _count(arg.shape, normalize_axis(op_expr.kw.get("axis"), arg.ndim, "mean"))
        out += [("missing_mean_factor", new) for new in
                _rebuild(c.expr, _consts(c.expr, lambda v: sp.simplify(v * count) if (v * count).is_number
                                         or sp.simplify(v * count).free_symbols < v.free_symbols else None))]
        out += [("extra_mean_factor", new) for new in
                _rebuild(c.expr, _consts(c.expr, lambda v: sp.simplify(v / count) if v.free_symbols
                                         or v.is_number and v != 0 and (v * count).is_Integer else None))]
    if c.op in FUNCTIONS and op_expr is not None and RULES[c.op].vjp(0) is not None:
        fn = FUNCTIONS[c.op]
        x, r = op_expr.args[0], node.var
        g = d.adjoint_var(c.source)
        params = {sp.Symbol(k, real=True): Const(v) for k, v in op_expr.kw.items()}
        at_output = from_sympy(fn.derivative, {X: r, R: apply(c.op, r, **op_expr.kw), **params})
        out.append(("derivative_at_output", apply("mul", g, at_output)))
        if R in fn.derivative.free_symbols:
            # the mirror image: a formula written in the output (1 - tanh^2, sigma (1 - sigma)) fed the input
            out.append(("derivative_at_output", apply("mul", g, from_sympy(fn.derivative, {X: x, R: x, **params}))))
        out.append(("sigma_for_sigma_prime", apply("mul", g, r)))
        if fn.kinks:
            true_d = from_sympy(fn.derivative, {X: x, R: r, **params})
            out.append(("kink_convention", apply("mul", g, _other_side(true_d))))
            # both at once: the derivative at the output, with 1 at the kink, is 1 everywhere
            out.append(("derivative_at_output+kink_convention", apply("mul", g, _other_side(at_output))))
    if c.op == "softmax":
        r = node.var
        g = d.adjoint_var(c.source)
        out.append(("softmax_jacobian_diagonal",
                     apply("mul", g, apply("mul", r, apply("sub", Const(1), r)))))
    if c.op in ("softmax", "log_softmax") and op_expr is not None and _reads_labels(d):
        # p where p - y belongs: with a label's -log p_y upstream, the scores' adjoint is s (p - onehot(y));
        # the answer keeps the part every class gets (the softmax times the upstream's row sum) only
        r, g, axis = node.var, d.adjoint_var(c.source), op_expr.kw.get("axis")
        if c.op == "softmax":
            kept = apply("neg", apply("mul", r, apply("sum", apply("mul", g, r), axis=axis, keepdims=True)))
        else:
            kept = apply("neg", apply("mul", apply("exp", r), apply("sum", g, axis=axis, keepdims=True)))
        out.append(("label_term_dropped", kept))
    if c.op == "concat" and isinstance(c.expr, Apply) and c.expr.op == "slice":
        if op_expr is not None and any(isinstance(a, Apply) and a.op in ("ones", "zeros") for a in op_expr.args):
            out.append(("concat_ones_kept", c.expr.args[0]))
    if c.op in ("add", "sub", "mul", "div", "transpose"):   # a broadcast's adjoint: b, or b.T (Z = A W^T + b^T)
        for mistake in ("bias_not_summed", "bias_summed_wrong_axis"):
            for new in _rebuild(c.expr, _node_rewrites(unbroadcast_sums, mistake)):
                out.append((mistake, new))
                if new.ndim == 2:     # the same mistake written in the other layout
                    out.append((mistake, apply("transpose", new)))
    return out


def _broadcast(e: Expr, shape: tuple) -> Expr:
    try:
        return apply("broadcast_to", e, shape=shape)
    except SymgradError:
        return e


def _drop_chain_factor(node: Expr) -> list[Expr]:
    """A product (``*``, ``@``, outer) of the incoming adjoint and a local derivative, the
    local factor left out: ``W.T @ g`` -> ``g``, ``g * step(z)`` -> ``g``. Constant factors
    (2, 1/n) are left to the factor mistakes."""
    if not (isinstance(node, Apply) and node.op in ("mul", "matmul", "outer") and len(node.args) == 2):
        return []
    carrying = [a for a in node.args if _has_adjoint(a)]
    local = [a for a in node.args if not _has_adjoint(a)]
    if len(carrying) != 1 or len(local) != 1 or not any(isinstance(v, Var) for v in walk(local[0])):
        return []
    return [carrying[0]]


PENALTY_WEIGHT = re.compile(r"(^|_)(l[12]_?)?reg(ulari[sz]ation)?($|_)|^lam(b)?da|^weight_decay$|^penalty",
                            re.IGNORECASE)


def _drop_penalty_weight(d: Derivation):
    """``l2_reg * x`` -> ``x``: a scalar input named as a penalty's weight (l2_reg, lambda...) left out."""
    weights = {name for name, var in d.graph.inputs.items() if var.ndim == 0 and PENALTY_WEIGHT.search(name)}

    def rewrite(e):
        if not weights or not (isinstance(e, Apply) and e.op == "mul" and len(e.args) == 2):
            return []
        a, b = e.args
        return [keep for keep, drop in ((a, b), (b, a))
                if isinstance(drop, Var) and drop.name in weights and tuple(keep.shape) == tuple(e.shape)]
    return rewrite


def _leaves(d: Derivation, name: str, memo: dict) -> set:
    """The inputs and parameters a node's value depends on."""
    if name in memo:
        return memo[name]
    graph = d.graph
    if name in graph.inputs or name in graph.params:
        memo[name] = {name}
        return memo[name]
    memo[name] = set()
    out = set()
    for v in walk(graph.node(name).expr):
        if isinstance(v, Var) and v.name != name:
            out |= _leaves(d, v.name, memo)
    memo[name] = out
    return out


def penalty_nodes(d: Derivation) -> list:
    """Nodes that are a regularization term: a summand of an add whose value depends on parameters and
    penalty weights only (scalar inputs named l2_reg, lambda...), none of which the other summand
    reads, while the other summand reads data."""
    graph, memo, out = d.graph, {}, []
    for node in graph.nodes:
        expr = node.expr
        if not (isinstance(expr, Apply) and expr.op in ("add", "sub") and len(expr.args) == 2):
            continue
        for mine, other in ((expr.args[0], expr.args[1]), (expr.args[1], expr.args[0])):
            if not (isinstance(mine, Var) and mine.name not in graph.inputs and mine.name not in graph.params):
                continue
            leaves = _leaves(d, mine.name, memo)
            other_leaves = set().union(*[_leaves(d, v.name, memo) for v in walk(other) if isinstance(v, Var)])
            inputs = {n for n in leaves if n in graph.inputs}
            data = {n for n in other_leaves if n in graph.inputs} - inputs
            weights = all(graph.inputs[n].ndim == 0 and PENALTY_WEIGHT.search(n) for n in inputs)
            if leaves & set(graph.params) and weights and \
                    not inputs & other_leaves and data and mine.name not in out:
                out.append(mine.name)
    return out


def batch_sizes(d: Derivation) -> list:
    """The symbolic sizes that are some input's first axis (the batch)."""
    out = []
    for var in d.graph.inputs.values():
        if var.ndim and not as_sympy(var.shape[0]).is_number and var.shape[0] not in out:
            out.append(var.shape[0])
    return out


def _drop_upstream_scalar(e: Expr) -> list[Expr]:
    """``d_out * f'`` -> ``f'``: the incoming gradient left out where it is a plain scalar (a node's
    ``d_out`` in code written one node at a time), the local factor keeping the product's shape."""
    if not (isinstance(e, Apply) and e.op == "mul" and len(e.args) == 2):
        return []
    return [keep for keep, drop in (e.args, e.args[::-1])
            if isinstance(drop, Var) and drop.role == "adjoint" and drop.ndim == 0
            and not _has_adjoint(keep) and not isinstance(keep, Const) and tuple(keep.shape) == tuple(e.shape)]


def _other_side(e: Expr) -> Expr:
    """step(z) -> 1 - step(-z): the same function with the value 1 at the kink."""
    def rewrite(node):
        if isinstance(node, Apply) and node.op == "step":
            return [apply("sub", Const(1), apply("step", apply("neg", node.args[0])))]
        return []
    news = _rebuild(e, rewrite)
    return news[0] if news else e


def _op_expr(d: Derivation, c: Contribution) -> Apply | None:
    """The operation (inside node c.source) that made contribution c."""
    expr = d.graph.node(c.source).expr
    for node in walk(expr):
        if isinstance(node, Apply) and node.op == c.op and len(node.args) > c.index:
            return node
    return None


def _reads_labels(d: Derivation) -> bool:
    """Whether the net has labels or targets: an input of integer or one-hot kind."""
    return any(kind.kind != "real" for kind in d.spec.kinds.values())


def _depends_on_data(d: Derivation, source: str) -> bool:
    """Whether node ``source`` reads an input with entries (data), not only parameters and
    scalar inputs (hyperparameters such as lambda)."""
    defs = {n.name: n.expr for n in d.graph.nodes}
    seen, stack = set(), [source]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in d.graph.inputs and d.graph.inputs[name].shape:
            return True
        if name in defs:
            stack.extend(v.name for v in walk(defs[name]) if isinstance(v, Var))
    return False


def _dropped_paths(d: Derivation, name: str, target: str, parts: list, truth: Expr) -> list[Variant]:
    """A variable used in several places with one of its paths left out: the penalty's path
    (a node reading no data) is ``regularization_dropped``, any other ``term_dropped``."""
    out = []
    for k, c in enumerate(parts):
        rest = [p.expr for j, p in enumerate(parts) if j != k]
        try:
            total = rest[0]
            for other in rest[1:]:
                total = apply("add", total, other)
            expr = semi_expanded(d, name, {target: total})
        except SymgradError:
            continue
        if expr != truth:
            kind = "term_dropped" if _depends_on_data(d, c.source) else "regularization_dropped"
            out.append(Variant(kind, expr, target, c.source))
    return out


def _statistics_constant(d: Derivation, name: str, truth: Expr) -> list[Variant]:
    """Every path through batch statistics left out at once (:func:`.mistakes_batch.statistics_override`)."""
    override = statistics_override(d, _cone(d, name))
    if not override:
        return []
    try:
        expr = semi_expanded(d, name, override)
    except SymgradError:
        return []
    return [Variant("statistics_as_constants", expr, name, name)] if expr != truth else []


def variants(d: Derivation, name: str) -> list[Variant]:
    """Every catalogued mistake for the adjoint of ``name``, as expressions in forward values."""
    cache = d.__dict__.setdefault("_mistake_variants", {})
    if name not in cache:
        cache[name] = _variants(d, name)
    return cache[name]


def _variants(d: Derivation, name: str) -> list[Variant]:
    truth = semi_expanded(d, name)
    out = [Variant("sign_error", apply("neg", truth), name, name)]
    if truth.ndim == 2:
        out.append(Variant("layout_transposed", apply("transpose", truth), name, name))
    for target in _cone(d, name):
        target_shape = tuple(d.graph.variables()[target].shape)
        parts = d.contributions[target]
        for k, c in enumerate(parts):
            for mistake, new in contribution_variants(d, c):
                if (mistake == "chain_factor_dropped" and new.ndim == 0 and target_shape and target != name):
                    new = _broadcast(new, target_shape)   # (pred - y) * w2 with w2 dropped: a scalar spread
                if tuple(new.shape) != target_shape and target != name:
                    continue
                try:
                    total = new
                    for j, other in enumerate(parts):
                        if j != k:
                            total = apply("add", total, other.expr)
                    expr = semi_expanded(d, name, {target: total})
                except SymgradError:
                    continue
                if expr != truth:
                    out.append(Variant(mistake, expr, target, c.source))
        if len(parts) > 1:
            out += _dropped_paths(d, name, target, parts, truth)
    for penalty in penalty_nodes(d):   # code that leaves the penalty node out of the loss's gradient
        try:
            expr = semi_expanded(d, name, {penalty: apply("mul", Const(0), d.adjoint(penalty))})
        except SymgradError:
            continue
        if expr != truth:
            out.append(Variant("regularization_dropped", expr, penalty, penalty))
    out += _statistics_constant(d, name, truth)
    for n in batch_sizes(d):   # the whole gradient divided by the batch size once more
        out.append(Variant("extra_mean_factor", apply("div", truth, Const(n)), name, name))
    seen, unique = set(), []
    for v in out:
        if (v.mistake, v.expr) not in seen:
            seen.add((v.mistake, v.expr))
            unique.append(v)
    return unique
