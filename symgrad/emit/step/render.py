"""Rendering: the scheduled, buffered operation list as statement lines for the template.

Each operation is printed with its ``out=`` form, the ``numpy_out`` of its
rule (:func:`~.ops.out_form`); an operation without one is printed with its
rule's ordinary numpy form and allocates (correct, only slower). A result
with no array (shape ()) is printed with the rule's numpy form too, except
whole-array sums, which skip numpy's Python-level wrappers. Constants are
Python numbers, so a float32 step stays float32 throughout (numpy's
weak-scalar rule).
"""

from __future__ import annotations

import textwrap

from ...ir import Const, Var
from ...rules.core import MASK, ONES, ZEROS
from ..printers import NumpyPrinter
from .ops import Op, full_reduction, out_form, size_of


def render_ops(ops: list[Op], printer: NumpyPrinter) -> list:
    """Statement lines (comment, [code lines]) for the template."""
    out = []
    for op in ops:
        form = out_form(op.node.op)
        args = [printer.doprint(a) for a in op.node.args]
        if op.buffer is None or form is None:
            text = _whole_array_sum(op.node, args, printer) or printer.doprint(op.node)
            out.append((op.comment, [f"{op.target} = {text}"]))
            continue
        lines = form.code(args, op.node, op.buffer, op.scratch, printer)
        if len(lines) == 1 and form.returns:
            lines[0] = f"{op.target} = {lines[0]}"
        else:
            lines.append(f"{op.target} = {op.buffer}")
        out.append((op.comment, lines))
    return out


def _whole_array_sum(node, args: list, printer) -> str | None:
    """sum/mean over every entry of an array by the ufunc's reduce (no Python-level wrapper)."""
    if not (full_reduction(node) and node.args[0].shape):
        return None
    text = f"np.add.reduce({args[0]}, axis=None)"
    if node.op == "mean":
        size = size_of(node.args[0].shape)
        text += f" / {str(size) if getattr(size, 'is_Symbol', False) else printer.scalar(size, 71)}"
    return text


def grad_code(grads: dict, keep: set, printer: NumpyPrinter) -> dict:
    """Parameter -> the code of its returned gradient. A gradient that is a view or a constant
    gets its own array, shaped like the parameter (a copy on every call)."""
    out = {}
    for p, v in grads.items():
        text = printer.doprint(v)
        if not isinstance(v, Var) or v.name not in keep:
            text = f"np.array({text}, dtype=dtype)" if isinstance(v, Const) else f"np.ascontiguousarray({text})"
        out[p] = text
    return out


def allocation_code(buffers: list[tuple], printer: NumpyPrinter) -> list[str]:
    """The numpy call that makes each workspace array, from its (shape, kind)."""
    fill = {ZEROS: "zeros", ONES: "ones"}
    return [f"np.{fill.get(kind, 'empty')}({printer.shape(shape)}, "
            f"{'bool' if kind == MASK else 'dtype'})" for shape, kind in buffers]


#: The step's docstring when the buffers pass gave every array an array of the workspace.
REUSES_EVERYTHING = [
    "One numpy call per operation, each writing into a reused array (out=), so a",
    "step allocates nothing once the workspace exists. The returned gradients",
    "are arrays of the workspace: the next call overwrites them.",
]


def docstring(allocating: list[str], new_grads: list[str], array_grads: int) -> list[str]:
    """The lines of the step's docstring that say what a call allocates, from what the buffers
    pass decided: ``allocating``, the operations given no workspace array; ``new_grads``, the
    parameters whose returned gradient is an array but not one of the workspace, out of
    ``array_grads`` array-valued gradients (a scalar's gradient is a number)."""
    if not allocating and not new_grads:
        return REUSES_EVERYTHING
    text = "One numpy call per operation, each writing into a reused array (out=)"
    if allocating:
        text += (f" except {', '.join(allocating)}: without an out= form, numpy allocates "
                 f"{'its result' if len(allocating) == 1 else 'their results'} on every call.")
    else:
        text += "."
    if not new_grads:
        text += " The returned gradients are arrays of the workspace: the next call overwrites them."
    elif len(new_grads) == array_grads:
        text += " The returned gradients are new arrays on every call."
    else:
        text += (f" The returned gradients of {', '.join(new_grads)} are new arrays on every call; "
                 "the others are arrays of the workspace: the next call overwrites them.")
    return textwrap.wrap(text, 80)
