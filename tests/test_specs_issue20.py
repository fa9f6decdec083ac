"""The bundled specs of issue 20 (the spec language): each checked, proven and rendered
to a standalone LaTeX document that pdflatex compiles, all through ``python -m symgrad``.

SPECS_ISSUE20 lists them; specs written on other branches are appended at merge. A name is
a bundled or course spec, or a file in tests/specs_issue20/ (softmax_pick waits there: bundled, it enters
every test parametrized over the bundled specs, and some of those draw float values for its
integer labels; see the branch's report).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.emit.pdf import compile_pdf
from symgrad.spec import load_spec

SPECS_ISSUE20 = ["softmax_pick", "makemore", "cs231n_affine", "cs231n_softmax", "word2vec_naive", "word2vec_negsample",
                 "uva_mlp", "elu_net"]
HERE = Path(__file__).parent / "specs_issue20"


def spec_arg(name: str) -> str:
    """The spec as the command line takes it: its file here, else the bundled name."""
    path = HERE / f"{name}.toml"
    return str(path) if path.exists() else name


def symgrad(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symgrad", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.parametrize("name", SPECS_ISSUE20)
def test_the_spec_checks(name):
    run = symgrad("check", spec_arg(name))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all gradients check" in run.stdout


@pytest.mark.parametrize("name", SPECS_ISSUE20)
def test_the_spec_is_proven(name):
    run = symgrad("prove", spec_arg(name))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "proven: every gradient entry" in run.stdout


@pytest.mark.parametrize("name", SPECS_ISSUE20)
def test_the_standalone_latex_compiles(name, tmp_path):
    tex = tmp_path / f"{name}.tex"
    run = symgrad("latex", spec_arg(name), "--standalone", "-o", str(tex))
    assert run.returncode == 0, run.stderr
    pdf = compile_pdf(tex)
    log = tex.with_suffix(".log").read_text(errors="replace")
    assert pdf.returncode == 0, log[-2000:]
    assert tex.with_suffix(".pdf").stat().st_size > 0 and "Undefined control sequence" not in log


def test_softmax_pick_uses_integer_labels_and_the_numpy_pick():
    spec = load_spec(spec_arg("softmax_pick"))
    assert spec.kinds["y"].kind == "label" and "[range(n), y]" in spec.loss
