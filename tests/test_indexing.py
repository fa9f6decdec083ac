"""Integer labels and indices, reshapes and arrays above 2-D (DESIGN.md, "Indexing and shapes")."""

import subprocess
import sys

import numpy as np
import pytest

from symgrad.check.numeric import load_module
from symgrad.derive import derive
from symgrad.emit.numpy_module import render_module
from symgrad.errors import SymgradError
from symgrad.graph import build_graph
from symgrad.spec import Spec

from language_helpers import checked

LABELS = {"shape": ["n"], "kind": "label", "classes": 3}


def softmax_labels(loss):
    return Spec(name="sl", inputs={"X": ["n", 4], "y": LABELS}, params={"W": [4, 3], "b": [3]},
                nodes={"Z": "X @ W + b", "P": "softmax(Z, axis=1)"}, loss=loss)


def module_of(spec):
    d = derive(spec)
    return load_module(render_module(d), d.spec.name)


def test_softmax_loss_with_integer_labels_via_pick():
    s = softmax_labels("-mean(log(pick(P, y)))")
    checked(s)
    m = module_of(s)
    rng = np.random.default_rng(0)
    p = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    i = {"X": rng.normal(size=(6, 4)), "y": np.array([0, 2, 2, 1, 0, 2])}
    loss, grads = m.loss_and_grads(p, i)
    z = i["X"] @ p["W"] + p["b"]
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert np.isclose(loss, -np.mean(np.log(prob[np.arange(6), i["y"]])))
    dz = (prob - np.eye(3)[i["y"]]) / 6        # the textbook softmax-cross-entropy gradient
    assert np.allclose(grads["W"], i["X"].T @ dz) and np.allclose(grads["b"], dz.sum(axis=0))


def test_one_hot_of_labels():
    checked(softmax_labels("-mean(sum(one_hot(y) * log(P), axis=1))"))


def test_an_embedding_lookup_adds_the_rows_of_repeated_indices():
    s = Spec(name="emb", inputs={"ix": {"shape": ["B", 3], "kind": "index", "size": 5}},
             params={"C": [5, 2], "W": [6, 1]}, gradients=["emb"],
             nodes={"emb": "rows(C, ix)", "cat": "reshape(emb, B, 3*2)"}, loss="sum(tanh(cat @ W))")
    checked(s)
    m = module_of(s)
    rng = np.random.default_rng(1)
    p = {"C": rng.normal(size=(5, 2)), "W": rng.normal(size=(6, 1))}
    ix = np.array([[1, 1, 4], [4, 0, 1]])               # row 1 three times, row 4 twice, rows 2, 3 never
    grads = m.loss_and_grads(p, {"ix": ix})[1]
    want = np.zeros((5, 2))
    for b in range(2):
        for t in range(3):
            want[ix[b, t]] += grads["emb"][b, t]
    assert np.allclose(grads["C"], want) and np.all(grads["C"][[2, 3]] == 0)


def test_an_affine_layer_on_a_4d_input_returns_dx():
    s = Spec(name="affine4", inputs={"X": {"shape": ["N", 2, 3, 4], "grad": True}},
             params={"W": [24, 5], "b": [5]}, nodes={"out": "flatten(X) @ W + b"}, loss="sum(out**2) / 2")
    d, numeric, _ = checked(s)
    assert [p.name for p in numeric.params] == ["W", "b", "X"]
    m = module_of(s)
    rng = np.random.default_rng(2)
    p = {"W": rng.normal(size=(24, 5)), "b": rng.normal(size=5)}
    x = rng.normal(size=(3, 2, 3, 4))
    out = x.reshape(3, -1) @ p["W"] + p["b"]
    assert np.allclose(m.loss_and_grads(p, {"X": x})[1]["X"], (out @ p["W"].T).reshape(x.shape))


def test_the_compiled_step_agrees_on_the_new_operations():
    s = softmax_labels("-mean(log(pick(P, y)))")
    m = module_of(s)
    rng = np.random.default_rng(3)
    p = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    i = {"X": rng.normal(size=(5, 4)), "y": rng.integers(0, 3, 5)}
    loss, grads = m.loss_and_grads(p, i)
    loss2, grads2 = m.make_step()(p, i)
    assert np.isclose(loss, loss2) and all(np.allclose(grads[k], grads2[k]) for k in grads)


BAD = [
    ("-mean(log(pick(P, X)))", "must be an input of kind"),
    ("-mean(y * P)", "holds integers"),
    ("-mean(log(pick(P.T, y)))", "classes = 3, but pick"),
    ("sum(reshape(P, n, 4))", "do not multiply out"),
]


@pytest.mark.parametrize("loss,words", BAD)
def test_bad_uses_of_the_new_forms(loss, words):
    with pytest.raises(SymgradError, match=words):
        build_graph(softmax_labels(loss))


def test_labels_with_more_classes_than_scores():
    s = Spec(name="sl", inputs={"X": ["n", 4], "y": {"shape": ["n"], "kind": "label", "classes": 4}},
             params={"W": [4, 3]}, nodes={"Z": "X @ W"}, loss="sum(pick(Z, y))")
    with pytest.raises(SymgradError, match="classes = 4.*3 along axis 1"):
        build_graph(s)


def test_a_bad_reshape_on_the_command_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n[inputs]\nX = ["n", 2, 3]\n[params]\nW = [5, 1]\n'
                    '[nodes]\nF = "reshape(X, n, 5)"\n[loss]\nexpr = "sum(F @ W)"\n')
    run = subprocess.run([sys.executable, "-m", "symgrad", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "do not multiply out" in run.stderr


def test_the_makemore_net_with_its_intermediate_adjoints():
    nodes = {
        "emb": "rows(C, ix)", "embcat": "flatten(emb)", "hprebn": "embcat @ W1 + b1",
        "bnmeani": "mean(hprebn, axis=0, keepdims=True)", "bndiff": "hprebn - bnmeani",
        "bnvar": "1/(B-1) * sum(bndiff**2, axis=0, keepdims=True)", "bnraw": "bndiff * (bnvar + 1e-5)**(-1/2)",
        "hpreact": "bngain * bnraw + bnbias", "h": "tanh(hpreact)", "logits": "h @ W2 + b2",
        "norm_logits": "logits - max(logits, axis=1, keepdims=True)", "counts": "exp(norm_logits)",
        "probs": "counts / sum(counts, axis=1, keepdims=True)", "logprobs": "log(probs)",
    }
    s = Spec(name="makemore", inputs={"ix": {"shape": ["B", 3], "kind": "index", "size": 7},
                                       "y": {"shape": ["B"], "kind": "label", "classes": 7}},
             params={"C": [7, 2], "W1": [6, 5], "b1": [5], "bngain": [1, 5], "bnbias": [1, 5], "W2": [5, 7],
                     "b2": [7]},
             nodes=nodes, loss="-mean(pick(logprobs, y))", gradients=list(nodes))
    d, numeric, _ = checked(s, proof=False)
    assert {p.name for p in numeric.params} == set(nodes) | set(s.params)
    assert all(p.ok for p in numeric.params)


def test_word2vec_negative_sampling_with_repeated_samples():
    s = Spec(name="w2v", inputs={"o": {"shape": [1], "kind": "index", "size": 6},
                                  "neg": {"shape": [5], "kind": "index", "size": 6}},
             params={"v": [3], "U": [6, 3]}, gradients=["un"],
             nodes={"uo": "rows(U, o)", "un": "rows(U, neg)"},
             loss="-sum(log(sigmoid(uo @ v))) - sum(log(sigmoid(-(un @ v))))")
    checked(s)
    m = module_of(s)
    rng = np.random.default_rng(4)
    p = {"v": rng.normal(size=3), "U": rng.normal(size=(6, 3))}
    neg = np.array([2, 2, 5, 2, 0])                     # sample 2 drawn three times
    grads = m.loss_and_grads(p, {"o": np.array([1]), "neg": neg})[1]
    sig = 1 / (1 + np.exp(-(p["U"][neg] @ p["v"])))
    want = np.zeros((6, 3))
    np.add.at(want, neg, sig[:, None] * p["v"])
    sig_o = 1 / (1 + np.exp(-(p["U"][1] @ p["v"])))
    want[1] += (sig_o - 1) * p["v"]
    assert np.allclose(grads["U"], want)
