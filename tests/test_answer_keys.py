"""Answer keys for nets a user writes (issue 17): the three nets of the report in
tests/data, each compiled with pdflatex and read for overfull boxes, and each
prose defect of the report pinned by the assertion named after it."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symgrad import derive
from symgrad.cli import main
from symgrad.emit.latex_doc import render_latex

DATA = Path(__file__).parent / "data"
NETS = sorted(p.stem for p in DATA.glob("*.toml"))
CATALOGUE = sorted(DATA.glob("*.toml")) + sorted((DATA / "catalogue").glob("*.toml"))
REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"


def _doc(net, **kw):
    return render_latex(derive(str(DATA / f"{net}.toml")), **kw)


@pytest.mark.parametrize("path", CATALOGUE, ids=[p.stem for p in CATALOGUE])
def test_document_compiles_without_overfull_boxes(path, tmp_path):
    if shutil.which("pdflatex") is None:
        if REQUIRE_TOOLS:
            pytest.fail("pdflatex is not installed (CI installs it)")
        pytest.skip("pdflatex is not installed")
    d = derive(str(path))
    (tmp_path / "doc.tex").write_text(render_latex(d, standalone=True, graph_file="doc-graph.pdf"))
    if shutil.which("dot"):   # the figure too: a graph too tall for the page would be an overfull box
        from symgrad.figures import graph_image
        (tmp_path / "doc-graph.pdf").write_bytes(graph_image(d, "pdf"))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    assert "Undefined control sequence" not in log
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide", log)]
    assert max(widths, default=0.0) <= 1.0, widths


def test_softmax_cross_entropy_with_onehot_labels_is_p_minus_y_over_n():
    text = _doc("batch_tanh_softmax")
    assert r"\frac{1}{n} (\operatorname{softmax}\left(Z\right) - Y)" in text
    for implementation in ("expm1", r"\operatorname{log\,softmax}\left(Z\right)) \odot"):
        assert implementation not in text


def test_softmax_cross_entropy_of_real_labels_states_the_general_form(tmp_path):
    text = (DATA / "batch_tanh_softmax.toml").read_text().replace(
        'Y = { shape = ["n", 3], kind = "onehot" }', 'Y = ["n", 3]')
    assert 'Y = ["n", 3]' in text
    (tmp_path / "real_labels.toml").write_text(text)
    doc = render_latex(derive(str(tmp_path / "real_labels.toml")))
    plain = doc.replace(r"\left", "").replace(r"\right", "")
    assert r"\operatorname{diag}(Y \mathbf{1}) \operatorname{softmax}(Z) - Y" in plain
    assert 'kind = "onehot"' in doc   # says when the familiar form holds


def test_stability_note_is_not_a_tautology():
    for net in ("batch_tanh_softmax", "column_sigmoid"):
        note = _doc(net).split("Numerically stable implementation")[1].split(r"\end{align*}")[0]
        for row in note.split(r"\\"):
            if "&=" in row:
                lhs, rhs = (s.strip() for s in row.split("&=", 1))
                assert lhs not in rhs, row
    assert r"\operatorname{softplus}\left(-(W_2 A_1 + b_2)\right)" in _doc("column_sigmoid")


def test_no_internals_in_any_document():
    for net in NETS:
        text = _doc(net)
        assert "rule table" not in text
        assert "vector-Jacobian" not in text


def test_bias_step_explains_the_broadcast_with_the_nets_own_layout():
    assert r"$\mathbf{b}_1$ is added to every row of the pre-activation" in _doc("batch_tanh_softmax")
    column = _doc("column_sigmoid")
    assert r"$\mathbf{b}_1$ is added to every column of the pre-activation" in column
    assert "rows as examples" not in column


def test_a_broadcast_divisor_is_not_called_added():
    # batch norm's xhat = xc / sigma uses sigma in every row; the key said it was "added to every
    # row of the pre-activation", which is false of a divisor and names a node that is not there
    text = render_latex(derive("cs231n_batchnorm"))
    assert r"$\sigma$ is used in every row of $\hat{x}$ (broadcast over the rows)" in text
    assert r"$\sigma$ is added" not in text


def test_inline_activation_step_gives_the_pre_activation_adjoint():
    text = _doc("batch_tanh_softmax")
    assert (r"$H_2$ applies an element-wise activation to a pre-activation $u$; by the element-wise rule "
            r"the adjoint of $u$ is $\frac{\partial \mathcal{L}}{\partial H_2} \odot (1 - H_2^{2})$") in text


def test_axis_sums_are_defined_and_epsilon_is_a_decimal():
    doc = _doc("batch_tanh_softmax")
    assert r"$\mathbf{1}^\top A$ adds the entries of $A$ down each column" in doc
    assert "operatorname{sum}_" not in doc
    assert r"(a bias of shape $m \times 1$)" in doc
    text = _doc("layernorm_residual")
    assert "10^{-5}" in text and "100000" not in text


def test_fragment_sits_under_a_solution_heading():
    fragment = _doc("column_sigmoid", sections=["gradients"])
    assert r"\section*" not in fragment and r"\paragraph*{Gradients}" in fragment
    assert r"\subsection*{Gradients}" in _doc("column_sigmoid", sections=["gradients"], heading="subsection")
    bare = _doc("column_sigmoid", sections=["gradients"], heading="none")
    assert "Gradients}" not in bare


def test_title_and_author_options(tmp_path, capsys):
    out = tmp_path / "key.tex"
    assert main(["latex", str(DATA / "column_sigmoid.toml"), "--standalone", "--sections", "gradients",
                 "--title", "Problem 3 & its key", "--author", "TA_team", "-o", str(out)]) == 0
    text = out.read_text()
    assert r"\title{Problem 3 \& its key}" in text and r"\author{TA\_team}" in text


def test_sections_drop_only_the_expanded_half():
    named = _doc("batch_tanh_softmax", sections=["forward", "gradients"])
    both = _doc("batch_tanh_softmax", sections=["forward", "gradients", "expanded"])
    assert "Fully expanded" not in named and "Fully expanded" in both
    assert r"X^\top (\frac{\partial \mathcal{L}}{\partial H_1} \odot (1 - H_1^{2}))" in named


def test_bad_heading_level_is_one_clear_message(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["latex", str(DATA / "column_sigmoid.toml"), "--heading-level", "chapter"])
    assert exc.value.code == 2
    assert "--heading-level" in capsys.readouterr().err


def _entry_printer():
    import sympy as sp

    from symgrad.emit.latex_entries import _textbook_printer
    y, yh, x = sp.symbols("y yh x", real=True)
    return _textbook_printer({y: "y", yh: r"\hat{y}", x: "x_0"}), y, yh, x


@pytest.mark.parametrize("make, text", [
    (lambda y, yh, x: yh - y, r"\hat{y} - y"),
    (lambda y, yh, x: -2 * x * (y - yh), r"2 \left(\hat{y} - y\right) x_0"),
    (lambda y, yh, x: 2 * x * (yh - y), r"2 \left(\hat{y} - y\right) x_0"),
    (lambda y, yh, x: -x * (y - yh), r"\left(\hat{y} - y\right) x_0"),
])
def test_entry_lines_put_terms_in_textbook_order(make, text):
    """ŷ − y, not −y + ŷ; the difference before the input, not sympy's x_0 (ŷ − y)."""
    printer, y, yh, x = _entry_printer()
    assert printer.doprint(make(y, yh, x)) == text


def test_entry_section_reads_like_the_textbook():
    doc = render_latex(derive("linear_regression"), sections=["entries"])
    assert r"2 \left(\hat{y} - y\right) \mathbf{x}_{0}" in doc
    pset3 = render_latex(derive("pset3"), sections=["entries"])
    assert r"2 (y_{\mathrm{pred}} - y)" in pset3.replace(r"\left(", "(").replace(r"\right)", ")")
    assert r"(y - y_{\mathrm{pred}})" not in pset3


@pytest.mark.parametrize("path", CATALOGUE, ids=[p.stem for p in CATALOGUE])
def test_no_internals_and_no_leading_negative_difference(path):
    text = render_latex(derive(str(path)))
    assert "rule table" not in text and "vector-Jacobian" not in text
    assert "operatorname{sum}_" not in text      # sums over an axis are 1^T X and X 1 (Conventions)
    assert not re.search(r"(\(|= )- [A-Za-z\\{}_^]+ \+ ", text)   # -y + \hat{y}


def test_binary_labels_collapse_sigmoid_and_bce_in_the_batch_case():
    doc = render_latex(derive(str(DATA / "catalogue" / "batch_sigmoid_bce.toml")), sections=["chain"])
    assert r"\frac{1}{n} (\hat{\mathbf{y}} - \mathbf{y})" in doc.replace(r"\left(", "(").replace(r"\right)", ")")
    assert "cancels against the loss's denominator" in doc


def test_prose_for_normalisation_broadcast_and_transposed_products():
    bn = render_latex(derive(str(DATA / "catalogue" / "batchnorm.toml")), sections=["chain"])
    assert r"$\boldsymbol{\gamma}$ multiplies every row of $S$" in bn
    assert r"$\boldsymbol{\mu}$ is subtracted from every row of $C$" in bn
    assert r"averages the entries of $Z$ down each column" in bn
    assert "pre-activation" not in bn.split(r"Adjoint of $\boldsymbol{\gamma}$")[1].split("Adjoint of")[0]
    att = render_latex(derive(str(DATA / "catalogue" / "attention.toml")), sections=["chain"])
    assert r"S_{ij} = \frac{1}{2} \sum_k Q_{ik}\, K_{jk}" in att
    assert r"\operatorname{diag}\left(A_{i,:}\right) - A_{i,:}^\top A_{i,:}" in att


def _all_nets():
    from symgrad.spec import bundled_names, course_spec_names
    return [str(p) for p in CATALOGUE] + bundled_names() + course_spec_names()


@pytest.mark.parametrize("net", _all_nets(), ids=lambda n: Path(n).stem)
def test_a_sentence_that_points_at_the_display_ends_there(net):
    # with two paths the key read "... gives: $\hat{y}$ is a scalar ..." (ridge_regression, batch
    # norm's xc): a colon that announces the display must end its paragraph
    text = render_latex(derive(net))
    for paragraph in text.split("\n"):
        if "gives:" in paragraph:
            assert paragraph.rstrip().endswith("gives:"), paragraph[:300]


@pytest.mark.parametrize("net", _all_nets(), ids=lambda n: Path(n).stem)
def test_conventions_explain_every_notation_the_key_uses(net):
    # \operatorname{pick}, rows, scatter, reshape, flatten and [A]_{:, a:b} slices appear in course keys;
    # each is explained once in Conventions when (and only when) the document prints it
    from symgrad.rules import RULES
    text = render_latex(derive(net))
    head, rest = text.split("Conventions", 1)[1].split("\\end{itemize}", 1)
    marks = {"one_hot": r"\operatorname{onehot}", "pick": r"\operatorname{pick}", "rows": r"\operatorname{rows}",
             "scatter_rows": r"\operatorname{scatter}", "reshape": r"\operatorname{reshape}",
             "flatten": r"\operatorname{flatten}", "slice": r"\\right\]_\{[^{}]*:"}   # a range: entries have none
    assert set(marks) == {r.name for r in RULES._rules.values() if r.notation}
    for op, mark in marks.items():
        assert (RULES[op].notation in head) == bool(re.search(re.escape(mark) if op != "slice" else mark, rest)), \
            (op, net)
