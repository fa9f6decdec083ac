"""symgrad: every gradient of a network declared as symbolic matrix expressions,
derived with sympy and proven; LaTeX and numpy code from templates; checks.

Pipeline: :func:`load_spec` / :class:`Spec` -> :func:`build_graph` ->
:func:`derive` -> :func:`render_module` (numpy) / LaTeX -> :func:`check`.
"""

from .derive import Derivation, derive
from .errors import ParseError, ShapeError, SpecError, SymgradError
from .graph import Graph, build_graph
from .spec import Spec, bundled_names, load_spec
from . import verify  # noqa: E402 - the package, made callable: symgrad.verify(spec, wrt, answer) (notebooks)
from .verdicts import make_verify_callable  # noqa: E402
make_verify_callable(verify)


def render_module(spec_or_derivation) -> str:
    """The generated numpy module (text) of a spec or derivation."""
    from .emit.numpy_module import render_module as _render
    d = spec_or_derivation if isinstance(spec_or_derivation, Derivation) else derive(spec_or_derivation)
    return _render(d)


def _repr_latex_(d: Derivation) -> str:
    """Jupyter: the gradient tables and chain rule as LaTeX."""
    from .emit.latex_doc import render_repr_latex
    return render_repr_latex(d)


def _repr_markdown_(d: Derivation) -> str:
    """Jupyter: the whole write-up as Markdown with $$ math."""
    from .emit.latex_doc import render_markdown
    return render_markdown(d)


# Display hooks attach here, at the facade, so the derivation (below the emitters) imports none of them.
Derivation._repr_latex_ = _repr_latex_
Derivation._repr_markdown_ = _repr_markdown_

__all__ = ["Spec", "load_spec", "bundled_names", "build_graph", "Graph", "derive", "Derivation",
           "render_module", "verify", "SymgradError", "SpecError", "ParseError", "ShapeError"]
__version__ = "0.1.0"
