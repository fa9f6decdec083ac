r"""LaTeX as people type it (issue 16): every form reads as the same tree as
the same answer written the long way, with braces and plain commands."""

import pytest

from symgrad.errors import ParseError
from symgrad.verify.answer import verify_tree
from symgrad.verify.env import load_derivation
from symgrad.verify.latex import parse_latex

# (spec, as people type it, the long way the reader always accepted)
FORMS = [
    ("multiclass", r"\mathbf y", r"\mathbf{y}"),
    ("multiclass", r"\hat{\mathbf p}", r"\hat{\mathbf{p}}"),
    ("multiclass", r"\boldsymbol{h}", r"\mathbf{h}"),
    ("multiclass", r"\bm{h}", r"\mathbf{h}"),
    ("multiclass", r"\bm h", r"\mathbf{h}"),
    ("multiclass", r"\frac{\partial \mathcal{L}}{\partial \mathbf{z}}", r"\frac{\partial L}{\partial \mathbf{z}}"),
    ("multiclass", r"\dfrac{\mathbf{h}}{2}", r"\frac{\mathbf{h}}{2}"),
    ("multiclass", r"\tfrac12\mathbf{h}", r"\frac{1}{2}\mathbf{h}"),
    ("multiclass", r"\sqrt{\mathbf h\odot\mathbf h+2}", r"\left(\mathbf h\odot\mathbf h+2\right)^{1/2}"),
    ("ridge_regression", r"\sqrt{\lambda+1}", r"\left(\lambda+1\right)^{1/2}"),
    ("multiclass", r"\tanh^2(\mathbf z)", r"\left(\tanh(\mathbf z)\right)^{2}"),
    ("multiclass", r"\sum_{i=1}^{n} \mathbf h", r"\sum \mathbf{h}"),
    ("multiclass", r"\sum_i \mathbf h", r"\sum \mathbf{h}"),
    ("multiclass", r"\mathbf{1}^\top \mathbf h", r"\sum_{0} \mathbf{h}"),
    ("pset3", r"\vec r^{\,1}", r"\vec{r}^{\,1}"),
    ("multiclass", r"$\mathbf{h}$", r"\mathbf{h}"),
    ("multiclass", r"$$\mathbf{h}$$", r"\mathbf{h}"),
    ("multiclass", "\\mathbf{h} \\\\", r"\mathbf{h}"),
    ("multiclass", r"\frac{\partial L}{\partial \mathbf{b}_2} = \mathbf{h}", r"\mathbf{h}"),
    ("hw1_relu_identity_mse", r"\mathbf{W}^{(2)\top}", r"\left(\mathbf{W}^{(2)}\right)^{\top}"),
    ("hw1_relu_identity_mse", r"\mathbf W^{(2)T}", r"\left(\mathbf{W}^{(2)}\right)^{T}"),
    ("hw1_relu_identity_mse", r"\mathrm{ReLU}(\mathbf z_1)", r"\operatorname{ReLU}(\mathbf{z}_1)"),
    ("titanic", r"\mathbf{1}^\top \mathbf X", r"\sum_{0} \mathbf{X}"),
    ("titanic", r"\mathbf X \mathbf{1}", r"\sum_{1} \mathbf{X}"),
]


def _strip(tree):
    """The tree without columns (the two spellings differ in length)."""
    if isinstance(tree, tuple):
        return tuple(_strip(t) for t in tree)
    if hasattr(tree, "__dataclass_fields__"):
        return (type(tree).__name__,) + tuple(_strip(getattr(tree, f)) for f in tree.__dataclass_fields__
                                              if f != "pos")
    return tree


@pytest.mark.parametrize("spec,typed,long", FORMS, ids=[f[1] for f in FORMS])
def test_typed_form_reads_as_the_long_form(spec, typed, long):
    d = load_derivation(spec)
    assert _strip(parse_latex(typed, d)) == _strip(parse_latex(long, d))


def test_typed_answer_is_judged_correct():
    d = load_derivation("hw1_relu_identity_mse")
    typed = r"$\left(\mathbf{W}^{(2)\top} 2(\hat{\mathbf y}-\mathbf y) \odot \mathbb{1}[\mathbf z_1 > 0]\right)\mathbf x^\top$"
    assert verify_tree(d, "W1", parse_latex(typed, d), time_limit=5).verdict == "correct"


def test_unknown_name_is_named_with_the_accepted_names_and_a_guess():
    d = load_derivation("multiclass")
    with pytest.raises(ParseError) as err:
        parse_latex(r"\hat{\mathbf q} - \mathbf y", d)
    text = str(err.value)
    assert r"'\hat{q}'" in text                      # the name that did not match, not the macro
    assert r"did you mean \hat{p}" in text           # the nearest accepted name
    assert "p (" in text and "W2 (" in text          # the names the spec accepts, with display names


def test_equation_must_name_a_derivative_on_the_left():
    d = load_derivation("multiclass")
    with pytest.raises(ParseError, match="one formula"):
        parse_latex(r"\mathbf h = \mathbf z", d)


def test_ones_row_alone_is_refused():
    d = load_derivation("multiclass")
    with pytest.raises(ParseError, match=r"mathbf\{1\}"):
        parse_latex(r"\mathbf{1}^\top + \mathbf h", d)


def test_juxtaposed_columns_read_element_wise_with_a_warning():
    from symgrad.verify.latex import read_latex
    d = load_derivation("hw1_sigmoid_sigmoid_bce")
    tree, warnings = read_latex(r"\sigma(\mathbf z_1)(1-\sigma(\mathbf z_1))", d)
    assert _strip(tree) == _strip(parse_latex(r"\sigma(\mathbf z_1)\odot(1-\sigma(\mathbf z_1))", d))
    assert warnings and "element-wise" in warnings[0]
    _, none = read_latex(r"\mathbf{z}_1^\top \mathbf{z}_1", d)   # an inner product, written as one
    assert none == []
