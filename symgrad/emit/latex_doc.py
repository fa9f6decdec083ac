"""LaTeX (and Markdown) write-ups of a derivation.

:func:`render_fragment` is the short gradient table ``symgrad derive`` writes
beside the numpy module. :func:`render_latex` writes the full write-up, as a
fragment or a standalone document, and :func:`render_markdown` the same
content with ``$$`` math for notebooks. Every section is prepared here as data
(:mod:`.latex_sections`); the templates in ``templates/latex`` only place it.
"""

from __future__ import annotations

from ..errors import SymgradError

from ..derive import Derivation
from ..ir import show_shape
from .latex_sections import SECTIONS, Writeup, build
from .numpy_module import source_label
from .printers import LatexIRPrinter
from .templates import render

LOSS_LATEX = r"\mathcal{L}"


def latex_names(d: Derivation) -> dict:
    return dict(d.spec.latex)


def loss_latex(d: Derivation) -> str:
    """The loss's display name: the spec's [latex] ``loss`` entry, else a calligraphic L."""
    from .latex_base import loss_name
    return loss_name(d)


def doc_printer(d: Derivation, names: dict | None = None) -> LatexIRPrinter:
    """The printer every write-up uses: the spec's names, dL/dX as a fraction."""
    printer = LatexIRPrinter({**latex_names(d), **(names or {})})
    loss = loss_latex(d)
    printer.adjoint = lambda name: r"\frac{\partial %s}{\partial %s}" % (loss, printer.name_latex(name))
    return printer


def render_fragment(d: Derivation) -> str:
    """The short gradient table ``symgrad derive`` writes: named (entry-level) and expanded views."""
    from .latex_base import Context
    printer = doc_printer(d)
    c = Context(d, printer, "numerator")
    expanded = c.expanded_best()
    rows = []
    for name in d.graph.params:
        rows.append({
            "param": printer.name_latex(name),
            "shape": printer.shape(d.graph.params[name].shape) or "1",
            "named": printer.doprint(c.best(name)),
            "expanded": printer.doprint(expanded[name]),
        })
    return render("latex/fragment.tex.j2", source=source_label(d.spec), name=d.spec.name,
                  description=d.spec.description, rows=rows, loss=loss_latex(d))


def _writeup(d: Derivation, sections, layout: str, graph_file: str | None) -> Writeup:
    return build(d, doc_printer(d), sections=sections, layout=layout, graph_file=graph_file)


#: heading commands a section title may use: a fragment sits under a problem's own
#: heading (\\paragraph* by default), a standalone document has \\section*
HEADINGS = ("section", "subsection", "subsubsection", "paragraph", "none")


def render_latex(d: Derivation, *, standalone: bool = False, sections=None,
                 layout: str = "numerator", graph_file: str | None = None, heading: str | None = None,
                 title: str | None = None, author: str | None = None) -> str:
    """The write-up of ``d`` as LaTeX.

    Args:
        d: The derivation.
        standalone: A complete document (preamble, title, the graph figure)
            instead of a fragment for ``\\input``.
        sections: Names from :data:`SECTIONS` to include, in that order
            (default: all).
        layout: ``numerator`` or ``denominator``: how Jacobians are shown.
            Gradients are always in denominator layout (shaped like the variable).
        graph_file: The computation graph's image, relative to the document;
            included when it exists at compile time.
        heading: One of :data:`HEADINGS` for the section titles (default: ``section``
            in a standalone document, ``paragraph`` in a fragment).
        title, author: The standalone document's title and author (plain text).
    """
    heading = heading or ("section" if standalone else "paragraph")
    if heading not in HEADINGS:
        raise SymgradError(f"unknown heading level {heading!r}; use one of: {', '.join(HEADINGS)}")
    w = _writeup(d, sections, layout, graph_file if standalone else None)
    return render("latex/document.tex.j2", w=w, standalone=standalone, heading=heading, title=title,
                  author=author, source=source_label(d.spec), shape=show_shape)


def render_repr_latex(d: Derivation) -> str:
    """What Jupyter shows for a Derivation: math blocks only (MathJax renders no tabular)."""
    w = _writeup(d, ["chain"], "numerator", None)
    return render("latex/repr.tex.j2", w=w)


def render_markdown(d: Derivation, *, sections=None, layout: str = "numerator") -> str:
    """The write-up of ``d`` as Markdown with ``$$`` display math (Jupyter, MathJax)."""
    w = _writeup(d, sections, layout, None)
    return render("latex/markdown.md.j2", w=w, source=source_label(d.spec))


__all__ = ["render_fragment", "render_latex", "render_markdown", "SECTIONS", "LOSS_LATEX"]
