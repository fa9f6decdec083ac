"""The textbook closed form of a composite loss's gradient (softmax + cross-entropy,
sigmoid + binary cross-entropy): (P - Y)/n where the label's input kind allows it.

The rule table writes these gradients in the numerically stable form the code
uses (expm1, log-softmax); an answer key shows the mathematics instead. The
closed form is found by evaluating both at random points (two sets of sizes, so
a 1/n is told apart from a constant) and is used only when they agree.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .. import names as naming
from ..ir import Const, Var, walk
from ..kinds import REAL
from ..rules import apply

#: kinds whose rows sum to 1 along the last axis
SIMPLEX = ("onehot", "simplex")


def _values(c, exprs, sizes, rng):
    from ..evaluate import EvalContext
    from ..points import draw_kind
    ctx = EvalContext(sizes)
    kinds = getattr(c.d.spec, "kinds", {}) or {}
    values = {}
    for e in exprs:
        for v in walk(e):
            if isinstance(v, Var) and v.name not in values:
                values[v.name] = draw_kind(rng, ctx.shape(v.shape), kinds.get(v.name, REAL), ctx, rounded=False)
    return ctx, values


def _ratio(c, g, form, sizes, rng):
    """The constant r with g = r form at random points, or None."""
    from ..evaluate import evaluate
    ratios = []
    for _ in range(2):
        ctx, values = _values(c, (g, form), sizes, rng)
        try:
            got = np.asarray(evaluate(g, values, ctx), dtype=float)
            want = np.asarray(evaluate(form, values, ctx), dtype=float)
        except Exception:   # noqa: BLE001 -- a form we cannot evaluate makes no claim
            return None
        if got.shape != want.shape or np.max(np.abs(want)) < 1e-6:
            return None
        big = np.abs(want) > 1e-6
        r = got[big] / want[big]
        if not np.allclose(got, r[0] * want, rtol=1e-8, atol=1e-10):
            return None
        ratios.append(r[0])
    return ratios[0] if np.isclose(ratios[0], ratios[1], rtol=1e-8) else None


def _scale(c, g, form):
    """r as an exact constant: k or k/s for a size s of the net, from two sets of sizes."""
    from ..points import sizes
    rng = np.random.default_rng(17)
    graph = c.d.graph
    first, second = sizes(graph, 2), sizes(graph, 5)
    r1, r2 = _ratio(c, g, form, first, rng), _ratio(c, g, form, second, rng)
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


def gradient_collapse(c, t: str, g):
    """(form, sentence) for the adjoint g of node t when it is a textbook closed form, else None."""
    z = c.variables.get(t)
    if z is None or not z.ndim:
        return None
    kinds = getattr(c.d.spec, "kinds", {}) or {}
    for y in c.d.graph.inputs.values():
        if tuple(y.shape) != tuple(z.shape):
            continue
        kind = kinds.get(y.name, REAL).kind
        name, zn = c.name(y.name), c.name(t)
        p = apply("softmax", z, axis=-1)
        rows = "each row" if z.ndim == 2 else "its entries"
        if kind in SIMPLEX:
            candidates = [(apply("sub", p, y),
                           f"Because ${name}$ is declared {kind} ({rows} sums to 1), the softmax and the "
                           f"cross-entropy combine into the closed form below, with "
                           f"$\\operatorname{{softmax}}$ taken along the last axis of ${zn}$.")]
        else:
            total = apply("sum", y, axis=-1, keepdims=True) if z.ndim == 2 else apply("sum", y)
            candidates = [(apply("sub", apply("mul", p, total), y),
                           f"The softmax and the cross-entropy combine into the form below for a general "
                           f"${name}$; when {rows} of ${name}$ sums to 1 (declare it with kind = \"onehot\" "
                           f"or \"simplex\") it is the familiar $\\operatorname{{softmax}}({zn}) - {name}$ "
                           "times the same constant.")]
        candidates.append((apply("sub", apply("sigmoid", z), y),
                           "The sigmoid and the binary cross-entropy combine: the derivative "
                           "$\\sigma(1 - \\sigma)$ cancels against the loss's denominator."))
        for form, sentence in candidates:
            k = _scale(c, g, form)
            if k is not None and k != 0:
                return (form if k == 1 else apply("mul", Const(k), form)), sentence
    return None


def _replace(e, old, new):
    """e with every occurrence of the sub-expression ``old`` replaced by ``new``."""
    from ..ir import Apply
    if e == old:
        return new
    if not isinstance(e, Apply):
        return e
    args = [_replace(a, old, new) for a in e.args]
    return e if all(a is b for a, b in zip(args, e.args)) else apply(e.op, *args, **dict(e.kw))


def inline_collapse(c, ss: list):
    """A one-path step through an activation written inline (yhat = sigmoid(X W + b)) whose
    loss gradient collapses once put in: the pre-activation's adjoint dL/dyhat * yhat (1 - yhat)
    becomes (yhat - y)/n, and the step is shown with it. (None, sentence, expr) or None."""
    from ..ir import Apply, walk
    from ..rewrite import substitute
    if len(ss) != 1:
        return None
    s = ss[0]
    up = c.steps.get(s.source)
    if not up or len(up) != 1 or up[0].kind != "gradient":
        return None
    g = naming.adjoint(s.source)
    inner = next((e for e in walk(s.expr) if isinstance(e, Apply) and e.op == "mul"
                  and any(isinstance(a, Var) and a.name == g for a in e.args)), None)
    if inner is None or inner == s.expr:
        return None
    combined = substitute(inner, {g: up[0].expr})
    src = c.variables[s.source]
    for y in c.d.graph.inputs.values():
        if tuple(y.shape) != tuple(src.shape):
            continue
        form = apply("sub", src, y)
        k = _scale(c, combined, form)   # k or k/n, from two sets of sizes
        if k is None or k == 0:
            continue
        collapsed = form if k == 1 else apply("mul", Const(k), form)
        sentence = (f"Putting in ${c.adj(s.source)}$, the adjoint of the pre-activation inside "
                    f"${c.name(s.source)}$ collapses to ${c.tex(collapsed)}$: the activation's derivative "
                    "cancels against the loss's denominator.")
        return None, sentence, _replace(s.expr, inner, collapsed)
    return None
