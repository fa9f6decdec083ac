"""Pieces every profile uses: a derivation's forward and backward pass as lines
of numpy code over names the profile chooses.

A profile decides where values live in the course's code (``self.W.out``,
``params["W1"]``, a local variable); these functions print the derivation's
statements with those names and hand back plain strings for the template.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass


from .. import names as naming
from ..derive import Derivation
from ..emit.numpy_module import plan_backward
from ..emit.printers import NumpyPrinter
from ..ir import Apply, Const, Expr, Var, as_sympy, walk
from ..rewrite import substitute
from ..spec import LOSS


@dataclass(frozen=True)
class Step:
    """``target = code``, with the formula it implements as a comment."""

    target: str
    code: str
    comment: str = ""


def forward_steps(d: Derivation, printer: NumpyPrinter, *, loss=False, inline=False) -> list[Step]:
    """One statement per graph node (per named node with ``inline``: temporaries
    folded in); the loss entry's nodes only when ``loss``."""
    temps = d.temporary_values() if inline else {}
    out = []
    for node in d.graph.nodes:
        if (node.entry == LOSS and not loss) or (inline and node.temp):
            continue
        comment = "" if node.temp or inline else f"{node.name} = {d.graph.entry_text[node.entry]}"
        out.append(Step(node.name, printer.doprint(substitute(node.expr, temps)), comment))
    return out


def backward_steps(d: Derivation, printer: NumpyPrinter, *, inline_temps=False) -> list[Step]:
    """The backward statements of the numpy module: one per parameter and per
    adjoint worth a name, the named formula as a comment. With
    ``inline_temps`` forward temporaries are recomputed instead of read, and
    the comments (which would name them) are left out."""
    temps = d.temporary_values() if inline_temps else {}
    comment_printer = NumpyPrinter({naming.adjoint(n): f"dL/d{n}" for n in d.graph.variables()})
    plan, _ = plan_backward(d)
    out = []
    for target, named, expr in plan:
        comment = "" if inline_temps else f"dL/d{target} = {comment_printer.doprint(named)}"
        out.append(Step(naming.adjoint(target), printer.doprint(substitute(expr, temps)), comment))
    return out


def backward_exprs(d: Derivation, *, inline_temps=False) -> list[Expr]:
    temps = d.temporary_values() if inline_temps else {}
    return [substitute(expr, temps) for _, _, expr in plan_backward(d)[0]]


def names_used(exprs) -> set[str]:
    """Every variable and size name the expressions mention."""
    out: set[str] = set()
    for e in exprs:
        for node in walk(e):
            if isinstance(node, Var):
                out.add(node.name)
            elif isinstance(node, Const):
                out |= {str(s) for s in as_sympy(node.value).free_symbols}
            if isinstance(node, Apply):
                for _, value in node.attrs:
                    for item in value if isinstance(value, tuple) else (value,):
                        if hasattr(item, "free_symbols"):
                            out |= {str(s) for s in item.free_symbols}
    return out


def helper_sources(printer: NumpyPrinter) -> list[str]:
    """The source of every runtime helper the printed code calls, by name."""
    return [inspect.getsource(fn).rstrip() for _, fn in sorted(printer.helpers.items())]


def read_lines(d: Derivation, used: set[str], source) -> list[str]:
    """``name = <where it lives>`` for every input, parameter and node the code
    uses, then the symbolic sizes it uses, read from an array's shape.

    Args:
        source: name -> the expression that reads it (``params["W1"]``), or None
            to skip a name the function already has.
    """
    graph = d.graph
    lines = []
    arrays = list(graph.inputs) + list(graph.params) + [n.name for n in graph.nodes]
    sizes = {s: where for s, where in graph.sizes.items() if s in used}
    wanted = used | {array for array, _ in sizes.values()}
    for name in arrays:
        code = source(name) if name in wanted else None
        if code is not None:
            lines.append(f"{name} = {code}")
    for size, (array, axis) in sorted(sizes.items()):
        lines.append(f"{size} = np.shape({array})[{axis}]")
    return lines
