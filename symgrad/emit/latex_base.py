"""Shared pieces of a write-up: the blocks a section is made of, and the context
(derivation, printer, layout, steps) every section builder reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import names as naming
from ..derive import Derivation, derive
from ..ir import Var, walk
from ..rules.core import MUL, Printed, wrap
from ..rules.linalg import transposed_latex
from ..spec import LOSS
from .latex_steps import adjoint_targets, chain_steps, tidy, total
from .printers import LatexIRPrinter


def T(text: str) -> str:
    """text^\\top, safe when text already has a superscript."""
    return transposed_latex(Printed(text))


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
    description: str   # the spec's, Untrusted: each template escapes it for its output
    sections: list


def _m(text: str) -> str:
    return f"${text}$"


class Context:
    """What every section builder needs: the derivation, printer and options."""

    def __init__(self, d: Derivation, printer: LatexIRPrinter, layout: str):
        # The write-up follows the spec as written (the textbook chain rule);
        # the stable rewrites the generated code uses are shown as a step of their own.
        self.fusions = list(d.fusions)
        if self.fusions:
            d = derive(d.spec, fuse=False)
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
            from .latex_chain import fused_form
            fused = fused_form(self, t, ss)
            self._best[t] = fused[2] if fused else tidy(total(ss))
        return self._best[t]

    def expanded_best(self) -> dict:
        """Every entry-level adjoint in inputs and parameters only, from :meth:`best`."""
        from ..rewrite import substitute
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
        from ..rewrite import substitute
        names, mapping = {}, {}
        for v in walk(e):
            if isinstance(v, Var) and v.ndim and v.role != "adjoint":
                key = f"{v.name}__{idx}"
                names[key] = self.elem(v.name, idx)
                mapping[v.name] = Var(key, (), "node")
        printer = LatexIRPrinter({**self.p.names, **names}, self.p.adjoint)
        return wrap(printer.print(substitute(e, mapping)), MUL)
