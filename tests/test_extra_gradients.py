"""gradients = [...] and grad = true: the module returns the adjoints of inputs and nodes,
and check compares them with finite differences (DESIGN.md, "Input kinds")."""

import numpy as np
import pytest

from symgrad.check.numeric import check_module, load_module
from symgrad.derive import derive
from symgrad.emit.numpy_module import render_module
from symgrad.errors import SymgradError
from symgrad.spec import Spec

from language_helpers import checked

NET = dict(name="gradsnet", inputs={"X": ["n", 3], "A": {"shape": ["n", 2], "grad": True}},
           params={"W1": [3, 4], "W2": [4, 2]}, nodes={"H": "tanh(X @ W1)", "Z": "H @ W2 + A"},
           loss="mean(Z**2)")


def test_the_module_returns_parameters_then_the_listed_adjoints():
    s = Spec(gradients=["W1", "X", "H"], **NET)
    assert s.extra_gradients == ["X", "H", "A"]
    d, numeric, proof = checked(s)
    assert [p.name for p in numeric.params] == ["W1", "W2", "X", "H", "A"]
    assert {p.name for p in proof.params} == {"W1", "W2", "X", "A"}    # a node's adjoint: differences only


def test_the_adjoints_agree_with_an_independent_formula():
    s = Spec(gradients=["X", "Z"], **NET)
    module = load_module(render_module(derive(s)), "gradsnet")
    rng = np.random.default_rng(3)
    p = {"W1": rng.normal(size=(3, 4)), "W2": rng.normal(size=(4, 2))}
    i = {"X": rng.normal(size=(5, 3)), "A": rng.normal(size=(5, 2))}
    grads = module.loss_and_grads(p, i)[1]
    h = np.tanh(i["X"] @ p["W1"])
    z = h @ p["W2"] + i["A"]
    dz = 2 * z / z.size
    assert np.allclose(grads["Z"], dz) and np.allclose(grads["A"], dz)
    assert np.allclose(grads["X"], (dz @ p["W2"].T * (1 - h ** 2)) @ p["W1"].T)


def test_a_wrong_node_adjoint_fails_the_check():
    s = Spec(gradients=["H"], **NET)
    d = derive(s)
    module = load_module(render_module(d), "gradsnet")
    right = module.backward

    def wrong(params, inputs, cache):
        out = right(params, inputs, cache)
        out["H"] = out["H"] * 1.01
        return out
    module.backward = wrong
    result = check_module(d, module)
    assert not result.ok and [p.name for p in result.params if not p.ok] == ["H"]


@pytest.mark.parametrize("gradients,words", [
    (["Q"], "not a parameter, input or node"),
    ("W1", "must be a list of names"),
    (["X", "X"], "twice"),
])
def test_bad_gradient_lists(gradients, words):
    with pytest.raises(SymgradError, match=words):
        Spec(gradients=gradients, **NET)


def test_an_integer_input_has_no_gradient():
    with pytest.raises(SymgradError, match="never differentiated"):
        Spec(name="g", inputs={"y": {"shape": ["n"], "kind": "label", "classes": 3}}, params={"W": [3]},
             nodes={}, loss="sum(W)", gradients=["y"])


def test_an_input_that_does_not_reach_the_loss():
    with pytest.raises(SymgradError, match="'B' is listed in gradients but does not influence the loss"):
        derive(Spec(name="g", inputs={"B": {"shape": [2], "grad": True}}, params={"W": [3]}, nodes={},
                    loss="sum(W)"))


def test_check_proves_an_input_listed_in_gradients(tmp_path):
    """The proof table has a row for an input listed in `gradients` (it once looked the
    name up among the parameters only and stopped with an internal error)."""
    import subprocess
    import sys
    path = tmp_path / "extra.toml"
    path.write_text('name = "extra"\ngradients = ["W", "X"]\n[inputs]\nX = { shape = [2, 3], grad = true }\n'
                    '[params]\nW = [3, 2]\n[nodes]\nZ = "tanh(X @ W)"\n[loss]\nexpr = "sum(Z**2)"\n')
    done = subprocess.run([sys.executable, "-m", "symgrad", "check", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["X", "(2,", "3)", "6/6", "proven"] in rows
