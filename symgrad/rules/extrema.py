"""max and min along axes, with the derivative stated as a convention: the indicator
of the first extremum (numpy's argmax), as ReLU'(0) = 0 is one.

A proof expands every entry into sympy symbols, which cannot be ordered, so a
spec that uses max or min is checked by finite differences only; the proof says
so in one line instead of failing.
"""

from __future__ import annotations

import numpy as np

from ..errors import SymgradError
from .core import AXIS, FLAG, NONE, RULES, Arg, Printed, Rule, apply, arrays
from .reduce import _kw_text, expand_back, normalize_axis, reduction


def _runtime_first():
    from .. import runtime
    return runtime.first_extremum


def _numeric(op: str, ctx):
    if ctx.symbolic:
        raise SymgradError(f"{op}: the entry-by-entry proof cannot order symbolic entries; check this spec by "
                           "finite differences (symgrad check --no-proof)")


def _first_shape(shapes, axis=None, lowest=False):
    normalize_axis(axis, len(shapes[0]), "max")
    return tuple(shapes[0])


def _first_numpy(args, node, ctx):
    ctx.helper(_runtime_first())
    return Printed(f"first_extremum({args[0].text}, {node.kw.get('axis')}, {node.kw.get('lowest', False)})")


def _first_evaluate(args, node, ctx):
    _numeric("max/min", ctx)
    return _runtime_first()(np.asarray(args[0]), node.kw.get("axis"), node.kw.get("lowest", False))


RULES.add(Rule(
    "first_extremum", "reduce", 1, _first_shape, (None,), numpy=_first_numpy,
    latex=lambda args, node, ctx: Printed(
        "\\mathbb{1}_{\\operatorname{" + ("argmin" if node.kw.get("lowest") else "argmax") + "}}"
        f"\\left({args[0].text}\\right)"),
    evaluate=_first_evaluate, language=NONE,
    doc="1 at the first maximum (minimum) along an axis, 0 elsewhere (the derivative of max and min)",
    signature=arrays(1) + (Arg("axis", AXIS, None, keyword=True), Arg("lowest", FLAG, False, keyword=True)),
    samples=((((2, 3),), {"axis": 1}), (((2, 3),), {"lowest": True}))))


def _extremum(op: str, lowest: bool):
    def vjp(g, r, a, axis=None, keepdims=False):
        axes = normalize_axis(axis, a.ndim, op)
        if axes is not None and len(axes) > 1:
            raise SymgradError(f"{op} over several axes at once has no derivative here; reduce one axis at a time")
        one = None if axes is None else axes[0]
        return apply("mul", expand_back(g, a, axis, keepdims), apply("first_extremum", a, axis=one, lowest=lowest))

    def evaluate(args, node, ctx):
        _numeric(op, ctx)
        return getattr(np, op)(args[0], axis=node.kw.get("axis"), keepdims=bool(node.kw.get("keepdims")))

    reduction(op, vjp=vjp, numpy=lambda args, node, ctx: Printed(f"np.{op}({args[0].text}{_kw_text(node, ctx)})"),
              latex=lambda args, node, ctx: Printed(f"\\{op}\\left({args[0].text}\\right)"), evaluate=evaluate,
              doc=f"{op}(a, axis=None, keepdims=False); derivative: 1 at the first {op}imum, 0 elsewhere",
              latex_words=(f"\\{op}",))


_extremum("max", False)
_extremum("min", True)
