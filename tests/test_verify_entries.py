"""Answers about single entries (issue 16): --wrt "W1[0,2]", entry references in
answers (W2[0,1], x[2]) in the expression language and in LaTeX ((W_1)_{0,2}),
indices checked against the parameter's concrete shape."""

import subprocess
import sys

import numpy as np
import pytest

from symgrad.verify.answer import AnswerError, check_wrt, truth_of, verify_tree
from symgrad.verify.entries import parse_answer, read_entry, split_entries
from symgrad.verify.env import load_derivation, lower_answer, random_points, value_of
from symgrad.verify.latex import parse_latex


def test_entry_spelling_is_read():
    assert read_entry("W1[0,2]") == ("W1", (0, 2))
    assert read_entry("x[ 3 ]") == ("x", (3,))
    assert read_entry("W1[0,-2]") is None and read_entry("W1") is None and read_entry("1[0]") is None


def test_split_keeps_columns():
    text = "2*(yhat[1] - y[1])*z2[2]"
    plain, names = split_entries(text)
    assert len(plain) == len(text) and sorted(names.values()) == ["y[1]", "yhat[1]", "z2[2]"]


def test_entry_of_the_truth_is_the_adjoints_entry():
    d = load_derivation("hw1_relu_identity_mse")
    pts, ctx = random_points(d, 3, 0)
    for p in pts:
        whole = value_of(d.adjoint_var("W2"), p, ctx)
        assert np.isclose(value_of(truth_of(d, "W2[1,2]"), p, ctx), whole[1, 2])


@pytest.mark.parametrize("lang,answer,verdict", [
    ("expr", "2*(yhat[1] - y[1])*z2[2]", "correct"),
    ("expr", "2*(y[1] - yhat[1])*z2[2]", "incorrect"),
    ("expr", "d_W2[1,2]", "correct"),
    ("latex", r"2\left((\hat{\mathbf y})_{1} - (\mathbf y)_{1}\right)(\mathbf z_2)_{2}", "correct"),
    ("latex", r"2\left((\hat{\mathbf y})_{1} - (\mathbf y)_{1}\right)(\mathbf z_2)_{1}", "incorrect"),
])
def test_entry_answer(lang, answer, verdict):
    d = load_derivation("hw1_relu_identity_mse")
    tree = parse_answer(answer) if lang == "expr" else parse_latex(answer, d)
    v = verify_tree(d, "W2[1,2]", tree, time_limit=5)
    assert v.verdict == verdict, v.as_json()
    assert v.expected_shape == "()"


def test_a_sign_error_in_an_entry_is_named():
    d = load_derivation("hw1_relu_identity_mse")
    v = verify_tree(d, "W2[1,2]", parse_answer("2*(y[1] - yhat[1])*z2[2]"), time_limit=5)
    assert "sign_error" in [m["mistake"] for m in v.diagnosis]
    assert v.read_as == "2 * (y[1] - yhat[1]) * z2[2]"


@pytest.mark.parametrize("wrt,words", [
    ("W2[5,0]", "outside 0..1"),      # W2 is 2 x 4
    ("W2[1]", "needs 2 indices"),
    ("Q[0]", "not a parameter"),
])
def test_bad_entries_are_refused(wrt, words):
    d = load_derivation("hw1_relu_identity_mse")
    with pytest.raises(AnswerError, match=words):
        check_wrt(d, wrt)


def test_symbolic_sizes_have_no_entries():
    d = load_derivation("titanic")
    with pytest.raises(Exception, match="symbolic size n"):
        lower_answer(d, parse_answer("D[0,1]"))


def test_cli_entry_and_its_error():
    run = [sys.executable, "-m", "symgrad", "verify", "hw1_relu_identity_mse"]
    ok = subprocess.run(run + ["--wrt", "W2[1,2]", "--answer", "2*(yhat[1] - y[1])*z2[2]"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("read as: 2 * (yhat[1] - y[1]) * z2[2]"), ok.stdout
    bad = subprocess.run(run + ["--wrt", "W2[9,0]", "--answer", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "outside" in bad.stderr and "Traceback" not in bad.stderr


def test_every_help_example_is_judged_correct():
    from symgrad.commands.verify import EXAMPLES
    for spec, wrt, flag, text in EXAMPLES:
        d = load_derivation(spec)
        tree = parse_answer(text) if flag == "--answer" else parse_latex(text, d)
        assert verify_tree(d, wrt, tree, time_limit=5).verdict == "correct", (spec, wrt, text)
