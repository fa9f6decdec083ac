"""Shared pieces of a write-up: the blocks a section is made of, and the context
(derivation, printer, layout, steps) every section builder reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import names as naming
from ..derive import Derivation
from ..errors import SymgradError
from ..ir import Var, walk
from ..rewrite import substitute
from ..rules.core import MUL, Printed, wrap
from ..rules.linalg import transposed_latex
from ..spec import LOSS
from .latex_steps import Step, adjoint_targets, chain_steps, tidy, total
from .printers import LatexIRPrinter


def T(text: str) -> str:
    """text^\\top, safe when text already has a superscript."""
    return transposed_latex(Printed(text))


@dataclass(frozen=True)
class Claim:
    """One equality a block displays, as data for ``symgrad latex --check``.

    Attributes:
        target: The array the equality is about (a node, parameter or ``loss``).
        kind: ``adjoint`` (tex is dL/d<target>), ``value`` (tex is <target>'s value)
            or ``entry`` (a scalar entry of dL/d<target>; see ``value``).
        tex: The right-hand side exactly as the block prints it.
        lhs: The left-hand side as printed (names the formula in messages).
        entry: For ``entry`` claims, (index, sympy expression over the symbols the
            entry section drew, {symbol: what it stands for}).
        expr: The IR the right-hand side prints, where there is one (checked as data
            when the text uses notation the reader has no grammar for: a bmatrix).
    """

    target: str
    kind: str
    tex: str
    lhs: str
    entry: tuple | None = None
    expr: object = None


@dataclass
class Block:
    kind: str                      # text | items | table | align | figure
    text: str = ""
    items: list = field(default_factory=list)
    header: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    wide: bool = False             # a table with long formulas (paragraph columns)
    widths: list = field(default_factory=list)   # a wide table's column widths (LaTeX dimensions)
    claims: list = field(default_factory=list)   # the equalities it states (Claim), for --check


@dataclass
class Section:
    key: str
    title: str
    blocks: list


@dataclass
class Writeup:
    name: str
    description: str   # the spec's, Untrusted: each template escapes it for its output
    sections: list


def loss_name(d: Derivation) -> str:
    """The loss's display name: the spec's [latex] ``loss`` entry, else a calligraphic L, else
    (a node already shows as L, and the two would read as one name) \\ell."""
    if LOSS in d.spec.latex:
        return d.spec.latex[LOSS]
    shown = {d.spec.latex.get(n, n) for n in d.graph.variables()}
    return r"\ell" if "L" in shown else r"\mathcal{L}"


def math(text: str) -> str:
    """text in inline math mode: $text$; nothing for no text ("$$" opens display math in a paragraph
    cell: a forward table's empty Input cell stopped pdflatex)."""
    return f"${text}$" if text else ""


class Context:
    """What every section builder needs: the derivation, printer and options."""

    def __init__(self, d: Derivation, printer: LatexIRPrinter, layout: str):
        # The write-up follows the spec as written (the textbook chain rule);
        # the stable rewrites the generated code uses are shown as a step of their own.
        self.fusions = list(d.fusions)
        self.fused = d
        self.d = d = d.textbook
        self.p = printer
        self.layout = layout
        self.loss = loss_name(d)
        self.variables = d.graph.variables()
        self.steps = chain_steps(d)
        self._best: dict = {}

    def best(self, t: str):
        """The adjoint of t at entry level, in its shortest proven form (fused where it collapses)."""
        if t not in self._best:
            ss = self.steps[t]
            from .latex_collapse import inline_collapse
            fused = fused_form(self, t, ss) or inline_collapse(self, ss)
            self._best[t] = fused[2] if fused else tidy(total(ss))
        return self._best[t]

    def expanded_best(self) -> dict:
        """Every entry-level adjoint in inputs and parameters only, from :meth:`best`."""
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
        names, mapping = {}, {}
        for v in walk(e):
            if isinstance(v, Var) and v.ndim and v.role != "adjoint":
                key = f"{v.name}__{idx}"
                names[key] = self.elem(v.name, idx)
                mapping[v.name] = Var(key, (), "node")
        printer = LatexIRPrinter({**self.p.names, **names}, self.p.adjoint)
        try:
            return wrap(printer.print(substitute(e, mapping)), MUL)
        except SymgradError:   # not element-wise all through (relu'(W x + b)): the entry of the whole
            return r"\left(%s\right)_{%s}" % (self.tex(e), idx)


def fused_form(c: Context, t: str, ss: list[Step]):
    """A step that collapses when its upstream adjoint is put in (sigmoid + BCE, softmax + NLL),
    or a composite loss's gradient in its closed form (cross-entropy of logits: P - Y)."""
    if len(ss) == 1 and ss[0].kind == "gradient":
        from .latex_collapse import gradient_collapse
        found = gradient_collapse(c, t, ss[0].expr)
        return (None, found[1], found[0]) if found else None
    if len(ss) != 1 or ss[0].kind not in ("diagonal", "softmax"):
        return None
    s = ss[0]
    up = c.steps.get(s.source)
    if not up or len(up) != 1 or up[0].kind != "gradient":
        return None
    combined = substitute(s.expr, {naming.adjoint(s.source): up[0].expr})
    return _collapse(c, combined, s.source)


def _collapse(c: Context, combined, source: str):
    """c (s - y) for an input y shaped like s, checked entry by entry with sympy."""
    import numpy as np
    import sympy as sp

    from ..evaluate import EvalContext, evaluate
    from ..points import proof_sizes, symbolic_array
    ctx = EvalContext(proof_sizes(c.d.graph), symbolic=True)
    values = {v.name: symbolic_array(v.name, ctx.shape(v.shape)) for v in walk(combined) if isinstance(v, Var)}
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


#: a displayed right-hand side longer than this (characters of LaTeX) is broken over lines
LINE_LIMIT = 170


def split_long(rhs: str, limit: int = LINE_LIMIT) -> list[str]:
    """rhs in pieces of about ``limit`` characters, cut before a + or - outside every {}
    group, with \\left( \\right) made plain so the pieces may open and close brackets."""
    if len(rhs) <= limit:
        return [rhs]
    text = rhs.replace(r"\left(", "(").replace(r"\right)", ")")
    cuts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch in "+-" and text[i - 1:i] == " " and text[i + 1:i + 2] == " " \
                and i - start > limit * 0.6:
            cuts.append(i)
            start = i
    if not cuts:
        return [rhs]
    bounds = [0, *cuts, len(text)]
    return [text[a:b].strip() for a, b in zip(bounds, bounds[1:])]


def break_rows(rows: list) -> list:
    """Align rows with every long right-hand side continued on following lines."""
    out = []
    for lhs, rhs in rows:
        pieces = split_long(rhs)
        out.append((lhs, pieces[0]))
        out += [(None, p) for p in pieces[1:]]   # None: a continuation, no "=" (the templates)
    return out
