"""LaTeX for a derivation: the gradient tables (named and expanded views).

This is the fragment ``symgrad derive`` writes beside the numpy module.
"""

from __future__ import annotations

from ..derive import Derivation
from ..ir import show_shape
from .numpy_module import source_label
from .printers import LatexIRPrinter
from .templates import render


def latex_names(d: Derivation) -> dict:
    return dict(d.spec.latex)


def render_fragment(d: Derivation) -> str:
    printer = LatexIRPrinter(latex_names(d))
    expanded = d.expanded_adjoints()
    rows = []
    for name in d.graph.params:
        rows.append({
            "param": printer.name_latex(name),
            "shape": printer.shape(d.graph.params[name].shape) or "1",
            "named": printer.doprint(d.grad(name)),
            "expanded": printer.doprint(expanded[name]),
        })
    return render("latex/fragment.tex.j2", source=source_label(d.spec), name=d.spec.name,
                  description=d.spec.description, rows=rows)
