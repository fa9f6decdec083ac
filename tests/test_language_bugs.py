"""The four spec-language bugs of issue 20, each with a spec that used to fail."""

import subprocess
import sys

import pytest

from symgrad.errors import SpecError
from symgrad.graph import build_graph
from symgrad.spec import Spec

from language_helpers import checked


def test_relu_applied_directly_to_a_parameter_checks():
    # the numeric check read the kink sides from the forward cache, which holds no parameters
    s = Spec(name="relu_param", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={"H": "X @ relu(W)"},
             loss="sum(H**2)")
    _, numeric, _ = checked(s)
    assert [p.name for p in numeric.params] == ["W"]


def test_a_negative_fractional_exponent_in_parentheses():
    s = Spec(name="pw", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={"H": "(X @ W)**2 + 1"},
             loss="sum(H**(-1/2))")
    same = Spec(name="pw", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={"H": "(X @ W)**2 + 1"},
                loss="sum(H**-0.5)")
    assert build_graph(s).node("loss").expr == build_graph(same).node("loss").expr
    checked(s)


def test_size_expressions_in_shapes():
    s = Spec(name="sz", inputs={"X": ["n", "3*E"]}, params={"W": ["3*E", 2], "C": ["V", "E"]}, nodes={},
             loss="sum(X @ W) + sum(C**2)")
    g = build_graph(s)
    assert str(g.params["W"].shape[0]) == "3*E" and set(g.sizes) == {"n", "E", "V"}
    checked(s)


@pytest.mark.parametrize("shape,words", [
    (["n", "3*F"], "'F' in '3*F'"),
    (["n", "3/E"], "may use only integers"),
    (["n", "E-E"], "not an integer between 1"),
    (["n", "1.5*E"], "not an integer"),
])
def test_bad_size_expressions(shape, words):
    with pytest.raises(SpecError, match=words.replace("*", r"\*")):
        Spec(name="sz", inputs={"X": shape}, params={"W": ["E", 2]}, nodes={}, loss="sum(W)")


def test_bessel_correction_written_before_the_sum():
    s = Spec(name="bessel", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={"H": "X @ W"},
             loss="1/(n-1) * sum(H**2)")
    checked(s)
    with pytest.raises(SpecError, match="not finite"):
        build_graph(Spec(name="b", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={},
                         loss="1/(2-2) * sum(X @ W)"))


def test_a_bad_size_on_the_command_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n[inputs]\nX = ["n", "3*F"]\n[params]\nW = [3, 1]\n[loss]\nexpr = "sum(W)"\n')
    run = subprocess.run([sys.executable, "-m", "symgrad", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "'F'" in run.stderr
