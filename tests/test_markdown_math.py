"""The Markdown write-up renders on GitHub and in Jupyter: both typeset math with
MathJax (GitHub: MathJax 3 with its default TeX packages; Jupyter: MathJax or
KaTeX), which know the core TeX and AMS math macros but no LaTeX package a
document preamble loads (no tabular, no \\bm, no \\mathds, no user macros).

ALLOWED lists every macro the write-ups use today, each one in MathJax's base or
ams package (https://docs.mathjax.org/en/latest/input/tex/macros/): a new macro
has to be checked against that list before it is added here."""

import re
from pathlib import Path

import pytest

from symgrad import derive
from symgrad.emit.latex_doc import render_markdown

from conftest import BUNDLED

DATA = Path(__file__).parent / "data"
NETS = list(BUNDLED) + [str(p) for p in sorted(DATA.glob("*.toml")) + sorted((DATA / "catalogue").glob("*.toml"))]

#: base package: fractions, fonts, delimiters, Greek letters, operators, spacing, arrows
BASE = {r"\frac", r"\sqrt", r"\left", r"\right", r"\mathbf", r"\mathrm", r"\mathcal", r"\mathsf", r"\mathbb",
        r"\hat", r"\vec", r"\text", r"\partial", r"\odot", r"\top", r"\times", r"\le", r"\dots", r"\quad",
        r"\qquad", r"\sum", r"\exp", r"\log", r"\max", r"\tanh", r"\Rightarrow", r"\ell", r"\pi",
        r"\alpha", r"\beta", r"\gamma", r"\delta", r"\epsilon", r"\lambda", r"\mu", r"\sigma", r"\tau",
        r"\begin", r"\end"}
#: ams package (loaded by default in MathJax 3 and KaTeX): \boldsymbol, \operatorname, aligned, bmatrix
AMS = {r"\boldsymbol", r"\operatorname"}
ALLOWED = BASE | AMS
ENVIRONMENTS = {"aligned", "bmatrix", "pmatrix"}


@pytest.mark.parametrize("spec", NETS, ids=[Path(n).stem for n in NETS])
def test_markdown_uses_only_macros_mathjax_knows(spec):
    text = render_markdown(derive(spec))
    assert "tabular" not in text
    assert set(re.findall(r"\\[A-Za-z]+", text)) <= ALLOWED, set(re.findall(r"\\[A-Za-z]+", text)) - ALLOWED
    assert set(re.findall(r"\\begin\{(\w+)\}", text)) <= ENVIRONMENTS
    assert text.count("$$") % 2 == 0
    for line in text.splitlines():
        if line.startswith("|"):   # a table row: its math must not hold a | (it would split the cell)
            for math in re.findall(r"\$([^$]*)\$", line):
                assert "|" not in math, line
            assert line.count("$") % 2 == 0, line

