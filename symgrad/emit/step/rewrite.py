"""Algebraic passes over the operation list: whole-array sums as dot products, then pruning.

:func:`rewrite` runs them in order: :func:`fuse_dots`, :func:`distribute_sums`,
:func:`prune`. Each takes and returns an operation list; values never change
beyond rounding, only how many arrays are written to compute them.
"""

from __future__ import annotations

from ...ir import Apply, Expr, Var, is_const
from .ops import Op, full_reduction, readers, size_of, vars_of


def rewrite(ops: list[Op], results: list[Expr], fresh) -> list[Op]:
    """ops with whole-array sums distributed into dot products and the dead operations dropped.

    results: the values that must stay computed (the loss and the gradients);
    fresh: () -> a new temporary's name.
    """
    return prune(distribute_sums(fuse_dots(ops), fresh), results)


def fuse_dots(ops: list) -> list:
    """sum/mean(a * b) over all entries, a and b of one shape, -> one np.vdot (no product array)."""
    uses = {name: len(at) for name, at in readers(ops).items()}
    by_target = {op.target: op for op in ops}
    dropped = set()
    for op in ops:
        node = op.node
        if not (full_reduction(node) and isinstance(node.args[0], Var)):
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
        count = size_of(node.args[0].shape) if node.op == "mean" else 1   # the mean's own argument's size
        op.node = Apply("dot", (a, b), (("count", count),), ())
        dropped.add(product.target)
        if inner_sum is not None:
            dropped.add(inner_sum.target)
    return [op for op in ops if op.target not in dropped]


def distribute_sums(ops: list, fresh) -> list:
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
    uses = {name: len(at) for name, at in readers(ops).items()}
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
        elif full_reduction(node) and isinstance(node.args[0], Var) and node.args[0].shape:
            found = terms("total", node.args, 1)
            count = size_of(node.args[0].shape) if node.op == "mean" else 1
        else:
            continue
        found = merge_complements(found, by_target)
        if found == [(1, "dot" if node.op == "dot" else "total", node.args)]:
            continue   # nothing to take apart
        _replace_by_terms(op, found, count, out_ops, fresh)
    return out_ops


def _replace_by_terms(op: Op, found: list, count, out_ops: list, fresh) -> None:
    """op's node becomes the signed sum of the found terms, each a new operation of out_ops."""
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
                if vars_of(existing.node) & between:
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
        needs = vars_of(new.node)
        deps = [k for k, o in enumerate(out_ops) if o.target in needs]
        _hoist_free(out_ops, deps)
        deps = [k for k, o in enumerate(out_ops) if o.target in needs]
        out_ops.insert(max(deps) + 1 if deps else out_ops.index(op), new)


def merge_complements(found: list, by_target: dict) -> list:
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
    if vars_of(last.node) & computed:
        return
    ops.insert(deps[-2] + 1, ops.pop(deps[-1]))


def prune(ops: list, results: list) -> list:
    """Drop operations whose value neither a result nor a kept operation reads (a rewrite
    left them behind)."""
    live = set()
    for v in results:
        live |= vars_of(v)
    kept = []
    for op in reversed(ops):
        if op.target in live:
            kept.append(op)
            live |= vars_of(op.node)
    return kept[::-1]
