"""The specs bundled for the cs231n and cs224n_word2vec profiles (symgrad/specs/courses/):
each checked by finite differences and proven (`symgrad check`, `symgrad prove`), and its
answer key (`symgrad latex --standalone`) compiled with pdflatex.

They are loaded by name but not listed with the bundled specs; see
symgrad.spec.course_spec_names.
"""

import re
import shutil
import subprocess

import pytest

from symgrad.cli import main
from symgrad.spec import bundled_names, course_spec_names

COURSE_SPECS = ["cs231n_affine", "cs231n_softmax", "cs231n_svm", "cs231n_batchnorm", "cs231n_layernorm",
                "cs231n_two_layer", "word2vec_naive", "word2vec_negsample"]


def test_the_course_specs_are_there_and_apart_from_the_bundled_list():
    assert set(COURSE_SPECS) <= set(course_spec_names())
    assert not set(COURSE_SPECS) & set(bundled_names())


@pytest.mark.parametrize("name", COURSE_SPECS)
def test_check_and_prove(name, capsys):
    assert main(["check", name]) == 0
    out = capsys.readouterr().out
    assert "all gradients check" in out and "proven" in out
    assert main(["prove", name]) == 0


@pytest.mark.parametrize("name", course_spec_names())   # every course's spec: makemore's ran 27 pt off the page
def test_answer_key_compiles(name, tmp_path, capsys):
    if shutil.which("pdflatex") is None:
        pytest.fail("pdflatex is not installed")
    assert main(["latex", name, "--standalone", "-o", str(tmp_path / f"{name}.tex")]) == 0
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    assert "Undefined control sequence" not in log
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide", log)]
    assert max(widths, default=0.0) <= 1.0, widths


def test_the_derivation_questions_answered(capsys):
    """The softmax loss's dL/dx and word2vec's gradients appear in the keys, by their display names."""
    main(["latex", "word2vec_naive"])
    text = capsys.readouterr().out
    assert r"\frac{\partial \mathcal{L}}{\partial v_c}" in text and r"\frac{\partial \mathcal{L}}{\partial U}" in text
    main(["latex", "word2vec_negsample"])
    text = capsys.readouterr().out
    assert r"\sigma_o" in text and r"\operatorname{scatter}" in text    # repeated samples add up
    main(["latex", "cs231n_softmax"])
    assert r"\frac{\partial \mathcal{L}}{\partial \mathrm{logp}}" in capsys.readouterr().out
