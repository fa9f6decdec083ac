"""The entry-by-entry section: every gradient entry of a small fixed-size net,
through the adjoint of the layer it feeds and then in forward values only,
computed by evaluating the derivation on arrays of sympy symbols."""

from __future__ import annotations

from ..ir import as_sympy
from .. import names as naming
from ..spec import LOSS
from .latex_base import Block, Claim, Context
from .latex_steps import adjoint_targets, entry_names

#: Fixed-size nets with at most this many parameter entries get the entry-by-entry section.
MAX_ENTRIES = 16


def entries_section(c: Context):
    import numpy as np
    import sympy as sp

    from ..evaluate import EvalContext, evaluate
    from ..points import symbolic_array
    g = c.d.graph
    if g.sizes:
        return [Block("text", text="This network has symbolic sizes; entry-by-entry partials are "
                                   "shown for fixed-size networks only.")]
    count = sum(int(np.prod([int(d) for d in v.shape], dtype=int)) for v in g.params.values())
    if count > MAX_ENTRIES:
        return [Block("text", text=f"This network has {count} parameter entries; entry-by-entry partials "
                                   f"are shown for networks with at most {MAX_ENTRIES}.")]
    ctx = EvalContext({}, symbolic=True)
    names: dict[sp.Symbol, str] = {}
    where: dict[sp.Symbol, tuple] = {}   # symbol -> (array, index): what each symbol stands for

    def arr(name, shape, text_of):
        out = symbolic_array(f"v_{name}", shape)
        for idx in np.ndindex(*out.shape):
            names[out[idx]] = text_of(",".join(map(str, idx)) if shape else None)
            where[out[idx]] = (name, idx)
        return out

    values = {}
    for n, v in list(g.inputs.items()) + list(g.params.items()):
        values[n] = arr(n, v.shape, lambda i, n=n: c.name(n) if i is None else c.elem(n, i))
    for n in entry_names(c.d):
        if n != LOSS:
            values[n] = arr(n, c.shape(n), lambda i, n=n: c.name(n) if i is None else c.elem(n, i))
    order = adjoint_targets(c.d)
    named_vals, forward_vals = {}, {}
    for t in order:
        key = naming.adjoint(t)
        values[key] = arr(key, c.shape(t), lambda i, t=t: c.adj(t) if i is None else c.adj_elem(t, i))
    for t in order:
        expr = c.best(t)
        named_vals[t] = np.asarray(evaluate(expr, values, ctx))
        fwd = dict(values)
        fwd.update({naming.adjoint(k): forward_vals[k] for k in forward_vals})
        forward_vals[t] = np.asarray(evaluate(expr, fwd, ctx))
    printer = _SymbolLatex(names)
    rows, claims = [], []
    for n in g.params:
        nv, fv = named_vals[n], forward_vals[n]
        for idx in np.ndindex(*nv.shape):
            lhs = r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(n, ",".join(map(str, idx))) if nv.shape
                                                         else c.name(n))
            named_expr, fwd_expr = as_sympy(nv[idx]), sp.factor(as_sympy(fv[idx]))
            named = printer.doprint(named_expr)
            fwd_text = printer.doprint(fwd_expr)
            rows.append((lhs, named))
            claims.append(Claim(n, "entry", named, lhs, (idx, named_expr, where)))
            if fwd_text != named:
                rows.append(("", fwd_text))
                claims.append(Claim(n, "entry", fwd_text, lhs, (idx, fwd_expr, where)))
    return [Block("text", text="Each entry of every gradient (indices from 0), first through the adjoint "
                               "of the layer it feeds, then in forward values only:"),
            Block("align", rows=rows, claims=claims)]


def _textbook_printer(names):
    r"""sympy's scalar LaTeX in textbook order: a sum's positive terms before its negative ones
    (\hat{y} - y, not -y + \hat{y}); in a product the constant, then the differences, then
    the rest (2 (\hat{y} - y) x_0, not 2 x_0 (\hat{y} - y)); a negative constant absorbed
    by negating a difference (-2 x (y - \hat{y}) is 2 (\hat{y} - y) x)."""
    import sympy as sp
    from sympy.printing.precedence import PRECEDENCE

    from .printers import _ScalarLatex

    class Textbook(_ScalarLatex):
        def _print_Add(self, expr, order=None):
            terms = list(expr.as_ordered_terms())
            terms = [t for t in terms if not t.could_extract_minus_sign()] + \
                [t for t in terms if t.could_extract_minus_sign()]
            out = ""
            for k, term in enumerate(terms):
                if term.could_extract_minus_sign():
                    out += (" - " if k else "- ") + self.parenthesize(-term, PRECEDENCE["Add"])
                else:
                    out += (" + " if k else "") + self.parenthesize(term, PRECEDENCE["Add"])
            return out

        def _print_Mul(self, expr):
            coeff, factors = expr.as_coeff_mul()
            factors = list(factors)
            if coeff < 0:
                flip = next((k for k, f in enumerate(factors) if f.is_Add), None)
                if flip is not None:
                    factors[flip] = sp.expand(-factors[flip])
                    coeff = -coeff
            if any(f.is_Pow and f.exp.is_negative for f in factors) or coeff.q != 1:
                return super()._print_Mul(expr)   # a fraction: sympy's \frac layout
            factors = [f for f in factors if f.is_Add] + [f for f in factors if not f.is_Add]
            parts = [r"\left(%s\right)" % self._print(f) if f.is_Add else self.parenthesize(f, PRECEDENCE["Mul"])
                     for f in factors]
            sign = "- " if coeff < 0 else ""
            if abs(coeff) != 1:
                parts.insert(0, self._print(abs(coeff)))
            return sign + " ".join(parts)

    return Textbook({"symbol_names": names})


class _SymbolLatex:
    """Scalars whose symbols stand for array entries, printed with their display names."""

    def __init__(self, names):
        self.printer = _textbook_printer(names)

    def doprint(self, e):
        return self.printer.doprint(e)
