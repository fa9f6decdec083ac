"""symgrad.verify(spec, wrt, answer): the notebook facade and its HTML."""

import pytest

import symgrad
from symgrad.errors import SymgradError

CORRECT_LATEX = r"2 (y_{\mathrm{pred}} - y) \vec{h}^{1}"   # dL/dW2 of pset3 in its display names


def test_correct_latex_answer():
    v = symgrad.verify("pset3", "W2", CORRECT_LATEX)
    assert (v.verdict, v.language) == ("correct", "latex")
    assert v.read_as_text == "(2 * (y_predicted - y)) * h1"
    assert "correct" in v._repr_html_() and r"\vec{h}^{1}" in v._repr_html_()


def test_wrong_expression_answer_names_the_mistake():
    v = symgrad.verify("pset3", "W2", "(y_predicted - y) * h1")
    assert (v.verdict, v.language) == ("incorrect", "expr")
    assert [d["mistake"] for d in v.diagnosis] == ["missing_factor_2"]
    html = v._repr_html_()
    assert "counterexample" in html and "missing_factor_2" in html


def test_parse_failure_has_its_column_and_is_escaped():
    text = "2 * (y_predicted - <script>alert(1)</script>"
    v = symgrad.verify("pset3", "W2", text)
    assert v.verdict == "unusable" and v.error_column == text.index("<") + 1
    html = v._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_package_is_still_a_package():
    from symgrad.verify.answer import verify_tree
    assert symgrad.verify.answer.verify_tree is verify_tree


def test_unknown_gradient_is_an_error():
    with pytest.raises(SymgradError, match="not a parameter or node"):
        symgrad.verify("pset3", "W9", "x")


@pytest.mark.parametrize("wrt", ["W0", "W1", "h0"])
def test_answer_key_reads_back_as_correct(wrt):
    """The key shown after a correct answer is itself a correct LaTeX answer."""
    from symgrad.verify.answer import truth_text
    from symgrad.verify.env import load_derivation
    right = symgrad.verify("pset3", wrt, truth_text(load_derivation("pset3"), wrt), show_key=True)
    assert right.verdict == "correct" and right.key_latex
    assert symgrad.verify("pset3", wrt, right.key_latex, language="latex").verdict == "correct"
    assert symgrad.verify("pset3", wrt, "W0", show_key=True).key_latex is None


@pytest.mark.parametrize("answer, mistakes", [
    ("U.T @ (y_hat - one_hot(o, W)).T", ["shape_only"]),          # right values as a column
    ("-(U.T @ (y_hat - one_hot(o, W)).T)", ["sign_error"]),      # a column and a second mistake
    ("U.T @ reshape(y_hat - one_hot(o, W), W)", None),           # the right shape: correct
])
def test_an_answer_off_only_by_a_unit_dimension_is_judged_in_the_gradients_shape(answer, mistakes):
    # students write U^T (y_hat - y) with column vectors; v_c is 1-D here, so (D, 1) is not its shape,
    # but the verdict says whether the values are right instead of "unknown"
    v = symgrad.verify("word2vec_naive", "v_c", answer)
    if mistakes is None:
        assert v.verdict == "correct"
    else:
        assert v.verdict == "incorrect" and "shape (D, 1)" in v.message
        assert [d["mistake"] for d in v.diagnosis] == mistakes


@pytest.mark.parametrize("spec, wrt, answer", [
    ("multiclass", "b2", "p"),                                   # p for p - y
    ("multiclass", "W2", "outer(p, h)"),                         # and carried on to a weight
    ("word2vec_naive", "v_c", "U.T @ reshape(y_hat, W)"),        # softmax written out, integer label
    ("cs231n_softmax", "x", "softmax(x, axis=1) / N"),           # log_softmax's adjoint, a mean
])
def test_the_labels_term_left_out_is_named(spec, wrt, answer):
    v = symgrad.verify(spec, wrt, answer)
    assert v.verdict == "incorrect"
    assert [d["mistake"] for d in v.diagnosis] == ["label_term_dropped"]
