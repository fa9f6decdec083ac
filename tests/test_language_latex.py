"""The new forms of the spec language render to LaTeX that pdflatex compiles."""

import shutil

import pytest

from symgrad.derive import derive
from symgrad.emit.latex_doc import render_latex
from symgrad.emit.pdf import compile_pdf
from symgrad.spec import Spec

SPECS = {
    "labels_max": Spec(name="labels_max", inputs={"X": ["n", 4], "y": {"shape": ["n"], "kind": "label", "classes": 3}},
                       params={"W": [4, 3]}, nodes={"Z": "X @ W", "N": "Z - max(Z, axis=1, keepdims=True)"},
                       loss="-mean(log_softmax(N, axis=1) * one_hot(y)) - mean(pick(N, y)) + sum(min(W, axis=0))"),
    "lookup": Spec(name="lookup", inputs={"ix": {"shape": ["B", 3], "kind": "index", "size": 5}},
                   params={"C": [5, 2], "W": [6, 1], "beta": [1]}, gradients=["E"],
                   nodes={"E": "rows(C, ix)", "F": "reshape(E, B, 3*2)"},
                   loss="sum(swish(F @ W, beta)) + sum(elu(C)) + sum(abs(W)) + sum(sqrt(1 + C**2))"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_document_compiles(name, tmp_path):
    assert shutil.which("pdflatex"), "pdflatex is needed to compile the documents"
    (tmp_path / f"{name}.tex").write_text(render_latex(derive(SPECS[name]), standalone=True))
    proc = compile_pdf(tmp_path / f"{name}.tex")
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!") or "Undefined control" in line]
    assert proc.returncode == 0 and not errors, errors[:3]
