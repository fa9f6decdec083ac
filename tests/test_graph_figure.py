"""The graph figure of an answer key: the net as written with the code's fusions marked
(not rewired), and text that stays legible on the page at 10+ nodes."""

import re
import shutil
from pathlib import Path

import pytest

from symgrad import derive
from symgrad.figures import graph_dot, graph_image
from symgrad.spec import course_spec_names

from conftest import BUNDLED

DATA = Path(__file__).parent / "data"
NETS = list(BUNDLED) + [str(p) for p in sorted(DATA.glob("*.toml")) + sorted((DATA / "catalogue").glob("*.toml"))]
NETS += course_spec_names()   # the courses' specs: makemore's 29 arrays, cmu_mlp4's 23
#: the document's text block (letter paper, 2 cm margins) and the figure's share of its height
TEXT_WIDTH, FIGURE_HEIGHT = 498.6, 0.7 * 678.6
NODE_FONT = 14


def test_a_fusion_is_marked_not_rewired():
    """multiclass: the code computes the loss from z by a stable log-softmax; the figure keeps
    p = softmax(z) -> loss as written, dashed, and draws the code's shortcut apart, dotted."""
    text = graph_dot(derive("multiclass"))
    assert '"p" -> "loss" [style=dashed]' in text
    assert '"z" -> "loss" [style=dotted]' in text
    assert re.search(r'"loss" \[label="[^"]*code: stable log softmax[^\n]*dashed', text)
    plain = graph_dot(derive("linear_regression"))
    assert "style=dotted" not in plain and "dashed" not in plain.split("digraph")[1]


@pytest.mark.parametrize("spec", NETS, ids=[Path(n).stem for n in NETS])
def test_graph_text_is_legible_on_the_page(spec):
    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed")
    svg = graph_image(derive(spec), "svg").decode()
    w, h = (float(x) for x in re.search(r'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"', svg).groups())
    scale = min(1.0, TEXT_WIDTH / w, FIGURE_HEIGHT / h)   # \includegraphics[width=\linewidth,height=0.7\textheight]
    assert NODE_FONT * scale >= 8.0, (svg.count('class="node"'), w, h)


def test_catalogue_has_graphs_of_ten_or_more_nodes():
    big = [n for n in NETS if graph_dot(derive(n)).count("label=") - graph_dot(derive(n)).count("code:") >= 10]
    assert len(big) >= 5


@pytest.mark.parametrize("spec", NETS, ids=[Path(n).stem for n in NETS])
def test_graph_labels_hold_no_latex_markup(spec):
    # cs231n_batchnorm's figure said "x̂ = fracxcσ" and "baro" (\frac of \mathrm, \bar): the labels
    # are plain Unicode, so no command name, backslash or brace may be left in them
    labels = re.findall(r'label="((?:[^"\\]|\\.)*)"', graph_dot(derive(spec)))
    assert labels
    for label in labels:
        text = label.replace("\\n", " ").replace("\\l", " ")
        assert not re.search(r"\\|[{}]|frac|mathrm|mathbf|operatorname|\bbar|\bhat\b|tilde|left|right",
                             text), label
