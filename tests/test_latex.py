"""LaTeX and Markdown write-ups: golden strings on small cases, the seeds' answers,
no sympy internals, selectable sections and layouts, and pdflatex compiling every
bundled spec's standalone document."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from symgrad import Spec, SymgradError, derive
from symgrad.emit.pdf import compile_pdf
from symgrad.emit.latex_doc import render_fragment, render_latex, render_markdown
from symgrad.emit.latex_sections import SECTIONS, TITLES
from symgrad.figures import graph_image

from conftest import BUNDLED


def bold(*names):
    return {n: r"\mathbf{%s}" % n for n in names}


REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"   # set by .ci/run: never skip there


def _tool(name):
    if shutil.which(name) is None:
        if REQUIRE_TOOLS:
            pytest.fail(f"{name} is not installed (CI installs it)")
        pytest.skip(f"{name} is not installed")


def _doc(spec, **kw):
    return render_latex(derive(spec), **kw)


# -- golden strings on small cases (expected forms written by hand) -------------

def test_affine_square_loss_gradient_is_2_residual_x_transpose():
    """d/dW sum((Wx + b - y)^2) = 2 (W x + b - y) x^T, in the spec's notation."""
    spec = Spec(name="affine", inputs={"x": [3], "y": [2]}, params={"W": [2, 3], "b": [2]}, nodes={},
                loss="sum((W @ x + b - y)**2)", latex=bold("W", "x", "y", "b"))
    text = _doc(spec, sections=["gradients"])
    assert r"$\mathbf{W}$ & $2 \times 3$ & $2 (\mathbf{W} \mathbf{x} + \mathbf{b} - \mathbf{y}) \mathbf{x}^\top$" in text
    assert r"$\mathbf{b}$ & $2$ & $2 (\mathbf{W} \mathbf{x} + \mathbf{b} - \mathbf{y})$" in text


@pytest.mark.parametrize("act, diagonal, element", [
    ("relu", r"\operatorname{diag}\left(\mathrm{1\!\!1}[\mathbf{z} > 0]\right)",
     r"\delta_{ij}\, \mathrm{1\!\!1}[\mathbf{z}_{i} > 0]"),
    ("sigmoid", r"\operatorname{diag}\left(h \odot (1 - h)\right)", r"\delta_{ij}\, h_{i} (1 - h_{i})"),
    ("tanh", r"\operatorname{diag}\left(1 - h^{2}\right)", r"\delta_{ij}\, (1 - h_{i}^{2})"),
])
def test_elementwise_jacobian_is_a_diagonal_with_the_element_formula(act, diagonal, element):
    spec = Spec(name="act", inputs={"x": [3]}, params={"W": [2, 3]},
                nodes={"z": "W @ x", "h": f"{act}(z)"}, loss="sum(h)", latex=bold("z"))
    text = _doc(spec, sections=["chain"])
    assert r"\frac{\partial h}{\partial \mathbf{z}} &= " + diagonal in text
    assert element in text
    # the index-notation identity dJ/dA = dJ/dS (Hadamard) sigma'(A)
    assert r"\Rightarrow \frac{\partial \mathcal{L}}{\partial \mathbf{z}} &= \frac{\partial \mathcal{L}}{\partial h} \odot" in text


def test_softmax_jacobian_is_diag_p_minus_p_p_transpose():
    text = _doc("multiclass", sections=["chain"])
    p = r"\hat{\mathbf{p}}"
    assert rf"\frac{{\partial {p}}}{{\partial \mathbf{{z}}}} &= \operatorname{{diag}}\left({p}\right) - {p} {p}^\top" in text


@pytest.mark.parametrize("layout, jacobian", [
    ("numerator", r"\frac{\partial \mathbf{z}}{\partial h} &= \mathbf{W}" + "\n"),
    ("denominator", r"\frac{\partial \mathbf{z}}{\partial h} &= \mathbf{W}^\top" + "\n"),
])
def test_jacobian_layout_is_selectable(layout, jacobian):
    spec = Spec(name="two", inputs={"x": [3]}, params={"V": [3, 3], "W": [2, 3]},
                nodes={"h": "tanh(V @ x)", "z": "W @ h"}, loss="sum(z**2)", latex=bold("z", "W"))
    text = _doc(spec, sections=["chain"], layout=layout)
    assert jacobian.replace("\n", " \\\\") in text or jacobian in text


def test_unknown_section_and_layout_are_errors():
    d = derive("pset3")
    with pytest.raises(SymgradError, match="unknown section"):
        render_latex(d, sections=["forward", "nonsense"])
    with pytest.raises(SymgradError, match="layout"):
        render_latex(d, layout="sideways")


@pytest.mark.parametrize("section", SECTIONS[1:])
def test_each_section_can_be_selected_alone(section):
    spec = "makemore" if section == "fused" else "hw1_relu_identity_mse"   # only a [fused] table has that section
    text = render_latex(derive(spec), sections=[section])
    titles = [t for t in TITLES.values() if f"\\paragraph*{{{t}}}" in text]   # a fragment's heading
    assert titles == [TITLES[section]]


# -- the seeds' theory questions, read off the generated documents ----------------

def test_001_forward_table_in_inputs_and_parameters_only():
    """The expanded view is its own section (an appendix): --sections forward leaves it out."""
    relu = r"\operatorname{ReLU}(\mathbf{W}^{(1)} \mathbf{x} + \mathbf{b}^{(1)})"
    expanded_z3 = rf"\mathbf{{z}}_3 = \mathbf{{W}}^{{(2)}} {relu} + \mathbf{{b}}^{{(2)}}$"
    text = _doc("hw1_relu_identity_mse", sections=["forward", "expanded"])
    assert expanded_z3 in text
    assert r"$\mathbf{z}_1$ & $\mathbf{x}$ & $\mathbf{W}^{(1)} \mathbf{x} + \mathbf{b}^{(1)}$" in text
    assert expanded_z3 not in _doc("hw1_relu_identity_mse", sections=["forward", "gradients"])


@pytest.mark.parametrize("name, dyhat", [
    ("hw1_relu_identity_mse", r"2 (\hat{\mathbf{y}} - \mathbf{y})"),
    ("hw1_relu_relu_mse", r"2 (\hat{\mathbf{y}} - \mathbf{y})"),
])
def test_001_mse_loss_gradient(name, dyhat):
    text = _doc(name, sections=["chain"])
    assert r"\frac{\partial \mathcal{L}}{\partial \hat{\mathbf{y}}} &= " + dyhat in text


@pytest.mark.parametrize("name", ["hw1_relu_sigmoid_bce", "hw1_sigmoid_sigmoid_bce"])
def test_001_bce_with_sigmoid_fuses_to_yhat_minus_y_over_k(name):
    """sigma'(z) = yhat (1 - yhat) cancels BCE's denominator: dL/dz3 = (yhat - y) / K, K = 2."""
    text = _doc(name, sections=["chain", "gradients"])
    assert r"&= \frac{1}{2} (\hat{\mathbf{y}} - \mathbf{y})" in text
    assert r"\frac{\partial \hat{\mathbf{y}}}{\partial \mathbf{z}_3} &= \operatorname{diag}\left(\hat{\mathbf{y}} \odot (1 - \hat{\mathbf{y}})\right)" in text


def test_multiclass_softmax_nll_fuses_to_p_minus_y():
    text = _doc("multiclass", sections=["chain"])
    assert r"&= \hat{\mathbf{p}} - \mathbf{y}" in text
    assert "one-hot" in text


@pytest.mark.parametrize("identity", [
    r"\Rightarrow \frac{\partial \mathcal{L}}{\partial W_2} &= \frac{\partial \mathcal{L}}{\partial \mathbf{z}} \mathbf{h}^\top",
    r"\Rightarrow \frac{\partial \mathcal{L}}{\partial \mathbf{h}} &= W_2^\top \frac{\partial \mathcal{L}}{\partial \mathbf{z}}",
    r"\Rightarrow \frac{\partial \mathcal{L}}{\partial \mathbf{b}_2} &= \frac{\partial \mathcal{L}}{\partial \mathbf{z}}",
    r"\frac{\partial \mathcal{L}}{\partial \left(W_2\right)_{ij}} &= \sum_r",
])
def test_003_affine_identities_in_index_notation(identity):
    """dJ/dW = (dJ/dy) x^T, dJ/dx = W^T dJ/dy, dJ/db = dJ/dy, each derived from dJ/dW_ij."""
    assert identity in _doc("multiclass", sections=["chain"]).replace(r"\left(W_2\right)", r"\left(W_2\right)")


def test_003_elementwise_identity_hadamard():
    text = _doc("mlp_regression", sections=["chain"])
    # a node shown as L: the loss is \ell, so the two never read as one name
    assert r"\Rightarrow \frac{\partial \ell}{\partial L} &= \frac{\partial \ell}{\partial \mathbf{h}} \odot (1 - \mathbf{h}^{2})" in text


def test_004_gradient_through_the_concatenation_drops_the_ones_column():
    text = _doc("titanic", sections=["chain", "gradients"])
    assert r"\frac{\partial \mathcal{L}}{\partial C} &= \left[\frac{\partial \mathcal{L}}{\partial D}\right]_{:, 1:4}" in text
    assert r"\frac{\partial \mathcal{L}}{\partial \hat{\mathbf{y}}} &= \frac{2}{n} (\hat{\mathbf{y}} - \mathbf{y})" in text
    assert r"$\mathbf{W}^{(1)}$ & $4 \times 4$ & $A^\top \frac{\partial \mathcal{L}}{\partial B}$" in text


def test_pset3_entry_partial_w1_0_2():
    """dl/dw^1_{0,2} = dl/dr^1_0 h^0_2 (r^1 = W^1 h^0), then 2 (y_pred - y) w^2_0 1[r^1_0 > 0] h^0_2."""
    text = _doc("pset3", sections=["entries"])
    line = (r"\frac{\partial \mathcal{L}}{\partial \left(W^{1}\right)_{0,2}} &= "
            r"\frac{\partial \mathcal{L}}{\partial \left(\vec{r}^{\,1}\right)_{0}} \left(\vec{h}^{0}\right)_{2}")
    assert line in text
    forward = text.split(line, 1)[1].split("\\\\", 2)[1]
    for factor in [r"\left(W^{2}\right)_{0}", r"\left(\vec{h}^{0}\right)_{2}", r"y_{\mathrm{pred}}",
                   r"\mathrm{1\!\!1}[\left(\vec{r}^{\,1}\right)_{0} > 0]"]:
        assert factor in forward


# -- hygiene ------------------------------------------------------------------------

FORBIDDEN = ["ArrayAdd", "PermuteDims", "Lambda", "mapsto", "Heaviside", "cosh", "operatorname{step}",
             "operatorname{sigmoid}", "Piecewise", "mathbb{1}", "d_", "None"]


@pytest.mark.parametrize("name", BUNDLED)
def test_no_sympy_internals_in_any_output(name):
    d = derive(name)
    for text in (render_latex(d, standalone=True, graph_file="g.pdf"), render_markdown(d), render_fragment(d),
                 render_latex(d, layout="denominator")):
        body = "\n".join(line for line in text.splitlines() if not line.startswith(("%", "<!--", "# ")))
        for bad in FORBIDDEN:
            assert bad not in body, (name, bad)


def test_markdown_has_display_math_and_tables():
    text = render_markdown(derive("hw1_relu_relu_mse"))
    assert "$$\n\\begin{aligned}" in text
    assert "| Node | Input | Output |" in text
    assert "tabular" not in text


def test_jupyter_reprs():
    d = derive("linear_regression")
    assert d._repr_latex_().lstrip().startswith("$$\\begin{aligned}")
    assert d._repr_markdown_() == render_markdown(d)


def test_output_is_deterministic():
    a = render_latex(derive("titanic"), standalone=True, graph_file="t.pdf")
    b = render_latex(derive("titanic"), standalone=True, graph_file="t.pdf")
    assert a == b


def test_description_is_escaped_for_latex():
    spec = Spec(name="odd", inputs={"x": [2]}, params={"w": [2]}, nodes={}, loss="sum(w * x)",
                description="50% of a_b & c -> #1 {x} ~ $")
    text = _doc(spec, standalone=True)
    assert r"50\% of a\_b \& c -$>$ \#1 \{x\} \~{} \$" in text


# -- pdflatex on every bundled spec -------------------------------------------------

def test_every_bundled_standalone_document_compiles_and_page_one_is_not_blank(tmp_path, foreign_spec_path):
    _tool("pdflatex")
    _tool("dot")
    _tool("pdftoppm")
    problems = []
    for name in BUNDLED + ["foreign"]:
        d = derive(str(foreign_spec_path) if name == "foreign" else name)
        (tmp_path / f"{name}.tex").write_text(render_latex(d, standalone=True, graph_file=f"{name}-graph.pdf"))
        (tmp_path / f"{name}-graph.pdf").write_bytes(graph_image(d, "pdf"))
        proc = compile_pdf(tmp_path / f"{name}.tex")
        log = (tmp_path / f"{name}.log").read_text(errors="replace")
        errors = [line for line in log.splitlines() if line.startswith("!") or "Undefined control" in line
                  or re.search(r"LaTeX (Warning|Error).*(undefined|Undefined)", line)]
        if proc.returncode != 0 or errors:
            problems.append((name, proc.returncode, errors[:3]))
            continue
        assert "graph.pdf" in log, f"{name}: the graph was not included"
    assert not problems, problems
    # page 1 of one document, as pixels: ink on it (text and the graph), not a blank page
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", "titanic.pdf", "page"],
                   cwd=tmp_path, check=True, timeout=60)
    from matplotlib.image import imread
    pixels = imread(tmp_path / "page-1.png")
    ink = float((pixels[..., :3].mean(axis=-1) < 0.5).mean())
    assert 0.005 < ink < 0.5, ink
    assert np.unique(pixels[..., :3].reshape(-1, 3), axis=0).shape[0] > 2   # the graph's fills, not only black


def test_latex_fragment_compiles_inside_a_minimal_document(tmp_path):
    _tool("pdflatex")
    body = render_latex(derive("pset3"), layout="denominator")
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{amsmath,amssymb,array,graphicx}\n"
                                      "\\begin{document}\n" + body + "\n" + render_fragment(derive("pset3"))
                                      + "\\end{document}\n")
    proc = compile_pdf(tmp_path / "doc.tex")
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_loss_display_name_comes_from_the_latex_table():
    spec = Spec(name="named", inputs={"x": [2]}, params={"w": [2]}, nodes={}, loss="sum((w * x)**2)",
                latex={"loss": r"\ell"})
    text = _doc(spec, sections=["chain"])
    assert r"\frac{\partial \ell}{\partial w}" in text and r"\mathcal{L}" not in text
