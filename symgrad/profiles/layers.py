"""Layer classes for the class-per-layer courses (cmu_hw1p1, uva_dl1).

A layer is a small spec: what its forward pass computes from its input and
parameters, and a loss ``sum(out * upstream)`` so the adjoint of every
parameter and of the input is exactly the vector-Jacobian product its
backward() returns or stores for the upstream gradient. :func:`layer_code`
prints both passes as lines of numpy with the course's names (``self.W``,
``self.params["weight"]``), for a template to place in a method body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..derive import Derivation
from ..emit.printers import NumpyPrinter
from ..ir import Apply
from ..rewrite import substitute
from ..rules.core import ATOM, Printed
from .common import backward_exprs, backward_steps, forward_steps, names_used, read_lines


def tanh(x):
    # tanh without np.tanh: sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}), no overflow for any x
    e = np.exp(-2 * np.abs(x))
    return np.sign(x) * (1 - e) / (1 + e)


class LayerPrinter(NumpyPrinter):
    """Prints with the layer's names and records helpers on the module's printer.

    Args:
        names: spec name -> the code that reads it in the method.
        module_printer: the printer whose helpers the module defines.
        own_tanh: print tanh through :func:`tanh` (a course whose grader
            replaces np.tanh).
    """

    def __init__(self, names, module_printer: NumpyPrinter, own_tanh: bool = False):
        super().__init__(names)
        self.helpers = module_printer.helpers
        self.own_tanh = own_tanh

    def print(self, e):
        if self.own_tanh and isinstance(e, Apply) and e.op == "tanh":
            self.helpers["tanh"] = tanh
            return Printed(f"tanh({self.print(e.args[0]).text})", ATOM)
        return super().print(e)


@dataclass(frozen=True)
class LayerCode:
    """A layer's two method bodies, as lines of numpy."""

    forward: tuple      # sizes, then one ``<where> = <code>`` line per named node
    backward: tuple     # sizes, then one ``d_<name> = <code>`` line per adjoint
    out: str            # where the output lives (what forward returns)


def _sizes(d: Derivation, used: set, where: dict) -> list[str]:
    lines = []
    for line in read_lines(d, used, lambda n: None):
        size, _, rest = line.partition(" = np.shape(")
        array, _, axis = rest.partition(")")
        lines.append(f"{size} = np.shape({where.get(array, array)}){axis}")
    return lines


def layer_code(d: Derivation, where: dict, module_printer: NumpyPrinter, *, loss: bool = False,
               own_tanh: bool = False, dtype_of: str = "") -> LayerCode:
    """Both passes of layer derivation ``d``.

    Args:
        where: spec name -> code reading it (inputs, parameters, and the named
            nodes the forward pass stores); unnamed ones are locals.
        loss: the forward pass computes the loss entry too (a loss layer).
        dtype_of: an array whose dtype ``np.ones`` and the like take, when printed.
    """
    forward_printer = LayerPrinter(where, module_printer, own_tanh)
    steps = forward_steps(d, forward_printer, loss=loss, inline=True)
    temps = d.temporary_values()
    used = names_used([substitute(n.expr, temps) for n in d.graph.nodes if loss or n.entry != "loss"])
    forward = _sizes(d, used, where)
    if forward_printer.uses_dtype:
        forward.append(f"dtype = np.result_type({dtype_of})")
    forward += [f"{where.get(s.target, s.target)} = {s.code}" for s in steps]
    backward_printer = LayerPrinter(where, module_printer, own_tanh)
    bsteps = backward_steps(d, backward_printer, inline_temps=True)
    backward = _sizes(d, names_used(backward_exprs(d, inline_temps=True)), where)
    if backward_printer.uses_dtype:
        backward.append(f"dtype = np.result_type({dtype_of})")
    backward += [f"{s.target} = {s.code}" for s in bsteps]
    last = steps[-1].target if steps else ""
    return LayerCode(tuple(forward), tuple(backward), where.get(last, last))
