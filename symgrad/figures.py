"""Figures: the computation graph of a spec (graphviz) and plots of element-wise
functions with their derivatives (matplotlib).

The graph is written as DOT text from a template and laid out by graphviz's
``dot`` program; one node per input, parameter and spec entry, labelled with
its name and shape. Plots take each function's derivative from the rule table
(the same expression the derivation and generated code use, evaluated by
:mod:`symgrad.evaluate`), never from finite differences. Both outputs are
byte-deterministic: PDF and PNG metadata that would carry a date or version
are left out.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .derive import Derivation
from .emit.latex_steps import entry_names
from .emit.numpy_module import source_label
from .emit.templates import render
from .emit.tex_plain import tex_label
from .errors import SymgradError
from .escape import dot_string
from .ir import Var, show_shape, walk
from .spec import LOSS

GRAPH_FORMATS = ("dot", "svg", "pdf", "png")
PLOT_FORMATS = ("png", "pdf", "svg")


def _dot_string(text: str) -> str:
    """A DOT string; each line of ``text`` escaped by symgrad.escape.dot_string,
    the lines joined by graphviz's own line break."""
    return '"' + "\\n".join(dot_string(line)[1:-1] for line in text.split("\n")) + '"'


def graph_dot(d: Derivation) -> str:
    """The computation graph of ``d`` as the user wrote it (the textbook view: a softmax the
    code fuses into its loss is still drawn), one node per named array, labelled with
    display names (the spec's [latex] table) and the node's formula."""
    from .emit.latex_doc import doc_printer
    fused_defs = d.entry_definitions() if d.fusions else {}
    fused_rules = {f.entry: f.rule for f in d.fusions}
    d = d.textbook
    g = d.graph
    defs = d.entry_definitions()
    printer = doc_printer(d)
    nodes, edges = [], []
    # past sixteen arrays (makemore's 29) a node's shape goes on its name's line and the ranks are
    # packed closer, so that the page keeps the text legible
    compact = len(g.inputs) + len(g.params) + len(entry_names(d)) > 16
    sep = ",  " if compact else "\n"

    def shape_text(shape):
        return "scalar" if not shape else show_shape(shape)

    def name_text(name):
        return "L" if name == LOSS else tex_label(printer.name_latex(name))

    for name, v in g.inputs.items():
        nodes.append({"id": _dot_string(name), "label": _dot_string(f"{name_text(name)}{sep}{shape_text(v.shape)}"),
                      "kind": "input"})
    for name, v in g.params.items():
        nodes.append({"id": _dot_string(name), "label": _dot_string(f"{name_text(name)}{sep}{shape_text(v.shape)}"),
                      "kind": "param"})
    variables = g.variables()
    for name in entry_names(d):
        shape = variables[name].shape
        formula = tex_label(printer.doprint(defs[name]))
        label = f"{name_text(name)} = {formula}{sep}{shape_text(shape)}"
        nodes.append({"id": _dot_string(name), "label": _dot_string(label),
                      "kind": "loss" if name == LOSS else "node"})
        seen = _reads(defs[name])
        in_code = _reads(fused_defs[name]) if name in fused_rules and name in fused_defs else seen
        for v in seen:
            edges.append({"src": _dot_string(v), "dst": _dot_string(name),
                          "style": "" if v in in_code else "dashed", "label": ""})
        for v in in_code:   # a fusion marked, not rewired: the code's shortcut drawn apart, dotted
            if v not in seen:
                edges.append({"src": _dot_string(v), "dst": _dot_string(name), "style": "dotted", "label": ""})
        if name in fused_rules:   # said once, on the node: the code computes it by a stable rewrite
            nodes[-1]["kind"] += " fused"
            nodes[-1]["label"] = _dot_string(f"{label}\n(code: stable {fused_rules[name].replace('_', ' ')})")
    # past six arrays (or long formulas) a left-to-right chain gets too wide for a page and its text too small
    # a big graph's leaves sit beside their first reader instead of all on the top rank (too wide)
    beside = []
    if compact:
        leaves = {n["id"] for n in nodes if n["kind"] in ("input", "param")}
        placed = set()
        for e in edges:
            if e["src"] in leaves and e["src"] not in placed:
                placed.add(e["src"])
                beside.append([e["src"], e["dst"]])
    return render("figures/graph.dot.j2", beside=beside, source=source_label(d.spec), name=d.spec.name,
                  nodes=nodes, edges=edges, rankdir="LR" if len(nodes) <= 6 and _line_total(nodes) <= 70 else "TB",
                  nodesep=0.12 if compact else 0.3, ranksep=0.12 if compact else 0.45,
                  node_extra=', margin="0.06,0.02", height=0.3' if compact else "")


def _line_total(nodes) -> int:
    """The characters of every node's longest label line: about the width of a left-to-right chain."""
    return sum(max(len(line) for line in n["label"].strip('"').split("\\n")) for n in nodes)


def _reads(e) -> list[str]:
    """The names an expression reads, in order, once each."""
    out = []
    for v in walk(e):
        if isinstance(v, Var) and v.name not in out:
            out.append(v.name)
    return out


def _dot_program() -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise SymgradError("graphviz's 'dot' program is not installed; install graphviz "
                           "(e.g. apt-get install graphviz) to draw graphs, or write .dot text instead")
    return exe


def render_dot(dot_text: str, fmt: str) -> bytes:
    """Lay out DOT text with graphviz; returns the image bytes (svg, pdf or png)."""
    if fmt not in GRAPH_FORMATS[1:]:
        raise SymgradError(f"unknown graph format {fmt!r}; use one of: {', '.join(GRAPH_FORMATS)}")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}   # cairo's PDF CreationDate, when it honours it
    proc = subprocess.run([_dot_program(), f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SymgradError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return _strip_pdf_dates(proc.stdout) if fmt == "pdf" else proc.stdout


def _strip_pdf_dates(data: bytes) -> bytes:
    """Replace a PDF's /CreationDate and /ModDate values by a fixed date of the same length
    (same length, so the cross-reference offsets stay valid)."""
    fixed = b"D:19700101000000Z"
    for key in (b"/CreationDate (", b"/ModDate ("):
        i = data.find(key)
        while i >= 0:
            start = i + len(key)
            end = data.find(b")", start)
            if end < 0:
                break
            n = end - start
            data = data[:start] + fixed[:n].ljust(n, b" ") + data[end:]
            i = data.find(key, end)
    return data


def graph_image(d: Derivation, fmt: str) -> bytes | str:
    """The graph in ``fmt``: DOT text (str) or image bytes."""
    text = graph_dot(d)
    return text if fmt == "dot" else render_dot(text, fmt)


# -- plots of element-wise functions ------------------------------------------------

def _function_and_derivative(name: str):
    """Numeric f and f' for the element-wise function ``name`` (f' from the rule table)."""
    import numpy as np

    from .evaluate import EvalContext, evaluate
    from .ir import Const, const
    from .rules import RULES, apply
    from .rules.elementwise import FUNCTIONS, R, X, from_sympy

    if name not in FUNCTIONS or not RULES[name].differentiable(0):
        known = sorted(n for n in FUNCTIONS if RULES[n].differentiable(0))
        raise SymgradError(f"unknown element-wise function {name!r}; known: {', '.join(known)}")
    fn = FUNCTIONS[name]
    defaults = {"slope": 0.01}
    params = {p: defaults[p] for p in fn.params}

    exact = {p: const(v).value for p, v in params.items()}

    def make(points):
        x = Var("x", (len(points),), "input")
        value = apply(name, x, **exact)
        bind = {X: x, R: value}
        bind.update({s: Const(exact[s.name]) for s in fn.param_symbols})
        deriv = from_sympy(fn.derivative, bind)
        ctx = EvalContext({})
        memo: dict = {}
        values = {"x": np.asarray(points, dtype=float)}
        return evaluate(value, values, ctx, memo), np.broadcast_to(evaluate(deriv, values, ctx, memo), (len(points),))

    return fn, params, make


def plot_functions(names, fmt: str = "png") -> bytes:
    """One panel per function: f and f' (from the rule table) on [-4, 4]. Returns image bytes."""
    import io

    try:
        import matplotlib
    except ImportError:
        raise SymgradError("plots need matplotlib: pip install 'symgrad[plot]' (or pip install matplotlib)") \
            from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if fmt not in PLOT_FORMATS:
        raise SymgradError(f"unknown plot format {fmt!r}; use one of: {', '.join(PLOT_FORMATS)}")
    if not names:
        raise SymgradError("name at least one element-wise function to plot")
    prepared = [(n,) + _function_and_derivative(n) for n in names]
    cols = min(len(prepared), 2)
    rows = (len(prepared) + cols - 1) // cols
    # Names are printed literally: never TeX (text.usetex), never mathtext ($...$).
    with matplotlib.rc_context({"svg.hashsalt": "symgrad", "font.size": 10, "text.usetex": False}):
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
        for ax, (name, fn, params, make) in zip(axes.ravel(), prepared):
            xs = np.linspace(-4, 4, 801)
            kinks = [float(k) for k in fn.kinks]
            grid = np.array([x for x in xs if all(abs(x - k) > 1e-12 for k in kinks)])
            f, df = make(grid)
            df = np.array(df, dtype=float)
            # break the derivative's line at a kink instead of drawing a vertical jump
            for k in kinks:
                i = int(np.searchsorted(grid, k))
                grid = np.insert(grid, i, k)
                f = np.insert(np.asarray(f, dtype=float), i, np.nan)
                df = np.insert(df, i, np.nan)
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            ax.plot(grid, f, color="C0", lw=1.8, label=f"{name}(x)")
            ax.plot(grid, df, color="C3", lw=1.8, ls="--", label=f"{name}'(x)")
            for k in kinks:
                fk, dk = make([k])
                ax.plot([k], [float(np.asarray(fk)[0])], "o", color="C0", ms=4)
                ax.plot([k], [float(np.asarray(dk)[0])], "o", color="C3", ms=5,
                        label=f"{name}'({k:g}) = {float(np.asarray(dk)[0]):g}")
            extra = ", ".join(f"{p}={v:g}" for p, v in params.items())
            ax.set_title(f"{name}" + (f" ({extra})" if extra else ""), parse_math=False)
            ax.set_xlim(-4, 4)
            ax.set_xlabel("x")
            ax.grid(True, color="0.93")
            for text in ax.legend(loc="upper left", fontsize=8, frameon=False).get_texts():
                text.set_parse_math(False)
        for ax in axes.ravel()[len(prepared):]:
            ax.set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        metadata = {"png": {"Software": None},
                    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
                    "svg": {"Creator": None, "Date": None}}[fmt]
        fig.savefig(buf, format=fmt, dpi=150, metadata=metadata)
        plt.close(fig)
    return buf.getvalue()
