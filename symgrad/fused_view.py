"""Fused views: one adjoint written in one formula, for the ``[fused]`` table of a spec.

``[fused] hprebn = "hpreact"`` asks for dL/dhprebn in one formula from dL/dhpreact
and forward values: the derivation's adjoint of hprebn with every adjoint between
the two substituted in (:func:`inline_adjoints`). The formula is exactly the
derivation's steps composed, so it is as proven as they are. ``"loss"`` as the
start substitutes every adjoint down from the loss.

Where the fused formula is a textbook closed form, :func:`closed_form` finds it:
for the scores of a softmax read by integer labels, ``k (softmax(z) - onehot(y))``,
with the constant ``k`` (``1/B`` for a mean) read off the derivation's values at
random points of two sets of sizes and used only when every entry agrees. That
form is checked numerically, not proven; the write-up and the course code say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import names as naming
from .derive import Derivation
from .errors import SymgradError
from .evaluate import EvalContext, evaluate
from .ir import Const, Expr, Var, walk
from .rewrite import substitute
from .rules import apply
from .spec import LOSS


@dataclass(frozen=True)
class FusedView:
    target: str
    start: str           # a node, or "loss"
    expr: Expr           # dL/dtarget over forward values, sizes and dL/dstart
    closed: Expr | None  # an equal closed form (checked numerically), or None


def inline_adjoints(d: Derivation, target: str, start: str) -> Expr:
    """dL/dtarget with every adjoint between ``start`` and it substituted in (temporaries'
    values folded into named nodes); SymgradError when some path from target to the loss
    does not pass through start."""
    if target not in d.order:
        raise SymgradError(f"[fused] {target}: it has no adjoint (nothing reaches the loss through it)")
    order = d.order[: d.order.index(target) + 1]
    if start != LOSS and start not in order:
        raise SymgradError(f"[fused] {target} = {start!r}: {target!r} does not flow into {start!r}")
    done: dict[str, Expr] = {}
    for t in order[order.index(start) + 1 if start != LOSS else 0:]:
        done[naming.adjoint(t)] = substitute(d.adjoint(t), done)
    expr = substitute(done[naming.adjoint(target)], d.temporary_values())
    keep = naming.adjoint(start)
    stray = sorted({v.name for v in walk(expr) if isinstance(v, Var) and v.role == "adjoint" and v.name != keep})
    if stray:
        raise SymgradError(f"[fused] {target} = {start!r}: not every path from {target!r} to the loss passes "
                           f"through {start!r}")
    return expr


def _ratio(d: Derivation, target: str, form: Expr, sizes: dict, rng) -> float | None:
    """The constant r with dL/dtarget = r form at two random points of these sizes, or None."""
    from .points import draw_leaves
    graph = d.graph
    ctx = EvalContext(sizes)
    ratios = []
    for _ in range(2):
        leaves = draw_leaves(graph, list(graph.params.values()) + list(graph.inputs.values()), ctx, rng,
                             rounded=False)
        with np.errstate(all="ignore"):
            values = d.values(leaves, ctx)
            got = np.asarray(values[naming.adjoint(target)], dtype=float)
            want = np.asarray(evaluate(form, values, ctx), dtype=float)
        if got.shape != want.shape or not np.all(np.isfinite(got)) or np.max(np.abs(want)) < 1e-6:
            return None
        big = np.abs(want) > 1e-6
        r = float(np.median(got[big] / want[big]))
        if not np.allclose(got, r * want, rtol=1e-8, atol=1e-12):
            return None
        ratios.append(r)
    return ratios[0] if np.isclose(ratios[0], ratios[1], rtol=1e-8) else None


def _constant(d: Derivation, target: str, form: Expr):
    """The exact constant k (an integer fraction, or one over a symbolic size) with
    dL/dtarget = k form, from two sets of sizes; None when there is none."""
    from .points import sizes
    rng = np.random.default_rng(23)
    first, second = sizes(d.graph, 3, 2), sizes(d.graph, 6, 3)
    r1, r2 = _ratio(d, target, form, first, rng), _ratio(d, target, form, second, rng)
    if r1 is None or r2 is None:
        return None
    if np.isclose(r1, r2, rtol=1e-8):
        k = sp.nsimplify(r1, rational=True, tolerance=1e-9)
        return k if k.q < 100 else None
    for s in first:
        k1, k2 = r1 * first[s], r2 * second[s]
        if np.isclose(k1, k2, rtol=1e-8):
            k = sp.nsimplify(k1, rational=True, tolerance=1e-9)
            return k / s if k.q < 100 else None
    return None


def closed_form(d: Derivation, target: str) -> Expr | None:
    """k (softmax(target) - onehot(y)) for a label input y whose classes are target's last
    axis, when dL/dtarget equals it at random points; None otherwise."""
    z = d.graph.variables()[target]
    if z.ndim != 2:
        return None
    for name, y in d.graph.inputs.items():
        kind = d.spec.kinds.get(name)
        if kind is None or kind.kind != "label" or tuple(y.shape[:1]) != tuple(z.shape[:1]):
            continue
        classes = z.shape[1]
        if str(kind.bound) != str(classes):
            continue
        form = apply("sub", apply("softmax", z, axis=-1), apply("one_hot", y, classes=classes))
        k = _constant(d, target, form)
        if k is not None and k != 0:
            return form if k == 1 else apply("mul", Const(k), form)
    return None


def fused_views(d: Derivation) -> list[FusedView]:
    """Every view the spec's ``[fused]`` table asks for, in its order."""
    return [FusedView(t, s, inline_adjoints(d, t, s), closed_form(d, t)) for t, s in d.spec.fused.items()]
