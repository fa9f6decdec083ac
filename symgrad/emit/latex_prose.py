"""Words for chain-rule steps whose Jacobian has no named pattern: reductions (a sum or
mean), broadcasting (an array added to or subtracted from every row of a bigger one)
and products with a transposed factor (Q K^T, H W^T). Each sentence gives the local
derivative in index notation and says how the adjoint follows from it, read off the
entry's definition as the user wrote it."""

from __future__ import annotations

from ..ir import Apply, Const, Var, walk


def _uses(e, name: str) -> bool:
    return any(isinstance(v, Var) and v.name == name for v in walk(e))


def _strip_scale(e):
    """(constant text or "", e) for e = k * x (a constant k), else ("", e)."""
    if isinstance(e, Apply) and e.op == "mul" and isinstance(e.args[0], Const) and e.args[1].ndim:
        return e.args[0], e.args[1]
    return None, e


def explain(c, s) -> str | None:
    """A sentence for step ``s`` (target <- source) of a reduction, a broadcast or a product
    with a transposed factor; None when the source's definition is none of those."""
    defs = c.d.entry_definitions()
    d = defs.get(s.source)
    if d is None:
        return None
    for fn in (_reduction, _broadcast, _scaled_broadcast, _transposed_product, _product):
        text = fn(c, s, d)
        if text:
            return text
    return None


def _reduction(c, s, d) -> str | None:
    if not (isinstance(d, Apply) and d.op in ("sum", "mean")):
        return None
    x, t, src = d.args[0], s.target, s.source
    if not _uses(x, t):
        return None
    axis = d.kw.get("axis")
    verb = "averages" if d.op == "mean" else "adds up"
    inner = "" if isinstance(x, Var) and x.name == t else \
        f", an element-wise function of ${c.name(t)}$ (its derivative comes in entry by entry)"
    if axis is None or x.ndim == 1:
        count = c.p.shape(x.shape) if d.op == "mean" else None
        weight = f"$\\frac{{1}}{{{count}}}$" if count else "1"
        return (f"${c.name(src)}$ {verb} all the entries of ${c.tex(x)}${inner}: "
                f"$\\frac{{\\partial {c.name(src)}}}{{\\partial ({c.tex(x)})_j}} = {weight.strip('$')}$ for every "
                f"$j$, so every entry receives the scalar ${c.adj(src)}$"
                + (f" times {weight}" if count else "") + ".")
    along = ("down each column (over the rows, axis 0)" if axis in (0, -2)
             else "along each row (over the columns, axis 1)")
    spread = "copied down every row" if axis in (0, -2) else "copied across every column"
    n = c.p.dim(x.shape[0 if axis in (0, -2) else 1])
    return (f"${c.name(src)}$ {verb} the entries of ${c.tex(x)}$ {along}{inner}; entry $(i, k)$ enters only "
            f"the sum it belongs to, with weight " + (f"$\\frac{{1}}{{{n}}}$" if d.op == "mean" else "1")
            + f", so the adjoint is ${c.adj(src)}$ {spread} (broadcast back)"
            + (f" and divided by ${n}$." if d.op == "mean" else "."))


def _broadcast(c, s, d) -> str | None:
    if not (isinstance(d, Apply) and d.op in ("add", "sub") and d.ndim and s.kind in ("general", "sum")):
        return None
    t, src = s.target, s.source
    var = c.variables.get(t)
    if var is None or tuple(var.shape) == tuple(d.shape):
        return None
    for k, arg in enumerate(d.args):
        if isinstance(arg, Var) and arg.name == t:
            sign = "subtracted from" if d.op == "sub" and k == 1 else "added to"
            where = "every row" if len(d.shape) == 2 and var.ndim == 1 else "every entry"
            minus = ", with a minus sign" if sign.startswith("sub") else ""
            return (f"${c.name(t)}$ is {sign} {where} of ${c.name(src)}$ (broadcast), so each entry of "
                    f"${c.name(t)}$ collects the adjoints of all the entries of ${c.name(src)}$ it touched{minus}: "
                    "the sum of those adjoints.")
    return None


def _transposed_product(c, s, d) -> str | None:
    k, inner = _strip_scale(d)
    if not (isinstance(inner, Apply) and inner.op == "matmul"):
        return None
    a, b = inner.args
    if not (isinstance(b, Apply) and b.op == "transpose" and isinstance(b.args[0], Var) and isinstance(a, Var)):
        return None
    t, src = s.target, s.source
    left, right = c.name(a.name), c.name(b.args[0].name)
    scale = "" if k is None else f"{c.tex(k)} "
    S = c.elem(src, "ij")
    sentence = (f"Entry by entry, ${S} = {scale}\\sum_k {c.elem(a.name, 'ik')}\\, {c.elem(b.args[0].name, 'jk')}$")
    if b.args[0].name == t and a.name != t:
        return (sentence + f", so $\\frac{{\\partial {S}}}{{\\partial {c.elem(t, 'jk')}}} = "
                f"{scale}{c.elem(a.name, 'ik')}$ "
                f"and $\\frac{{\\partial {c.loss}}}{{\\partial {c.elem(t, 'jk')}}} = {scale}\\sum_i "
                f"{c.adj_elem(src, 'ij')}\\, {c.elem(a.name, 'ik')}$: the transposed adjoint of ${c.name(src)}$ "
                f"times ${left}$.")
    if a.name == t and b.args[0].name != t:
        return (sentence + f", so $\\frac{{\\partial {S}}}{{\\partial {c.elem(t, 'ik')}}} = "
                f"{scale}{c.elem(b.args[0].name, 'jk')}$ "
                f"and $\\frac{{\\partial {c.loss}}}{{\\partial {c.elem(t, 'ik')}}} = {scale}\\sum_j "
                f"{c.adj_elem(src, 'ij')}\\, {c.elem(b.args[0].name, 'jk')}$: the adjoint of ${c.name(src)}$ "
                f"times ${right}$.")
    return None


def _product(c, s, d) -> str | None:
    """src = A * B entry by entry, with the target inside one factor only (a scale, a normaliser)."""
    if not (isinstance(d, Apply) and d.op == "mul" and len(d.args) == 2 and d.ndim):
        return None
    t, src = s.target, s.source
    a, b = d.args
    if _uses(a, t) == _uses(b, t):
        return None
    other, holder = (a, b) if _uses(b, t) else (b, a)
    if isinstance(holder, Var):
        return None   # src = other * t: a diagonal step, which has its own words
    var = c.variables.get(t)
    summed = var is not None and tuple(var.shape) != tuple(d.shape)
    return (f"${c.name(src)}$ is ${c.tex(other)}$ times ${c.tex(holder)}$ entry by entry, and only the second "
            f"factor depends on ${c.name(t)}$: by the product rule each entry of ${c.name(src)}$ passes back its "
            f"adjoint times the matching entry of ${c.tex(other)}$, times the derivative of ${c.tex(holder)}$ "
            f"with respect to ${c.name(t)}$"
            + (f", summed over the entries ${c.name(t)}$ was broadcast to." if summed else "."))


def _scaled_broadcast(c, s, d) -> str | None:
    """t multiplies, entry by entry, every row of a bigger array inside src (gamma * S + beta)."""
    t, src = s.target, s.source
    var = c.variables.get(t)
    if var is None or not var.ndim:
        return None
    for e in walk(d):
        if isinstance(e, Apply) and e.op == "mul" and len(e.args) == 2:
            for k, arg in enumerate(e.args):
                other = e.args[1 - k]
                if isinstance(arg, Var) and arg.name == t and other.ndim == 2 \
                        and tuple(other.shape) != tuple(var.shape):
                    o = c.tex(other)
                    oik = c.elem(other.name, "ik") if isinstance(other, Var) else f"({o})_{{ik}}"
                    return (f"${c.name(t)}$ multiplies every row of ${o}$ entry by entry (broadcast over the rows), "
                            f"so $\\frac{{\\partial {c.elem(src, 'ik')}}}{{\\partial {c.elem(t, 'k')}}} = "
                            f"{oik}$ and each entry of ${c.name(t)}$ collects, over the rows $i$, the adjoint of "
                            f"${c.name(src)}$ times ${o}$: a sum over axis 0.")
    return None
