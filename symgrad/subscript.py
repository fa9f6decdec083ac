"""What a subscript means, in the spec and the answer languages (DESIGN.md, "Indexing and shapes").

Three numpy spellings, each lowered to a rule of the table:

``Z[range(n), y]``
    ``pick(Z, y)``: Z 2-D, ``n`` its number of rows, ``y`` a label (or index) input;
``C[ix]``
    ``rows(C, ix)``: ``ix`` an input of kind index (or label);
``x[:, 1:]``, ``x[:4]``, ``x[1:3, :]``
    one ``slice`` per axis whose range is not the whole axis: integer constant
    bounds (negative ones count from the end), step 1, axes left out taken whole.

Anything else (a real array or a number as an index, a bound that is not an
integer constant, a bound outside the axis, more subscripts than axes) is
refused with one line naming the subscript and its column.
"""

from __future__ import annotations

import sympy as sp

from .errors import SpecError
from .ir import Expr, show_shape
from .parse import Call, Name, Num, Slice, Subscript, UnaryOp
from .rules import RULES, apply


def lower_subscript(low, node: Subscript) -> Expr:
    """The IR of ``node`` (``low`` the :class:`~symgrad.graph.Lowering` at work)."""
    items = node.items
    if all(isinstance(i, Slice) for i in items):
        return _slices(low, low.lower(node.operand), items, node)
    if len(items) == 2 and _is_range(items[0]):
        return _pick(low, node)
    if len(items) == 1:
        return _integer_call(low, "rows", low.lower(node.operand), items[0], node)
    raise SpecError(f"subscript at column {node.pos}: only Z[range(n), y] (pick), C[ix] (rows) and slices "
                    "with ':' are supported")


def _is_range(item) -> bool:
    return isinstance(item, Call) and item.func == "range"


def _integer_input(low, item, node: Subscript, what: str) -> Expr:
    """The label or index input an integer subscript names."""
    kind = low.spec.kinds.get(item.id) if isinstance(item, Name) else None
    if kind is not None and kind.integer:
        return low.env[item.id]
    if isinstance(item, Name):
        found = f"{item.id!r}, which holds real numbers"
    elif isinstance(item, (Num, UnaryOp)):
        found = "a number (take one entry with a slice, x[k:k+1])"
    else:
        found = "an expression"
    raise SpecError(f"subscript at column {node.pos}: {what} must be an input of kind \"index\" or \"label\", "
                    f"got {found}")


def _integer_call(low, op: str, array: Expr, item, node: Subscript) -> Expr:
    rule = RULES[op]
    index = _integer_input(low, item, node, "the index" if op == "rows" else "the labels")
    arrays, attrs = [array, index], {}
    low.bound(rule, arrays, attrs)
    return apply(op, *arrays, **attrs)


def _pick(low, node: Subscript) -> Expr:
    scores = low.lower(node.operand)
    rng = node.items[0]
    if len(rng.args) != 1 or rng.kwargs:
        raise SpecError(f"subscript at column {node.pos}: write range(n) with one size, n the rows of the scores")
    if scores.ndim != 2:
        raise SpecError(f"Z[range(n), y] at column {node.pos} needs a 2-D Z, got shape {show_shape(scores.shape)}")
    rows = low.size(rng.args[0])
    if sp.expand(rows - scores.shape[0]) != 0:
        raise SpecError(f"Z[range({rows}), y] at column {node.pos}: Z has {scores.shape[0]} rows "
                        f"(shape {show_shape(scores.shape)}), so write range({scores.shape[0]})")
    return _integer_call(low, "pick", scores, node.items[1], node)


def _bound(low, value, node: Subscript):
    """An integer constant slice bound, or None when left out."""
    if value is None:
        return None
    if not isinstance(value, (Num, UnaryOp)):
        raise SpecError(f"slice at column {node.pos}: bounds must be integer constants such as 1 or -1")
    number = low.number(value, "a slice bound")
    if number.denominator != 1:
        raise SpecError(f"slice at column {node.pos}: bound {number} is not an integer")
    return int(number)


def _slices(low, array: Expr, items: tuple, node: Subscript) -> Expr:
    if len(items) > array.ndim:
        raise SpecError(f"slice at column {node.pos}: {len(items)} subscripts for an array of shape "
                        f"{show_shape(array.shape)} ({array.ndim} axes)")
    out = array
    for axis, item in enumerate(items):
        size = array.shape[axis]
        lo, hi = _bound(low, item.lo, node), _bound(low, item.hi, node)
        start = sp.Integer(0) if lo is None else size + lo if lo < 0 else sp.Integer(lo)
        stop = size if hi is None else size + hi if hi < 0 else sp.Integer(hi)
        # within the axis where the size is a number; for a symbolic size, non-negative
        checks = [start, stop, size - start, size - stop, stop - start - 1]
        if any(c.is_number and c < 0 for c in (sp.expand(c) for c in checks)):
            raise SpecError(f"slice at column {node.pos}: {_shown(item.lo)}:{_shown(item.hi)} on axis {axis} "
                            f"of size {size} is out of range or empty")
        if sp.expand(start) == 0 and sp.expand(stop - size) == 0:
            continue
        if isinstance(size, sp.Symbol):   # the samplers draw it large enough for a non-empty slice and rest
            need = abs(lo or 0) + abs(hi or 0) + 1
            low.least[size.name] = max(low.least.get(size.name, 0), need)
        out = apply("slice", out, axis=axis, start=sp.expand(start), stop=sp.expand(stop))
    return out


def _shown(bound) -> str:
    if bound is None:
        return ""
    if isinstance(bound, UnaryOp):
        return bound.op + _shown(bound.operand)
    return bound.text if isinstance(bound, Num) else "?"
