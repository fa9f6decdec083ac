"""Buffer assignment: which array of the workspace each operation writes into.

A value gets an array of the workspace; when an element-wise operation
consumes a value for the last time, its result is written over that value's
array (in place). Arrays whose last reader has run go back to a pool (most
recently freed first out, while still in cache) and are reused by later values
of the same shape, so the workspace holds about the largest set of values
alive at one time. An operation whose rule has no out= form gets no array:
numpy allocates its result on every call (:func:`allocating` names them).
"""

from __future__ import annotations

from dataclasses import replace

from ... import names as naming
from ...ir import Var
from ...rules.core import FLOAT, MASK
from .ops import Op, out_form, readers, vars_of

#: Operations without an out= form whose numpy form is a view of their argument (no new array).
VIEW_FORMS = {"slice", "alias", "transpose", "expand_dims"}


def assign_buffers(ops: list[Op], keep: set[str]) -> list[tuple]:
    """Give every array-valued op an array of the workspace; returns [(shape, kind)] per buffer.

    keep: names that must survive to the end (the returned gradients).
    """
    last: dict[str, int] = {}
    for i, op in enumerate(ops):
        for name in vars_of(op.node):
            last[name] = i
    for name in keep:
        last[name] = len(ops)
    buffers: list[tuple] = []
    pool: dict[tuple, list[int]] = {}
    held: dict[str, int] = {}        # value name -> buffer index
    read_at = readers(ops)

    def free(b):
        pool.setdefault(buffers[b], []).append(b)

    for i, op in enumerate(ops):
        form = out_form(op.node.op)
        if not op.node.shape:
            # a scalar result (a dot product, a full sum) holds no array: what it read last is free
            for name in sorted(vars_of(op.node)):
                if last.get(name) == i and name in held:
                    free(held.pop(name))
            continue
        if form is None:
            continue
        kind = form.kind
        if kind == MASK and any(ops[j].node.op != "mul" for j in read_at.get(op.target, ())):
            kind = FLOAT    # a 0/1 mask read by anything but a product is written as 0.0/1.0 (erf(step(x)))
        key = (tuple(op.node.shape), kind)
        dying = [n for n in sorted(vars_of(op.node)) if last.get(n) == i and n in held]
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
            free(held.pop(name))
        held[op.target] = chosen
        if last.get(op.target, -1) <= i and op.target not in keep:
            held.pop(op.target)
            pool.setdefault(key, []).append(chosen)
    return buffers


def fewest_buffers(schedules: list, keep: set) -> tuple:
    """(ops, buffers) of the schedule whose workspace holds the fewest arrays (the first on a tie)."""
    best = None
    for ops in schedules:
        ops = [replace(op, scratch=[]) for op in ops]
        buffers = assign_buffers(ops, keep)
        if best is None or len(buffers) < len(best[1]):
            best = ops, buffers
    return best


def allocating(ops: list[Op]) -> list[str]:
    """The operations (sorted names) that make a new array on every call: array-valued, given
    no workspace array (their rule has no out= form), and no view."""
    return sorted({op.node.op for op in ops
                   if op.node.shape and op.buffer is None and op.node.op not in VIEW_FORMS})


def _take(pool, buffers, key) -> int:
    free = pool.setdefault(key, [])
    if free:
        return free.pop()
    buffers.append(key)
    return len(buffers) - 1
