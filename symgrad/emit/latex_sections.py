"""The sections of a write-up, prepared as data for the LaTeX and Markdown templates.

A write-up is a list of sections; a section is a title and a list of blocks:
``text`` (a sentence with inline ``$...$`` math), ``items`` (a list of such
sentences), ``table`` (header and rows of LaTeX cells), ``align`` (rows of
``lhs = rhs`` math) and ``figure`` (an image file). Both templates know how
to place each kind of block; every decision (what to say, which formula)
is made here.
"""

from __future__ import annotations

from ..derive import Derivation
from ..errors import SymgradError
from ..ir import Apply, Var, walk
from ..rules import RULES
from ..spec import LOSS
from .latex_base import Block, Claim, Context, Section, Writeup, break_rows, math
from .latex_chain import chain_section
from .latex_entries import entries_section
from .latex_fused import fused_section
from .tex_plain import tex_label
from .latex_steps import adjoint_targets, entry_names
from .printers import LatexIRPrinter

#: Section names, in document order.
SECTIONS = ("graph", "shapes", "conventions", "forward", "gradients", "chain", "fused", "entries", "expanded")

#: an expanded formula longer than this (characters of LaTeX) is not printed: past it the
#: formula runs over many lines and teaches nothing the named form does not
EXPANDED_LIMIT = 1200
#: a table cell longer than this (characters of LaTeX) makes its table wrap (paragraph columns)
WIDE_CELL = 70

LAYOUTS = ("numerator", "denominator")


def _graph(c: Context, graph_file):
    if not graph_file:
        return None
    return [Block("figure", text=graph_file)]


def _shapes(c: Context):
    rows = []
    g = c.d.graph
    for n, v in g.inputs.items():
        rows.append([math(c.name(n)), "input", math(c.space(v.shape))])
    for n, v in g.params.items():
        rows.append([math(c.name(n)), "parameter", math(c.space(v.shape))])
    for n in entry_names(c.d):
        rows.append([math(c.name(n)), "loss" if n == LOSS else "node", math(c.space(c.shape(n)))])
    sizes = ", ".join(f"${s}$ (from {math(c.name(a))}, axis {ax})" for s, (a, ax) in g.sizes.items())
    blocks = [Block("table", header=["Name", "Role", "Shape"], rows=rows)]
    text = ("Every adjoint $" + c.adj(r"\mathsf{V}") + r"$ has the shape of $\mathsf{V}$.")
    if sizes:
        text += f" Symbolic sizes: {sizes}."
    blocks.append(Block("text", text=text))
    return blocks


def _kink_notes(c: Context) -> list[str]:
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


def _reductions(c: Context) -> list[str]:
    out = []
    loss_def = c.d.entry_definitions()[LOSS]
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
                       + (f", so every gradient carries the factor $\\frac{{1}}{{{c.p.dim(total_count)}}}$."
                          if what == "mean"
                          and total_count != 1 else "."))
    if not out:
        out.append("The loss has no sum or mean over entries.")
    return out


def _conventions(c: Context):
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
    defs = c.d.entry_definitions()
    shown = [c.best(t) for t in adjoint_targets(c.d)] + list(defs.values())
    if any(isinstance(e, Apply) and e.op in ("sum", "mean") and e.kw.get("axis") is not None and e.args[0].ndim == 2
           for x in shown for e in walk(x)):
        items.append(r"$\mathbf{1}$ is a vector of ones, as long as the product needs: $\mathbf{1}^\top A$ adds "
                     r"the entries of $A$ down each column (a row of column sums, over axis 0) and $A \mathbf{1}$ "
                     r"adds them along each row (a column of row sums, over axis 1); $\operatorname{diag}(A "
                     r"\mathbf{1})\, B$ multiplies row $i$ of $B$ by the $i$-th row sum of $A$. Where a gradient "
                     r"is a column (a bias of shape $m \times 1$), $A \mathbf{1}$ is that column.")
    used = []   # operations whose printed form needs a word (pick, rows, slices...): each rule says it
    for x in shown:
        for e in walk(x):
            if isinstance(e, Apply) and RULES[e.op].notation and e.op not in used:
                used.append(e.op)
    items += [RULES[op].notation for op in used]
    items += _reductions(c) + _kink_notes(c)
    return [Block("items", items=items)]


def _reads(c: Context, n: str, defs) -> list[str]:
    """The non-parameter arrays an entry reads, in order."""
    out = []
    for v in walk(defs[n]):
        if isinstance(v, Var) and v.name not in c.d.graph.params and v.name not in out:
            out.append(v.name)
    return out


def _table(header, rows) -> Block:
    """A table, with paragraph columns (its formulas wrap) once a cell is long."""
    wide = any(len(cell) > WIDE_CELL for row in rows for cell in row[1:])
    widths = []
    if wide:
        rows = [row[:-1] + [_breakable(row[-1])] for row in rows]
        widths = _column_widths(header, rows)
    return Block("table", header=header, rows=rows, wide=wide, widths=widths)


#: \small text in the document's 11 pt: about 5.5 pt a character; each column has 6 pt of padding on
#: either side; a leading column is at most 150 pt wide (it wraps beyond)
CHAR_PT, PAD_PT, MAX_LEADING_PT = 5.5, 12.0, 150.0


def _plain_length(cell: str) -> int:
    """About how many characters wide a cell prints: a fraction as wide as its longer part."""
    import re

    frac = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
    font = re.compile(r"\\(?:mathrm|mathcal|mathbf|boldsymbol|operatorname|mathit|text)\{([^{}]*)\}")
    for _ in range(8):   # innermost first: a part may itself hold a fraction
        plain = frac.sub(lambda m: max(m.groups(), key=lambda p: len(tex_label(p))), font.sub(r"\1", cell))
        if plain == cell:
            break
        cell = plain
    return len(tex_label(cell))


def _column_widths(header, rows) -> list[str]:
    """Each column's width as a LaTeX dimension: the leading ones as wide as their longest cell (in pt),
    the last (the formulas) what remains of \\linewidth, whatever the page (a fragment input into a
    narrower document too). A fixed 0.68\\linewidth for the last column ran makemore's forward table
    27 pt off the page once its Input column held two long names."""
    leading = []
    for k in range(len(header) - 1):
        chars = max(_plain_length(str(cell)) for cell in [header[k]] + [r[k] for r in rows])
        leading.append(min(MAX_LEADING_PT, round(chars * CHAR_PT + 2)))
    rest = sum(leading) + len(header) * PAD_PT + 2
    return [f"{w:g}pt" for w in leading] + [f"\\dimexpr\\linewidth-{rest:g}pt\\relax"]


def _claimed(block: Block, targets: list, kind: str, lhs: list, exprs: list) -> Block:
    """``block`` (a table) with the equality each row states: its last cell, as printed."""
    block.claims = [Claim(t, kind, row[-1].strip("$"), left, expr=e)
                    for t, row, left, e in zip(targets, block.rows, lhs, exprs)]
    return block


def _forward(c: Context):
    defs = c.d.entry_definitions()
    named, names = [], entry_names(c.d)
    for n in names:
        reads = _reads(c, n, defs)
        named.append([math(c.name(n)), math(", ".join(c.name(r) for r in reads)),
                      math(c.tex(defs[n]))])
    return [_claimed(_table(["Node", "Input", "Output"], named), names, "value", [c.name(n) for n in names],
                     [defs[n] for n in names])]


def _gradients(c: Context):
    params = list(c.d.graph.params)
    named_rows = [[math(c.name(n)), math(c.size(n)), math(c.tex(c.best(n)))] for n in params]
    others = [t for t in adjoint_targets(c.d) if t not in c.d.graph.params]
    inner = [[math(c.adj(t)), math(c.size(t)), math(c.tex(c.best(t)))] for t in others]
    return [Block("text", text="In named intermediates and their adjoints:"),
            _claimed(_table(["Parameter", "Shape", "Gradient"], named_rows), params, "adjoint",
                     [c.adj(n) for n in params], [c.best(n) for n in params]),
            *([Block("text", text="The adjoints those use:"),
               _claimed(_table(["Adjoint", "Shape", "Value"], inner), others, "adjoint",
                        [c.adj(t) for t in others], [c.best(t) for t in others])] if inner else [])]


def _breakable(text: str) -> str:
    """Inline math TeX may break at + and -: no \\left...\\right group holding the line together."""
    return text.replace(r"\left(", "(").replace(r"\right)", ")")


def _expanded(c: Context):
    """Every node and gradient in inputs and parameters only (an appendix)."""
    values = c.d.expanded_values()
    lines, skipped, claims = [], [], []

    def add(lhs, e, target, kind):
        text = c.tex(e)
        if len(text) > EXPANDED_LIMIT:
            skipped.append(math(lhs))
        else:
            lines.append((lhs, _breakable(text)))
            claims.append(Claim(target, kind, lines[-1][1], lhs, expr=e))

    for n in entry_names(c.d):
        if n in values:
            add(c.name(n), values[n], n, "value")
    grads = c.expanded_best()
    for n in c.d.graph.params:
        add(c.adj(n), grads[n], n, "adjoint")
    blocks = [Block("text", text="Each node and gradient with the named intermediates substituted, "
                    "in inputs and parameters only.")]
    if lines:
        blocks.append(Block("lines", rows=lines, claims=claims))
    if skipped:
        blocks.append(Block("text", text=f"Not printed, being over {EXPANDED_LIMIT} characters of LaTeX "
                            "(substitute the forward pass into the named forms above): "
                            + ", ".join(skipped) + "."))
    return blocks


_BUILDERS = {"shapes": _shapes, "conventions": _conventions, "forward": _forward,
             "gradients": _gradients, "chain": chain_section, "fused": fused_section, "entries": entries_section,
             "expanded": _expanded}

TITLES = {"graph": "Computation graph", "shapes": "Shapes", "conventions": "Conventions",
          "forward": "Forward pass", "gradients": "Gradients", "chain": "The chain rule, step by step",
          "fused": "Fused forms", "entries": "Entry by entry", "expanded": "Fully expanded forms"}


def build(d: Derivation, printer: LatexIRPrinter, *, sections=None, layout: str = "numerator",
          graph_file: str | None = None) -> Writeup:
    """Prepare every selected section of the write-up of ``d``."""
    if layout not in LAYOUTS:
        raise SymgradError(f"unknown Jacobian layout {layout!r}; use one of: {', '.join(LAYOUTS)}")
    chosen = list(SECTIONS) if sections is None else list(sections)
    for s in chosen:
        if s not in SECTIONS:
            raise SymgradError(f"unknown section {s!r}; sections are: {', '.join(SECTIONS)}")
    c = Context(d, printer, layout)
    out = []
    for key in chosen:
        blocks = _graph(c, graph_file) if key == "graph" else _BUILDERS[key](c)
        if blocks:
            for b in blocks:
                if b.kind == "align":
                    b.rows = break_rows(b.rows)
            out.append(Section(key, TITLES[key], blocks))
    return Writeup(d.spec.name, d.spec.description, out)
