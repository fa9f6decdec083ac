"""A derivation's passes as plain numpy functions over the arguments a course names.

The cs231n and cs224n_word2vec profiles wrap small derived functions in the
course's own signatures (``affine_backward(dout, cache)``). These builders
print one derivation as two such functions: its forward values (every node,
the loss left out unless asked) from named arguments, and its adjoints from
those cached values. The statements are the derivation's, printed by
:mod:`.common`; nothing here writes a formula.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import names as naming
from ..derive import Derivation
from ..emit.printers import NumpyPrinter
from ..ir import Apply
from ..spec import LOSS
from .common import Step, backward_exprs, backward_steps, names_used, read_lines


@dataclass(frozen=True)
class Function:
    """What templates/api/_function.py.j2 places: ``def name(*args)``, reads, steps, returns."""

    name: str
    args: tuple
    doc: str
    reads: tuple
    steps: tuple
    returns: tuple      # (key, local name) pairs of the returned dict, or local names of a tuple


def forward_function(d: Derivation, printer: NumpyPrinter, name: str, args, doc: str, *,
                     loss=False, skip=(), returns=None) -> Function:
    """``name(*args)``: the value of every node (entries named in ``skip`` are
    arguments instead), returned as a dict, or as ``returns`` (local names)."""
    steps, exprs, done = [], [], set(args)
    for node in d.graph.nodes:
        if (node.entry == LOSS and not loss) or node.entry in skip or node.name in done:
            continue
        comment = "" if node.temp else f"{node.name} = {d.graph.entry_text[node.entry]}"
        steps.append(Step(node.name, printer.doprint(node.expr), comment))
        exprs.append(node.expr)
        done.add(node.name)
    reads = read_lines(d, names_used(exprs), lambda n: None)
    missing = names_used(exprs) & (set(d.graph.inputs) | set(d.graph.params)) - set(args)
    if missing:
        raise ValueError(f"{name}: {', '.join(sorted(missing))} must be arguments")
    out = returns if returns is not None else tuple((n, n) for n in list(args) + [s.target for s in steps])
    return Function(name, tuple(args), doc, tuple(reads), tuple(steps), tuple(out))


def backward_function(d: Derivation, printer: NumpyPrinter, name: str, upstream: str | None, grads, doc: str,
                      *, reshaped=()) -> Function:
    """``name(cache[, upstream])``: the adjoints ``grads`` (graph names), in that
    order, as a tuple; everything else read from ``cache``. An adjoint of an
    input in ``reshaped`` that ends in a reshape back to the input's shape is
    reshaped to ``np.shape(input)`` instead, so any trailing sizes work."""
    steps = backward_steps(d, printer)
    exprs = backward_exprs(d)
    fixed, kept = [], []
    for step, expr in zip(steps, exprs):
        leaf = next((x for x in reshaped if naming.adjoint(x) == step.target), None)
        if leaf is not None and isinstance(expr, Apply) and expr.op == "reshape":
            comment = step.comment
            if ", (" in comment:    # the spec's fixed trailing sizes, as x's shape
                comment = comment[:comment.rindex(", (")] + f", np.shape({leaf}))"
            step = Step(step.target, f"np.reshape({printer.doprint(expr.args[0])}, np.shape({leaf}))", comment)
            expr = expr.args[0]
        kept.append(expr)
        fixed.append(step)
    used = names_used(kept) | set(reshaped)
    reads = read_lines(d, used, lambda n: None if n == upstream else f'cache["{n}"]')
    if any("dtype" in step.code for step in fixed):      # the generated module's precision rule
        reads.append("dtype = np.result_type(" + ", ".join(f'cache["{p}"]' for p in d.graph.params) + ")")
    args = ("cache",) + ((upstream,) if upstream else ())
    return Function(name, args, doc, tuple(reads), tuple(fixed), tuple(naming.adjoint(g) for g in grads))
