"""Label domains (issue 16): verify draws a label from its declared kind, and
says so when an answer is right only under a kind the spec does not state."""

import os
import subprocess
import sys
from pathlib import Path

from symgrad.parse import parse

from symgrad.verify.answer import verify_tree
from symgrad.verify.env import load_derivation


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "symgrad", "verify", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_p_minus_y_is_correct_for_the_onehot_label():
    r = _cli("multiclass", "--wrt", "b2", "--answer", "p - y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("read as: p - y\ncorrect (symbolic)")


def test_batch_style_answer_built_on_p_minus_y_is_proven():
    d = load_derivation("multiclass")
    v = verify_tree(d, "W1", parse("outer((W2.T @ (p - y)) * (1 - h**2), x)"), time_limit=10)
    assert (v.verdict, v.method) == ("correct", "symbolic")


def test_wrong_answer_built_on_p_minus_y_is_diagnosed():
    d = load_derivation("multiclass")
    v = verify_tree(d, "b1", parse("(W2.T @ (p - y)) * (1 - tanh(h)**2)"), time_limit=5)
    assert v.verdict == "incorrect" and "derivative_at_output" in [m["mistake"] for m in v.diagnosis]


def test_undeclared_label_domain_is_named(tmp_path):
    text = (Path(__file__).parent.parent / "symgrad" / "specs" / "multiclass.toml").read_text().replace('y = { shape = [3], kind = "onehot" }', "y = [3]")
    assert "y = [3]" in text
    spec = tmp_path / "mc.toml"
    spec.write_text(text)
    d = load_derivation(str(spec))
    v = verify_tree(d, "b2", parse("p - y"), time_limit=5)
    assert v.verdict == "incorrect"
    assert "each row of y sums to 1: declare y as onehot or simplex" in v.message


def test_a_plain_wrong_answer_gets_no_domain_hint():
    d = load_derivation("multiclass")
    v = verify_tree(d, "b2", parse("p + y"), time_limit=5)
    assert v.verdict == "incorrect" and "sums to 1" not in v.message
