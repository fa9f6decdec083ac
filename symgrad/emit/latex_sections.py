"""The sections of a write-up, prepared as data for the LaTeX and Markdown templates.

A write-up is a list of sections; a section is a title and a list of blocks:
``text`` (a sentence with inline ``$...$`` math), ``items`` (a list of such
sentences), ``table`` (header and rows of LaTeX cells), ``align`` (rows of
``lhs = rhs`` math) and ``figure`` (an image file). Both templates know how
to place each kind of block; every decision (what to say, which formula)
is made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import names as naming
from ..derive import Derivation
from ..errors import SymgradError
from ..ir import Apply, Var, walk
from ..rules import RULES
from ..spec import LOSS
from .latex_steps import Step, adjoint_targets, chain_steps, entry_definitions, entry_names, tidy, total
from ..rules.core import MUL, Printed, wrap
from ..rules.linalg import transposed_latex
from .printers import LatexIRPrinter


def T(text: str) -> str:
    """text^\\top, safe when text already has a superscript."""
    return transposed_latex(Printed(text))

#: Section names, in document order.
SECTIONS = ("graph", "shapes", "conventions", "forward", "gradients", "chain", "entries")

LAYOUTS = ("numerator", "denominator")

#: Fixed-size nets with at most this many parameter entries get the entry-by-entry section.
MAX_ENTRIES = 16


@dataclass
class Block:
    kind: str                      # text | items | table | align | figure
    text: str = ""
    items: list = field(default_factory=list)
    header: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    wide: bool = False             # a table with long formulas (paragraph columns)


@dataclass
class Section:
    key: str
    title: str
    blocks: list


@dataclass
class Writeup:
    name: str
    title: str
    description: str
    sections: list


_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&",
                 "#": r"\#", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "$": r"\$",
                 "<": "$<$", ">": "$>$"}


def tex_text(text: str) -> str:
    """Plain text (a description) made safe for LaTeX text mode."""
    return "".join(_TEXT_ESCAPES.get(ch, ch) for ch in text)


def _m(text: str) -> str:
    return f"${text}$"


class _Context:
    """What every section builder needs: the derivation, printer and options."""

    def __init__(self, d: Derivation, printer: LatexIRPrinter, layout: str):
        self.d = d
        self.p = printer
        self.layout = layout
        self.loss = d.spec.latex.get(LOSS, r"\mathcal{L}")
        self.variables = d.graph.variables()
        self.steps = chain_steps(d)
        self._best: dict = {}

    def best(self, t: str):
        """The adjoint of t at entry level, in its shortest proven form (fused where it collapses)."""
        if t not in self._best:
            ss = self.steps[t]
            fused = _fused(self, t, ss)
            self._best[t] = fused[2] if fused else tidy(total(ss))
        return self._best[t]

    def expanded_best(self) -> dict:
        """Every entry-level adjoint in inputs and parameters only, from :meth:`best`."""
        from ..ir import substitute
        mapping = dict(self.d.expanded_values())
        out = {}
        for t in adjoint_targets(self.d):
            out[t] = substitute(self.best(t), mapping)
            mapping[naming.adjoint(t)] = out[t]
        return out

    def name(self, n: str) -> str:
        return self.loss if n == LOSS else self.p.name_latex(n)

    def tex(self, e) -> str:
        return self.p.doprint(e)

    def adj(self, n: str) -> str:
        return self.p.adjoint(n) if n in self.variables else r"\frac{\partial %s}{\partial %s}" % (self.loss, n)

    def elem(self, n: str, idx: str) -> str:
        """Entry ``idx`` of a named array: (W)_{ij}."""
        text = self.p.name_latex(n)
        return f"{text}_{{{idx}}}" if "^" not in text and "_" not in text else rf"\left({text}\right)_{{{idx}}}"

    def adj_elem(self, n: str, idx: str) -> str:
        return r"\frac{\partial %s}{\partial %s}" % (self.loss, self.elem(n, idx))

    def shape(self, n: str) -> tuple:
        return tuple(self.variables[n].shape) if n != LOSS else ()

    def size(self, n: str) -> str:
        shape = self.shape(n)
        return self.p.shape(shape) if shape else "1"

    def space(self, shape) -> str:
        return r"\mathbb{R}" if not shape else r"\mathbb{R}^{%s}" % self.p.shape(shape)

    def expr_elem(self, e, idx: str) -> str:
        """An element-wise expression with every array replaced by its (scalar) entry idx."""
        from ..ir import substitute
        names, mapping = {}, {}
        for v in walk(e):
            if isinstance(v, Var) and v.ndim and v.role != "adjoint":
                key = f"{v.name}__{idx}"
                names[key] = self.elem(v.name, idx)
                mapping[v.name] = Var(key, (), "node")
        printer = LatexIRPrinter({**self.p.names, **names}, self.p.adjoint)
        return wrap(printer.print(substitute(e, mapping)), MUL)


# -- sections -----------------------------------------------------------------

def _graph(c: _Context, graph_file):
    if not graph_file:
        return None
    return [Block("figure", text=graph_file)]


def _shapes(c: _Context):
    rows = []
    g = c.d.graph
    for n, v in g.inputs.items():
        rows.append([_m(c.name(n)), "input", _m(c.space(v.shape))])
    for n, v in g.params.items():
        rows.append([_m(c.name(n)), "parameter", _m(c.space(v.shape))])
    for n in entry_names(c.d):
        rows.append([_m(c.name(n)), "loss" if n == LOSS else "node", _m(c.space(c.shape(n)))])
    sizes = ", ".join(f"${s}$ (from {_m(c.name(a))}, axis {ax})" for s, (a, ax) in g.sizes.items())
    blocks = [Block("table", header=["Name", "Role", "Shape"], rows=rows)]
    text = ("Every adjoint $" + c.adj(r"\mathsf{V}") + r"$ has the shape of $\mathsf{V}$.")
    if sizes:
        text += f" Symbolic sizes: {sizes}."
    blocks.append(Block("text", text=text))
    return blocks


def _kink_notes(c: _Context) -> list[str]:
    import sympy as sp

    from ..rules.elementwise import FUNCTIONS, X, _unfold
    used = sorted({e.op for n in c.d.graph.nodes for e in walk(n.expr)
                   if isinstance(e, Apply) and RULES[e.op].family == "elementwise"})
    notes = []
    for op in used:
        fn = FUNCTIONS[op]
        for k in fn.kinks:
            params = {s: sp.Symbol(s.name, real=True) for s in fn.param_symbols}
            at = _unfold(fn.derivative.xreplace({X: sp.Integer(k)}).xreplace(params))
            at = sp.piecewise_fold(at)
            name = fn.latex_name.replace("{0}", "x") if "{0}" in fn.latex_name else fn.latex_name
            notes.append(f"At its kink the derivative of ${name}$ is taken as "
                         f"${name}'({sp.latex(k)}) = {c.p.scalar(at)}$ (the branch $x \\le 0$, as in PyTorch and JAX).")
    return notes


def _reductions(c: _Context) -> list[str]:
    out = []
    loss_def = entry_definitions(c.d)[LOSS]
    for e in walk(loss_def):
        if isinstance(e, Apply) and e.op in ("sum", "mean"):
            a = e.args[0]
            if not a.ndim:
                continue
            axis = e.kw.get("axis")
            count = a.shape if axis is None else [a.shape[i] for i in (axis if isinstance(axis, tuple) else (axis,))]
            import sympy as sp
            total_count = sp.Mul(*count)
            what = "mean" if e.op == "mean" else "sum"
            out.append(f"The loss takes the {what} over ${c.p.scalar(total_count)}$ "
                       f"{'entries' if axis is None else 'entries along axis ' + str(axis)}"
                       + (f", so every gradient carries the factor $1/{c.p.dim(total_count)}$." if what == "mean"
                          and total_count != 1 else "."))
    if not out:
        out.append("The loss has no sum or mean over entries.")
    return out


def _conventions(c: _Context):
    V, S, T_ = r"\mathsf{V}", r"\mathsf{s}", r"\mathsf{t}"
    items = [
        "Vectors are columns; a matrix times a vector is $W x$, and a 1-D array on the left of a "
        "product is a row, written $w^\\top x$.",
        f"Gradients are in denominator layout: ${c.adj(V)}$ has the shape of ${V}$ and its entry "
        f"$(i, j)$ is the partial derivative of ${c.loss}$ with respect to ${V}_{{ij}}$.",
    ]
    if c.layout == "numerator":
        items.append(f"Jacobians are in numerator layout: $\\frac{{\\partial {S}}}{{\\partial {T_}}}$ has one row "
                     f"per entry of ${S}$ and one column per entry of ${T_}$, entry $(i, j)$ being "
                     f"$\\frac{{\\partial {S}_i}}{{\\partial {T_}_j}}$; the chain rule then reads "
                     f"${c.adj(T_)} = \\left(\\frac{{\\partial {S}}}{{\\partial {T_}}}\\right)^\\top {c.adj(S)}$.")
    else:
        items.append(f"Jacobians are in denominator layout: $\\frac{{\\partial {S}}}{{\\partial {T_}}}$ has one row "
                     f"per entry of ${T_}$ and one column per entry of ${S}$, entry $(i, j)$ being "
                     f"$\\frac{{\\partial {S}_j}}{{\\partial {T_}_i}}$; the chain rule then reads "
                     f"${c.adj(T_)} = \\frac{{\\partial {S}}}{{\\partial {T_}}} {c.adj(S)}$.")
    items.append(r"$\odot$ is the element-wise (Hadamard) product; $\mathrm{1\!\!1}[z > 0]$ is 1 where "
                 r"$z > 0$ and 0 elsewhere; $\operatorname{diag}(v)$ is the diagonal matrix with $v$ on "
                 r"its diagonal; $\delta_{ij}$ is 1 when $i = j$ and 0 otherwise.")
    items += _reductions(c) + _kink_notes(c)
    return [Block("items", items=items)]


def _reads(c: _Context, n: str, defs) -> list[str]:
    """The non-parameter arrays an entry reads, in order."""
    out = []
    for v in walk(defs[n]):
        if isinstance(v, Var) and v.name not in c.d.graph.params and v.name not in out:
            out.append(v.name)
    return out


def _forward(c: _Context):
    defs = entry_definitions(c.d)
    values = c.d.expanded_values()
    named, expanded = [], []
    for n in entry_names(c.d):
        reads = _reads(c, n, defs)
        named.append([_m(c.name(n)), _m(", ".join(c.name(r) for r in reads)),
                      _m(c.tex(defs[n]))])
        expanded.append([_m(c.name(n)),
                         _m(", ".join(c.tex(values[r]) if r in values else c.name(r) for r in reads)),
                         _m(c.tex(values[n]))])
    header = ["Node", "Input", "Output"]
    return [Block("text", text="In named intermediates:"),
            Block("table", header=header, rows=named),
            Block("text", text="Fully expanded, in inputs and parameters only:"),
            Block("table", header=header, rows=expanded, wide=True)]


def _gradients(c: _Context):
    expanded = c.expanded_best()
    named_rows, expanded_rows = [], []
    for n in c.d.graph.params:
        named_rows.append([_m(c.name(n)), _m(c.size(n)), _m(c.tex(c.best(n)))])
        expanded_rows.append([_m(c.name(n)), _m(c.tex(expanded[n]))])
    inner = [[_m(c.adj(t)), _m(c.size(t)), _m(c.tex(c.best(t)))]
             for t in adjoint_targets(c.d) if t not in c.d.graph.params]
    return [Block("text", text="In named intermediates and their adjoints:"),
            Block("table", header=["Parameter", "Shape", "Gradient"], rows=named_rows),
            *([Block("text", text="The adjoints those use:"),
               Block("table", header=["Adjoint", "Shape", "Value"], rows=inner)] if inner else []),
            Block("text", text="Fully expanded, in inputs and parameters only:"),
            Block("table", header=["Parameter", "Gradient"],
                  rows=[[r[0], r[1]] for r in expanded_rows], wide=True)]


# -- the chain rule, step by step ------------------------------------------------

def _identity(c: _Context, n: str) -> str:
    shape = c.shape(n)
    import sympy as sp
    count = sp.Mul(*shape) if shape else 1
    return "1" if count == 1 else r"I_{%s}" % c.p.dim(count)


def _jacobian(c: _Context, s: Step) -> tuple[str, list, list, str]:
    """(chain term, Jacobian rows, index-notation rows, sentence) of one step."""
    t, src = s.target, s.source
    J = r"\frac{\partial %s}{\partial %s}" % (c.name(src), c.name(t))
    g = c.adj(src)
    chain = (r"\left(%s\right)^\top %s" % (J, g)) if c.layout == "numerator" else f"{J} {g}"
    vector = len(c.shape(t)) <= 1 and len(c.shape(src)) <= 1
    num = c.layout == "numerator"
    k = s.kind
    if k == "identity":
        index = []
        if t in c.d.graph.params and c.shape(t):
            index = [(r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(t, "i")),
                      r"\sum_r %s \frac{\partial %s}{\partial %s} = \sum_r %s \delta_{ri} = %s"
                      % (c.adj_elem(src, "r"), c.elem(src, "r"), c.elem(t, "i"), c.adj_elem(src, "r"),
                         c.adj_elem(src, "i"))),
                     (r"\Rightarrow " + c.adj(t), g)]
        return chain, [(J, _identity(c, t))] if vector else [], index, \
            f"${c.name(src)}$ depends on ${c.name(t)}$ through a sum, so the adjoint passes through unchanged."
    if k == "negated":
        return chain, [(J, "-" + _identity(c, t))] if vector else [], [], \
            f"${c.name(t)}$ enters ${c.name(src)}$ with a minus sign."
    if k == "scale":
        return chain, [(J, f"{c.tex(s.factor)} {_identity(c, t)}")] if vector else [], [], \
            f"${c.name(src)}$ is ${c.name(t)}$ scaled by ${c.tex(s.factor)}$."
    if k == "diagonal":
        e = wrap(c.p.print(s.factor), MUL + 1)
        if vector:
            jac = [(J, r"\operatorname{diag}\left(%s\right)" % c.tex(s.factor)),
                   (r"\left[%s\right]_{ij}" % J, r"\delta_{ij}\, %s" % c.expr_elem(s.factor, "i"))]
            index = [(c.adj_elem(t, "i"),
                      r"\sum_j %s \frac{\partial %s}{\partial %s} = %s\, %s"
                      % (c.adj_elem(src, "j"), c.elem(src, "j"), c.elem(t, "i"), c.adj_elem(src, "i"),
                         c.expr_elem(s.factor, "i"))),
                     (r"\Rightarrow " + c.adj(t), f"{g} \\odot {e}")]
        else:
            chain = f"{g} \\odot {e}"
            jac = [(r"\frac{\partial %s}{\partial %s}" % (c.elem(src, "ij"), c.elem(t, "kl")),
                    r"\delta_{ik} \delta_{jl}\, %s" % c.expr_elem(s.factor, "ij"))]
            index = [(r"\Rightarrow " + c.adj(t), f"{g} \\odot {e}")]
        return chain, jac, index, (f"${c.name(src)}$ is an element-wise function of ${c.name(t)}$: its "
                                   f"Jacobian is diagonal, with the derivative ${e}$ (from the rule table) "
                                   "on the diagonal.")
    if k == "softmax":
        p = c.tex(s.factor)
        return chain, [(J, r"\operatorname{diag}\left(%s\right) - %s %s^\top" % (p, p, p)),
                       (r"\left[%s\right]_{ij}" % J, r"%s \left(\delta_{ij} - %s\right)"
                        % (c.elem(src, "i"), c.elem(src, "j")))], [], \
            (f"${c.name(src)}$ is the softmax of ${c.name(t)}$; its Jacobian is symmetric, "
             "so it reads the same in both layouts.")
    if k == "matrix":
        W = c.tex(s.factor)
        Wn = s.factor.name if isinstance(s.factor, Var) else None
        index = []
        if Wn:
            index = [(c.adj_elem(t, "j"),
                      r"\sum_i %s \frac{\partial %s}{\partial %s} = \sum_i %s\, %s"
                      % (c.adj_elem(src, "i"), c.elem(src, "i"), c.elem(t, "j"), c.adj_elem(src, "i"),
                         c.elem(Wn, "ij"))),
                     (r"\Rightarrow " + c.adj(t), f"{T(W)} {g}")]
        return chain, [(J, W if num else T(W))], index, \
            f"${c.name(src)}$ is ${W}$ times ${c.name(t)}$ (plus terms without ${c.name(t)}$)."
    if k == "row_matrix":
        W = c.tex(s.factor)
        Wn = s.factor.name if isinstance(s.factor, Var) else None
        index = [(c.adj_elem(t, "ij"),
                  r"\sum_k %s\, %s" % (c.adj_elem(src, "ik"), c.elem(Wn, "jk")) if Wn else ""),
                 (r"\Rightarrow " + c.adj(t), f"{g} {T(W)}")]
        return f"{g} {T(W)}", [], index, \
            (f"Each row of ${c.name(src)}$ is the matching row of ${c.name(t)}$ times ${W}$, so "
             f"$\\frac{{\\partial {c.elem(src, 'ik')}}}{{\\partial {c.elem(t, 'ij')}}} = {c.elem(Wn, 'jk') if Wn else W}$.")
    if k in ("weight_outer", "weight_left", "weight_dot"):
        return _weight(c, s)
    if k == "slice":
        return c.tex(s.expr), [], [], (f"${c.name(src)}$ joins ${c.name(t)}$ with other blocks, so "
                                       f"${c.adj(t)}$ is the block of ${g}$ in ${c.name(t)}$'s position "
                                       "(the Jacobian selects those entries).")
    if k == "sum":
        return c.tex(s.expr), [], [], f"${c.name(t)}$ was broadcast in ${c.name(src)}$, so its adjoint is summed."
    return c.tex(s.expr), [], [], "The rule table's vector-Jacobian product for this step."


def _weight(c: _Context, s: Step):
    t, src = s.target, s.source
    g = c.adj(src)
    up = g if s.upstream is None or (isinstance(s.upstream, Var) and s.upstream.role == "adjoint") \
        else c.tex(s.upstream)
    compound = up != g
    x = c.tex(s.factor)
    xn = s.factor.name if isinstance(s.factor, Var) else None

    def up_elem(i):
        return c.adj_elem(src, i) if not compound else r"\left(%s\right)_{%s}" % (up, i)

    def x_elem(i):
        return c.elem(xn, i) if xn else r"\left(%s\right)_{%s}" % (x, i)

    note = "" if not compound else (f" Here ${up}$ is the adjoint of the pre-activation inside "
                                    f"${c.name(src)}$.")
    if s.kind == "weight_outer":
        index = [(r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(t, "ij")),
                  r"\sum_r %s \frac{\partial u_r}{\partial %s} = \sum_r %s\, \delta_{ri}\, %s = %s\, %s"
                  % (up_elem("r"), c.elem(t, "ij"), up_elem("r"), x_elem("j"), up_elem("i"), x_elem("j"))),
                 (r"\Rightarrow " + c.adj(t), f"{up} {T(x)}")]
        return f"{up} {T(x)}", [], index, \
            (f"The affine step $u = {c.name(t)} {x} + \\dots$ has $\\frac{{\\partial u_r}}{{\\partial {c.elem(t, 'ij')}}}"
             f" = \\delta_{{ri}} {x_elem('j')}$; in index notation:" + note)
    if s.kind == "weight_left":
        index = [(r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(t, "jk")),
                  r"\sum_i %s\, %s" % (x_elem("ij"), up_elem("ik"))),
                 (r"\Rightarrow " + c.adj(t), f"{T(x)} {up}")]
        return f"{T(x)} {up}", [], index, \
            (f"With rows as examples, $u = {x} {c.name(t)}$ has "
             f"$\\frac{{\\partial u_{{ik}}}}{{\\partial {c.elem(t, 'jk')}}} = {x_elem('ij')}$; in index notation:" + note)
    # weight_dot: a scalar times the factor
    if len(c.shape(t)):
        J = r"\frac{\partial %s}{\partial %s}" % (c.name(src), c.name(t))
        jac = [(J, T(x) if c.layout == "numerator" else x)]
        index = [(c.adj_elem(t, "j"), f"{up}\\, {x_elem('j')}"),
                 (r"\Rightarrow " + c.adj(t), f"{up} {x}")]
        return f"{up} {x}", jac, index, \
            f"${c.name(src)}$ is a scalar, linear in ${c.name(t)}$ with coefficients ${x}$."
    return f"{up} {x}", [], [], f"${c.name(src)}$ is ${c.name(t)}$ times ${x}$."


def _chain(c: _Context):
    steps = c.steps
    blocks = []
    for t in adjoint_targets(c.d):
        ss = steps[t]
        rows, jac_rows, index_rows, sentences = [], [], [], []
        if len(ss) == 1 and ss[0].kind == "gradient":
            blocks.append(Block("text", text=f"The loss gives ${c.adj(t)}$ directly "
                                f"(${c.size(t)}$, shaped like ${c.name(t)}$):"))
            fused = c.tex(ss[0].factor)
            blocks.append(Block("align", rows=[(c.adj(t), fused)]))
            continue
        chain_terms, results = [], []
        for s in ss:
            term, jac, index, sentence = _jacobian(c, s)
            chain_terms.append(term)
            results.append(c.tex(s.expr))
            jac_rows += jac
            index_rows += index
            sentences.append(sentence)
        rows.append((c.adj(t), " + ".join(chain_terms)))
        result = " + ".join(results)
        if result != rows[-1][1]:
            rows.append(("", result))
        fused = _fused(c, t, ss)
        if fused:
            rows.append(("", c.tex(fused[2])))
            sentences.append(fused[1])
        blocks.append(Block("text", text=f"Adjoint of ${c.name(t)}$ (${c.size(t)}$). " + " ".join(sentences)))
        blocks.append(Block("align", rows=rows + jac_rows + index_rows))
    return blocks


def _fused(c: _Context, t: str, ss: list[Step]):
    """A step that collapses when its upstream adjoint is put in (sigmoid + BCE, softmax + NLL)."""
    if len(ss) != 1 or ss[0].kind not in ("diagonal", "softmax"):
        return None
    s = ss[0]
    up = c.steps.get(s.source)
    if not up or len(up) != 1 or up[0].kind != "gradient":
        return None
    from ..ir import substitute
    combined = substitute(s.expr, {naming.adjoint(s.source): up[0].expr})
    return _collapse(c, combined, s.source)


def _collapse(c: _Context, combined, source: str):
    """c (s - y) for an input y shaped like s, checked entry by entry with sympy."""
    import numpy as np
    import sympy as sp

    from ..check.proof import _symbols
    from ..evaluate import EvalContext, concrete_sizes, evaluate
    sizes = concrete_sizes(c.d.graph)
    ctx = EvalContext(sizes, symbolic=True)
    values = {v.name: _symbols(v.name, ctx.shape(v.shape)) for v in walk(combined) if isinstance(v, Var)}
    try:
        got = np.asarray(evaluate(combined, values, ctx)).ravel()
    except Exception:   # noqa: BLE001 -- an expression we cannot evaluate symbolically: no claim
        return None
    if source not in values:
        return None
    s_vals = np.asarray(values[source]).ravel()
    for y in c.d.graph.inputs.values():
        if tuple(y.shape) != c.shape(source) or y.name not in values:
            continue
        y_vals = np.asarray(values[y.name]).ravel()
        ratio = sp.simplify(got[0] / (s_vals[0] - y_vals[0]))
        if ratio.free_symbols:
            # try the one-hot (probability vector) constraint sum(y) = 1
            constraint = {y_vals[-1]: 1 - sum(y_vals[:-1])}
            ratio = sp.simplify((got[0] / (s_vals[0] - y_vals[0])).subs(constraint))
            if ratio.free_symbols:
                continue
            ok = all(sp.simplify((g - ratio * (sv - yv)).subs(constraint)) == 0
                     for g, sv, yv in zip(got, s_vals, y_vals))
            note = (f"Putting in the upstream adjoint, and using that ${c.name(y.name)}$ sums to 1 "
                    "(a one-hot label), the step collapses to the fused form.")
        else:
            ok = all(sp.simplify(g - ratio * (sv - yv)) == 0 for g, sv, yv in zip(got, s_vals, y_vals))
            note = "Putting in the upstream adjoint, the step collapses to the fused form."
        if ok:
            from ..ir import Const
            from ..rules import apply
            expr = apply("mul", Const(ratio), apply("sub", c.variables[source], c.variables[y.name]))
            return None, note, expr
    return None


# -- entry by entry ---------------------------------------------------------------

def _entries(c: _Context):
    import numpy as np
    import sympy as sp

    from ..evaluate import EvalContext, evaluate
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

    def arr(name, shape, text_of):
        if not shape:
            s = sp.Symbol(f"v_{name}", real=True)
            names[s] = text_of(None)
            return np.array(s, dtype=object)
        out = np.empty(tuple(int(d) for d in shape), dtype=object)
        for idx in np.ndindex(*out.shape):
            s = sp.Symbol(f"v_{name}_{'_'.join(map(str, idx))}", real=True)
            names[s] = text_of(",".join(map(str, idx)))
            out[idx] = s
        return out

    values = {}
    for n, v in list(g.inputs.items()) + list(g.params.items()):
        values[n] = arr(n, v.shape, lambda i, n=n: c.name(n) if i is None else c.elem(n, i))
    for n in entry_names(c.d):
        if n != LOSS:
            values[n] = arr(n, c.shape(n), lambda i, n=n: c.name(n) if i is None else c.elem(n, i))
    steps = c.steps
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
    rows = []
    for n, v in g.params.items():
        nv, fv = named_vals[n], forward_vals[n]
        for idx in np.ndindex(*nv.shape):
            lhs = r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(n, ",".join(map(str, idx))) if nv.shape
                                                         else c.name(n))
            named = printer.doprint(sp.sympify(nv[idx]))
            fwd_text = printer.doprint(sp.factor(sp.sympify(fv[idx])))
            rows.append((lhs, named))
            if fwd_text != named:
                rows.append(("", fwd_text))
    return [Block("text", text="Each entry of every gradient (indices from 0), first through the adjoint "
                               "of the layer it feeds, then in forward values only:"),
            Block("align", rows=rows)]


class _SymbolLatex:
    """Scalars whose symbols stand for array entries, printed with their display names."""

    def __init__(self, names):
        from .printers import _ScalarLatex
        self.printer = _ScalarLatex({"symbol_names": names})

    def doprint(self, e):
        return self.printer.doprint(e)


_BUILDERS = {"shapes": _shapes, "conventions": _conventions, "forward": _forward,
             "gradients": _gradients, "chain": _chain, "entries": _entries}

TITLES = {"graph": "Computation graph", "shapes": "Shapes", "conventions": "Conventions",
          "forward": "Forward pass", "gradients": "Gradients", "chain": "The chain rule, step by step",
          "entries": "Entry by entry"}


def build(d: Derivation, printer: LatexIRPrinter, *, sections=None, layout: str = "numerator",
          graph_file: str | None = None) -> Writeup:
    """Prepare every selected section of the write-up of ``d``."""
    if layout not in LAYOUTS:
        raise SymgradError(f"unknown Jacobian layout {layout!r}; use one of: {', '.join(LAYOUTS)}")
    chosen = list(SECTIONS) if sections is None else list(sections)
    for s in chosen:
        if s not in SECTIONS:
            raise SymgradError(f"unknown section {s!r}; sections are: {', '.join(SECTIONS)}")
    c = _Context(d, printer, layout)
    out = []
    for key in chosen:
        blocks = _graph(c, graph_file) if key == "graph" else _BUILDERS[key](c)
        if blocks:
            out.append(Section(key, TITLES[key], blocks))
    return Writeup(d.spec.name, tex_text(d.spec.name), tex_text(d.spec.description), out)
