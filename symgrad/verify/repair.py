"""Diagnosis by repair: small edits of the answer itself (its parse tree) that
make it fit and equal the truth. Used when the answer's shapes do not fit, or
when it is wrong in a way the catalogue's variants of the true derivation do
not explain.

The edits, each a catalogued mistake undone: add or remove a transpose on any
factor (``missing_transpose``; on the whole answer ``layout_transposed``),
``@`` <-> element-wise ``*`` (``hadamard_vs_matmul``), swapped operands of
``@`` or ``outer`` (``wrong_order``). One edit, then two at once; the search
is bounded by a count and a time and says when it gave up.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

from ..errors import SymgradError
from ..parse import BinOp, Call, Num, Transpose, UnaryOp
from ..points import close

MAX_CANDIDATES = 600
MAX_SECONDS = 2.0
POINTS = 6


def _children(node):
    if isinstance(node, BinOp):
        return [("left", node.left), ("right", node.right)]
    if isinstance(node, (UnaryOp, Transpose)):
        return [("operand", node.operand)]
    if isinstance(node, Call):
        return [(("args", i), a) for i, a in enumerate(node.args)]
    return []


def _replace(node, key, new):
    if isinstance(key, tuple):
        args = list(node.args)
        args[key[1]] = new
        return dataclasses.replace(node, args=tuple(args))
    return dataclasses.replace(node, **{key: new})


def _edits(node, top=True):
    """(mistake, edited tree) for every single edit of ``node``'s tree."""
    pos = getattr(node, "pos", 0)
    if isinstance(node, Transpose):
        yield ("layout_transposed" if top else "missing_transpose"), node.operand
    elif not isinstance(node, Num):
        yield ("layout_transposed" if top else "missing_transpose"), Transpose(node, pos)
    if isinstance(node, BinOp) and node.op in ("@", "*"):
        yield "hadamard_vs_matmul", dataclasses.replace(node, op="*" if node.op == "@" else "@")
        if node.op == "@":
            yield "wrong_order", dataclasses.replace(node, left=node.right, right=node.left)
    if isinstance(node, Call) and node.func == "outer" and len(node.args) == 2:
        yield "missing_transpose", dataclasses.replace(node, args=node.args[::-1])
    for key, child in _children(node):
        for mistake, new in _edits(child, top=False):
            yield mistake, _replace(node, key, new)


def repairs(d, name, tree, points, ctx, truth_values, lower, value_of):
    """(found, gave_up): found is a list of (mistakes, repaired IR) that fit the
    shape of ``name`` and equal the truth at ``points``; at most one entry per
    set of mistakes, single edits first."""
    start = time.monotonic()
    want_shape = tuple(d.graph.variables()[name].shape)
    found, seen, count = [], set(), 0
    singles = list(_edits(tree))

    def check(mistakes, candidate):
        nonlocal count
        count += 1
        try:
            expr = lower(candidate)
        except (SymgradError, RecursionError):
            return
        if tuple(expr.shape) != want_shape:
            return
        if all(close(value_of(expr, p, ctx), w) for p, w in zip(points, truth_values)):
            key = tuple(sorted(set(mistakes)))
            if key not in seen:
                seen.add(key)
                found.append((list(key), expr))

    for mistake, candidate in singles:
        if count >= MAX_CANDIDATES or time.monotonic() - start > MAX_SECONDS:
            return found, True
        check([mistake], candidate)
    if found:
        return found, False
    for (m1, c1) in singles:
        for m2, c2 in itertools.islice(_edits(c1), MAX_CANDIDATES):
            if count >= MAX_CANDIDATES or time.monotonic() - start > MAX_SECONDS:
                return found, True
            check([m1, m2], c2)
        if found:
            break
    return found, False

