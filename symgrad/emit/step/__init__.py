"""The compiled training step of a generated module: forward and backward in reused arrays.

The plain ``forward``/``backward`` functions allocate every value afresh, which
is what a reader wants to see. ``step(params, inputs, workspace)`` computes the
same loss and gradients as ``loss_and_grads`` but as a straight sequence of
single numpy calls, each writing into an array of a ``Workspace`` that is
allocated once per batch size and dtype and then reused (``out=``). Planning
happens here, in Python, and the template only places the result.

Passes, each over one list of :class:`~.ops.Op` (three-address code):

1. :mod:`.lower`: the derivation cut into single operations, each distinct one
   computed once; :mod:`.regions` simplifies element-wise regions of the
   backward pass, :mod:`.decompose` splits log_softmax, softplus and sigmoid
   into parts later operations share (internal rules, :mod:`symgrad.rules.internal`).
2. :mod:`.rewrite`: whole-array sums into dot products; dead operations pruned.
3. :mod:`.schedule`: sums along an axis and ReLU masks right after their
   argument is made; a second schedule with late whole-array reductions.
4. :mod:`.buffers`: a workspace array per value, reused once its last reader
   has run; of the two schedules, the one needing fewer arrays is kept.
5. :mod:`.render`: each operation in its rule's out= form.
"""

from __future__ import annotations

from ... import names as naming
from ...derive import Derivation
from ...ir import Var, walk
from ...spec import LOSS
from ..printers import NumpyPrinter
from .buffers import allocating, assign_buffers, fewest_buffers
from .lower import lower
from .ops import Op, out_form
from .render import allocation_code, docstring, grad_code, render_ops
from .rewrite import rewrite
from .schedule import early, sink_reductions

__all__ = ["Op", "assign_buffers", "lower", "out_form", "render_ops", "step_data"]


def step_data(d: Derivation, plan, comments: dict) -> dict:
    """Everything the template needs for the step section."""
    ops, results, lowering = lower(d, plan, comments)
    ops = rewrite(ops, [results[LOSS]] + [results[p] for p in d.graph.params], lowering.fresh)
    grads = {p: results[p] for p in d.graph.params}
    keep = {v.name for v in grads.values() if isinstance(v, Var)}
    # a gradient returned as an expression of workspace arrays (a transpose, ``_t12.T``) reads them at the end
    live = keep | {n.name for v in grads.values() if not isinstance(v, Var) for n in walk(v) if isinstance(n, Var)}
    ops, buffers = fewest_buffers([early(o) for o in (ops, sink_reductions(ops))], live)
    printer = NumpyPrinter()
    lines = render_ops(ops, printer)
    code = grad_code(grads, keep, printer)
    in_workspace = {op.target for op in ops if op.buffer is not None}
    arrays = {p: v for p, v in grads.items() if v.shape}    # a scalar's gradient is a number, no array
    new_grads = [p for p, v in arrays.items() if not (isinstance(v, Var) and v.name in keep and v.name in in_workspace)]
    return {
        "lines": lines,
        "buffers": [naming.step_buffer(i) for i in range(len(buffers))],
        "allocations": allocation_code(buffers, printer),
        "loss_code": printer.doprint(results[LOSS]),
        "grad_code": code,
        "doc": docstring(allocating(ops), new_grads, len(arrays)),
        "helpers": printer.helpers,
    }
