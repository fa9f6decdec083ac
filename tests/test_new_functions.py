"""elu, abs, sqrt, rsqrt and swish(x, beta) with a learnable beta: derived, checked, proven."""

import numpy as np
import pytest

from symgrad.check.numeric import load_module
from symgrad.derive import derive
from symgrad.emit.numpy_module import render_module
from symgrad.errors import SymgradError
from symgrad.graph import build_graph
from symgrad.spec import Spec

from language_helpers import checked


def net(hidden, params=None, proof=True):
    s = Spec(name="fn_net", inputs={"X": ["n", 3]}, params={"W1": [3, 4], "W2": [4, 1], **(params or {})},
             nodes={"H": hidden, "out": "H @ W2"}, loss="mean(out**2)")
    return s, checked(s, proof=proof)


@pytest.mark.parametrize("hidden", ["elu(X @ W1)", "elu(X @ W1, 0.5)", "abs(X @ W1)",
                                    "sqrt(1 + (X @ W1)**2)", "rsqrt(1 + (X @ W1)**2)"])
def test_each_function_checks_and_proves(hidden):
    net(hidden)


def test_swish_with_a_learnable_beta():
    s, (d, numeric, _) = net("swish(X @ W1, beta)", {"beta": [4]})
    assert "beta" in [p.name for p in numeric.params]
    m = load_module(render_module(d), "fn_net")
    rng = np.random.default_rng(0)
    p = {"W1": rng.normal(size=(3, 4)), "W2": rng.normal(size=(4, 1)), "beta": rng.normal(size=4)}
    x = rng.normal(size=(5, 3))
    z = x @ p["W1"]
    sig = 1 / (1 + np.exp(-p["beta"] * z))
    dout = 2 * ((z * sig) @ p["W2"]) / 5
    dh = dout @ p["W2"].T
    want = np.sum(dh * z * z * sig * (1 - sig), axis=0)     # d/dbeta of z sigmoid(beta z)
    assert np.allclose(m.loss_and_grads(p, {"X": x})[1]["beta"], want)


def test_elu_matches_its_definition():
    d = derive(Spec(name="e", inputs={"X": [5]}, params={"w": [5]}, nodes={}, loss="sum(elu(X * w, 2))"))
    m = load_module(render_module(d), "e")
    x, w = np.array([-2.0, -0.5, 0.3, 1.0, 2.0]), np.ones(5)
    assert np.isclose(m.forward({"w": w}, {"X": x})["loss"], np.sum(np.where(x > 0, x, 2 * (np.exp(x) - 1))))


def test_a_bad_call():
    with pytest.raises(SymgradError, match="swish takes 2"):
        build_graph(Spec(name="b", inputs={"X": [3]}, params={"w": [3]}, nodes={}, loss="sum(swish(X * w))"))


def test_max_and_min_take_the_first_extremum():
    s = Spec(name="mx", inputs={"X": ["n", 4]}, params={"W": [4, 3]},
             nodes={"Z": "X @ W", "N": "Z - max(Z, axis=1, keepdims=True)"},
             loss="sum(exp(N)) + sum(max(W, axis=0)) - min(W)")
    d, _, _ = checked(s, proof=False)
    m = load_module(render_module(d), "mx")
    w = np.array([[1.0, 2.0, 0.0], [3.0, 2.0, -1.0], [3.0, 0.0, -1.0], [0.0, 1.0, 5.0]])   # ties in columns 0, 1
    x = np.zeros((2, 4))                                    # Z = 0: exp(N) does not depend on W
    want = np.zeros((4, 3))
    want[1, 0] = want[0, 1] = want[3, 2] = 1                # the first maximum of each column
    want[1, 2] -= 1                                         # min(W) = -1, first at (1, 2)
    assert np.allclose(m.loss_and_grads({"W": w}, {"X": x})[1]["W"], want)


def test_the_proof_goes_through_a_max_with_its_convention_as_a_lemma():
    from symgrad.check.proof import prove
    proof = prove(derive(Spec(name="mx", inputs={"X": [3]}, params={"w": [3]}, nodes={}, loss="max(X * w)")))
    assert proof.ok and proof.lemmas == {"max": True}


def test_max_over_a_missing_axis():
    with pytest.raises(SymgradError, match="axis"):
        build_graph(Spec(name="mx", inputs={"X": ["n", 3]}, params={"w": [3]}, nodes={}, loss="sum(max(X * w, axis=2))"))
