"""max and min along axes, with the derivative stated as a convention: the indicator
of the first extremum (numpy's argmax), as ReLU'(0) = 0 is one.

A proof expands every entry into sympy symbols, which cannot be ordered. There a
row's max is an opaque function of the row's entries (:class:`SymbolicExtremum`)
whose partial derivative in entry k is an opaque indicator "k is the first
extremum" (:class:`FirstExtremum`), the same function the vector-Jacobian
product's ``first_extremum`` evaluates to; so the proof's steps check the chain
rule through max with the convention as the definition, as for ReLU'(0). That the
convention is max's derivative away from ties is the lemma :func:`prove_lemma`.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import SymgradError
from .core import AXIS, FLAG, NONE, RULES, Arg, Printed, Rule, apply, arrays
from .reduce import _kw_text, expand_back, normalize_axis, reduction


def _runtime_first():
    from .. import runtime
    return runtime.first_extremum


class SymbolicExtremum(sp.Function):
    """max (min when the first argument is 1) of the other arguments, left unevaluated;
    its partial in entry k is :class:`FirstExtremum` (the rule's convention)."""

    is_real = True

    @classmethod
    def eval(cls, lowest, *entries):
        return entries[0] if len(entries) == 1 else None

    def fdiff(self, argindex=1):
        if argindex == 1:
            return sp.Integer(0)
        return FirstExtremum(sp.Integer(argindex - 2), *self.args)


class FirstExtremum(sp.Function):
    """1 when entry k (the first argument) is the first max (min when the second is 1)
    of the others, 0 otherwise: unevaluated, locally constant away from ties."""

    is_real = True

    @classmethod
    def eval(cls, k, lowest, *entries):
        return sp.Integer(1) if len(entries) == 1 else None

    def fdiff(self, argindex=1):
        return sp.Integer(0)


def _rows(a, axis: int | None) -> np.ndarray:
    """The entries as rows along ``axis`` (one row of every entry for None)."""
    a = np.asarray(a, dtype=object)
    return a.reshape(1, -1) if axis is None else np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])


def _one_axis(axis, ndim: int, op: str) -> int | None:
    axes = normalize_axis(axis, ndim, op)
    if axes is not None and len(axes) > 1:
        raise SymgradError(f"{op} over several axes at once has no derivative here; reduce one axis at a time")
    return None if axes is None else axes[0]


def _symbolic_extremum(a, axis, keepdims: bool, lowest: bool):
    a = np.asarray(a, dtype=object)
    one = _one_axis(axis, a.ndim, "min" if lowest else "max")
    rows = _rows(a, one)
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = SymbolicExtremum(sp.Integer(int(lowest)), *row)
    if one is None:
        return out.reshape((1,) * a.ndim if keepdims else ())
    out = out.reshape(np.moveaxis(a, one, -1).shape[:-1])
    return np.expand_dims(out, one) if keepdims else out


def _symbolic_first(a, axis, lowest: bool):
    a = np.asarray(a, dtype=object)
    one = _one_axis(axis, a.ndim, "min" if lowest else "max")
    rows = _rows(a, one)
    out = np.empty(rows.shape, dtype=object)
    for i, row in enumerate(rows):
        for k in range(len(row)):
            out[i, k] = FirstExtremum(sp.Integer(k), sp.Integer(int(lowest)), *row)
    if one is None:
        return out.reshape(a.shape)
    return np.moveaxis(out.reshape(np.moveaxis(a, one, -1).shape), -1, one)


def prove_lemma(op: str, n: int = 3) -> bool:
    """max's (min's) derivative is the first-extremum indicator wherever the extremum is strict.

    For each k, on the open region where entry k exceeds (is below) every other entry
    (entries x_j = x_k -+ p_j with p_j > 0 free), sympy's Max (Min) of n symbols is x_k, so
    its partial in x_j is [j = k] there; the runtime's ``first_extremum`` is 1 at k and 0
    elsewhere at a point of that region. Ties have measure zero; there the first one is
    taken, a convention like ReLU'(0) = 0.
    """
    lowest = op == "min"
    xs = sp.symbols(f"x0:{n}", real=True)
    gaps = sp.symbols(f"p0:{n}", positive=True)
    for k in range(n):
        region = {xs[j]: xs[k] + (gaps[j] if lowest else -gaps[j]) for j in range(n) if j != k}
        if (sp.Min if lowest else sp.Max)(*xs).subs(region) != xs[k]:
            return False
        point = np.array([0.0 if j == k else (1.0 + j if lowest else -1.0 - j) for j in range(n)])
        indicator = _runtime_first()(point, None, lowest)
        if list(indicator) != [1.0 if j == k else 0.0 for j in range(n)]:
            return False
    return True


def _first_shape(shapes, axis=None, lowest=False):
    normalize_axis(axis, len(shapes[0]), "max")
    return tuple(shapes[0])


def _first_numpy(args, node, ctx):
    ctx.helper(_runtime_first())
    return Printed(f"first_extremum({args[0].text}, {node.kw.get('axis')}, {node.kw.get('lowest', False)})")


def _first_evaluate(args, node, ctx):
    if ctx.symbolic:
        return _symbolic_first(args[0], node.kw.get("axis"), bool(node.kw.get("lowest", False)))
    return _runtime_first()(np.asarray(args[0]), node.kw.get("axis"), node.kw.get("lowest", False))


RULES.add(Rule(
    "first_extremum", "reduce", 1, _first_shape, (None,), numpy=_first_numpy,
    latex=lambda args, node, ctx: Printed(
        "\\mathrm{1\\!\\!1}_{\\operatorname{" + ("argmin" if node.kw.get("lowest") else "argmax") + "}}"
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
        if ctx.symbolic:
            return _symbolic_extremum(args[0], node.kw.get("axis"), bool(node.kw.get("keepdims")), lowest)
        return getattr(np, op)(args[0], axis=node.kw.get("axis"), keepdims=bool(node.kw.get("keepdims")))

    reduction(op, vjp=vjp, numpy=lambda args, node, ctx: Printed(f"np.{op}({args[0].text}{_kw_text(node, ctx)})"),
              latex=lambda args, node, ctx: Printed(f"\\{op}\\left({args[0].text}\\right)"), evaluate=evaluate,
              doc=f"{op}(a, axis=None, keepdims=False); derivative: 1 at the first {op}imum, 0 elsewhere",
              latex_words=(f"\\{op}",), extra={"lemma": prove_lemma})


_extremum("max", False)
_extremum("min", True)
