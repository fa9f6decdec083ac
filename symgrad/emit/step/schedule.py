"""Scheduling: orders of the operation list that keep arrays in cache and alive for less time.

Only the order changes: every operation still comes after the values it reads.
:func:`early` runs sums along an axis and ReLU masks right after the array they
read is made; :func:`sink_reductions` gives the alternative schedule the
buffers pass compares (:func:`~.buffers.fewest_buffers`).
"""

from __future__ import annotations

from dataclasses import replace

from ...ir import Var
from .ops import out_form, readers, vars_of


def sink_reductions(ops: list) -> list:
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
    read_at = readers(ops)
    candidates = [op for op in ops if op.node.shape and read_at.get(op.target)
                  and not any(ops[j].node.shape for j in read_at[op.target])]
    for op in candidates:
        read_at = readers(ops)
        k = ops.index(op)
        later = [j for v in vars_of(op.node) for j in read_at.get(v, []) if j > k and j not in read_at[op.target]]
        if not later:
            continue
        to = max(later)
        # op, and the scalar arithmetic before `to` that reads it (directly or not), move to just before `to`
        moved, names = [op], {op.target}
        for j in range(k + 1, to):
            if not ops[j].node.shape and vars_of(ops[j].node) & names:
                moved.append(ops[j])
                names.add(ops[j].target)
        # anything else reading what moves must run after its new place
        staying = {id(o) for o in ops} - {id(m) for m in moved}
        if any(vars_of(o.node) & names for o in ops[k:to] if id(o) in staying):
            continue
        rest = [o for o in ops if id(o) in staying]
        at = next(j for j, o in enumerate(rest) if o is ops[to])
        ops = rest[:at] + moved + rest[at:]
    return ops


def early(ops: list) -> list:
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
