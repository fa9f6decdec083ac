"""The bundled specs of issue 20 (the spec language): each checked, proven and rendered
to a standalone LaTeX document that pdflatex compiles, all through ``python -m symgrad``.

SPECS_ISSUE20 lists them; specs written on other branches are appended at merge.
"""

import subprocess
import sys

import pytest

from symgrad.emit.pdf import compile_pdf
from symgrad.spec import load_spec

SPECS_ISSUE20 = ["softmax_pick"]


def symgrad(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symgrad", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.parametrize("name", SPECS_ISSUE20)
def test_the_spec_checks(name):
    run = symgrad("check", name)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all gradients check" in run.stdout


@pytest.mark.parametrize("name", SPECS_ISSUE20)
def test_the_spec_is_proven(name):
    run = symgrad("prove", name)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "proven: every gradient entry" in run.stdout


@pytest.mark.parametrize("name", SPECS_ISSUE20)
def test_the_standalone_latex_compiles(name, tmp_path):
    tex = tmp_path / f"{name}.tex"
    run = symgrad("latex", name, "--standalone", "-o", str(tex))
    assert run.returncode == 0, run.stderr
    pdf = compile_pdf(tex)
    log = tex.with_suffix(".log").read_text(errors="replace")
    assert pdf.returncode == 0, log[-2000:]
    assert tex.with_suffix(".pdf").stat().st_size > 0 and "Undefined control sequence" not in log


def test_softmax_pick_uses_integer_labels_and_the_numpy_pick():
    spec = load_spec("softmax_pick")
    assert spec.kinds["y"].kind == "label" and "[range(n), y]" in spec.loss
