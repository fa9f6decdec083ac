"""var with a correction, the numpy subscripts (pick, rows, slices) in specs and answers,
abs'(0) = 0, and the compiled step on every operation issue 20 added."""

import numpy as np
import pytest
import sympy as sp

from symgrad.check.numeric import load_module
from symgrad.derive import derive
from symgrad.emit.latex_doc import render_latex
from symgrad.emit.numpy_module import render_module
from symgrad.errors import SymgradError
from symgrad.graph import build_graph
from symgrad.ir import Apply, walk
from symgrad.rules.elementwise import FUNCTIONS, X, prove_derivative
from symgrad.spec import Spec
from symgrad.verify.answer import verify_answer

from language_helpers import checked

LABELS = {"shape": ["n"], "kind": "label", "classes": 3}
INDEX = {"shape": ["n", 2], "kind": "index", "size": 5}


def module_of(spec):
    d = derive(spec)
    return load_module(render_module(d), d.spec.name)


def ops_of(d) -> set:
    exprs = [n.expr for n in d.graph.nodes] + [d.adjoint(t) for t in d.order]
    return {e.op for x in exprs for e in walk(x) if isinstance(e, Apply)}


# ---------------------------------------------------------------- var

VARS = [("var(X @ W)", None, 0, False), ("sum(var(X @ W, axis=0, correction=1))", 0, 1, False),
        ("sum(var(X @ W, axis=1, keepdims=True) * (X @ W))", 1, 0, True),
        ("sum(var(X @ W, axis=1, correction=1, keepdims=True) * (X @ W))", 1, 1, True)]


@pytest.mark.parametrize("loss, axis, correction, keep", VARS)
def test_var_checks_proves_and_matches_numpy(loss, axis, correction, keep):
    s = Spec(name="v", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={}, loss=loss)
    checked(s)                                            # finite differences and the proof
    m = module_of(s)
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 2)), rng.normal(size=(5, 3))
    z = x @ w
    v = np.var(z, axis=axis, ddof=correction, keepdims=keep)
    want = v if axis is None else np.sum(v * z) if keep else np.sum(v)
    assert np.isclose(m.forward({"W": w}, {"X": x})["loss"], want)


def test_var_is_bessel_corrected_like_the_makemore_exercise_writes_it():
    """var(h, axis=0, keepdims=True, correction=1) against 1/(n-1) * sum((h - mean)**2): same values and gradients."""
    def spec(bnvar):
        return Spec(name="bn", inputs={"X": ["n", 3]}, params={"W": [3, 2]},
                    nodes={"h": "X @ W", "d": "h - mean(h, axis=0, keepdims=True)", "v": bnvar},
                    loss="sum(d * rsqrt(v + 1e-5) * h)")
    ours = module_of(spec("var(h, axis=0, keepdims=True, correction=1)"))
    written = module_of(spec("1/(n-1) * sum(d**2, axis=0, keepdims=True)"))
    rng = np.random.default_rng(1)
    p, i = {"W": rng.normal(size=(3, 2))}, {"X": rng.normal(size=(6, 3))}
    (l1, g1), (l2, g2) = ours.loss_and_grads(p, i), written.loss_and_grads(p, i)
    assert np.isclose(l1, l2) and np.allclose(g1["W"], g2["W"])


def test_var_latex_states_the_correction():
    d = derive(Spec(name="v", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={"s": "var(X @ W, axis=0, correction=1)"},
                    loss="sum(s)"))
    assert r"\frac{n}{n - 1} \operatorname{var}_{0}" in render_latex(d)


def test_var_with_nothing_left_to_divide_by():
    with pytest.raises(SymgradError, match="var over 3 entries with correction 3"):
        build_graph(Spec(name="v", inputs={"X": [3]}, params={"w": [3]}, nodes={}, loss="var(X * w, correction=3)"))


# ---------------------------------------------------------------- subscripts

def test_numpy_subscripts_are_pick_and_rows():
    def loss_of(loss, nodes):
        s = Spec(name="s", inputs={"X": ["n", 4], "y": LABELS, "ix": INDEX}, params={"W": [4, 3], "C": [5, 2]},
                 nodes={"Z": "X @ W", **nodes}, loss=loss)
        return build_graph(s).nodes
    assert loss_of("-mean(Z[range(n), y]) + sum(C[ix])", {}) == loss_of("-mean(pick(Z, y)) + sum(rows(C, ix))", {})
    assert loss_of("sum(E) + sum(C)", {"E": "log_softmax(Z, axis=1)[range(n), y]"}) == \
        loss_of("sum(E) + sum(C)", {"E": "pick(log_softmax(Z, axis=1), y)"})


def test_slices_read_like_numpy_and_their_adjoint_pads_with_zeros():
    s = Spec(name="sl", inputs={"X": ["n", 4]}, params={"W": [4, 3]},
             nodes={"Z": "X @ W", "A": "Z[:, 1:]", "B": "Z[1:3, :]", "C": "W[:2]", "D": "Z[:-1, :-1]"},
             loss="sum(A**2) / 2 + sum(B) + sum(C * W[2:]) + sum(D)")
    checked(s)
    m = module_of(s)
    rng = np.random.default_rng(2)
    w, x = rng.normal(size=(4, 3)), rng.normal(size=(6, 4))
    z = x @ w
    want_loss = np.sum(z[:, 1:] ** 2) / 2 + np.sum(z[1:3, :]) + np.sum(w[:2] * w[2:]) + np.sum(z[:-1, :-1])
    loss, grads = m.loss_and_grads({"W": w}, {"X": x})
    dz = np.zeros_like(z)                                   # each slice's adjoint, placed back by hand
    dz[:, 1:] += z[:, 1:]
    dz[1:3, :] += 1
    dz[:-1, :-1] += 1
    dw = x.T @ dz
    dw[:2] += w[2:]
    dw[2:] += w[:2]
    assert np.isclose(loss, want_loss) and np.allclose(grads["W"], dw)


def test_slices_of_a_3d_array_and_of_a_transpose():
    checked(Spec(name="s3", inputs={"X": ["n", 2, 3]}, params={"W": [2, 2], "V": [3, 2]},
                 nodes={"A": "X[:, :, 1:] * W", "Z": "flatten(A * X[:, 1:, :2])", "B": "V.T[:1]"},
                 loss="sum(Z**2) + sum(B * V[:, :1].T)"))


def test_a_slice_of_a_symbolic_size_is_checked_at_sizes_large_enough():
    s = Spec(name="sl", inputs={"X": ["n", 4]}, params={"W": [4, 3]}, nodes={"Z": "X @ W", "A": "Z[:4]"},
             loss="sum(A**2)")
    assert build_graph(s).least == {"n": 5}
    d, numeric, proof = checked(s)
    assert numeric.sizes["n"] >= 5 and proof.sizes["n"] >= 5


def test_the_latex_of_a_slice_is_a_subscripted_range():
    d = derive(Spec(name="sl", inputs={"X": ["n", 4]}, params={"W": [4, 3]}, nodes={"Z": "X @ W", "A": "Z[:, 1:]"},
                    loss="sum(A**2)"))
    assert r"\left[Z\right]_{:, 2:3}" in render_latex(d)       # columns 2 to 3 of 3, counted from 1


def test_answers_may_use_the_subscripts():
    s = Spec(name="sl", inputs={"X": ["n", 4]}, params={"W": [4, 3]}, nodes={"Z": "X @ W"}, loss="sum(Z[:, 1:]**2) / 2")
    assert verify_answer(s, "W", "X.T @ concat(zeros(n, 1), Z[:, 1:], axis=1)").verdict == "correct"
    assert verify_answer(s, "W", "X.T @ concat(zeros(n, 1), Z[:, :2], axis=1)").verdict == "incorrect"
    p = Spec(name="sp", inputs={"X": ["n", 4], "y": LABELS}, params={"W": [4, 3]},
             nodes={"Z": "X @ W", "P": "softmax(Z, axis=1)"}, loss="-mean(log(P[range(n), y]))")
    assert verify_answer(p, "W", "X.T @ (P - one_hot(y)) / n").verdict == "correct"
    assert verify_answer(p, "W", "X.T @ (P - one_hot(y))").verdict == "incorrect"


# ---------------------------------------------------------------- abs at 0

def test_abs_derivative_at_zero_is_zero_in_derivation_and_proof():
    assert FUNCTIONS["abs"].derivative.subs(X, 0) == 0
    assert FUNCTIONS["abs"].derivative.subs(X, sp.Rational(-3, 2)) == -1
    assert prove_derivative("abs")


@pytest.mark.parametrize("shape, inputs", [([3], {}), (["n", 3], {"X": ["n", 3]})], ids=["straight-line", "array"])
def test_abs_derivative_at_zero_is_zero_in_the_code(shape, inputs):
    body = "X * s" if inputs else "s"
    d = derive(Spec(name="ab", inputs=inputs, params={"s": [3]}, nodes={"h": f"abs({body})"}, loss="sum(h)"))
    m = load_module(render_module(d), "ab")
    s = np.array([0.0, 2.0, -2.0])
    i = {"X": np.ones((2, 3))} if inputs else {}
    want = np.array([0.0, 1.0, -1.0]) * (2 if inputs else 1)
    for _, grads in (m.loss_and_grads({"s": s}, i), m.make_step()({"s": s}, i)):
        np.testing.assert_array_equal(grads["s"], want)


def test_the_latex_of_abs_prime_is_the_sign():
    d = derive(Spec(name="ab", inputs={"X": ["n", 3]}, params={"W": [3, 2]}, nodes={"h": "abs(X @ W)"},
                    loss="sum(h)"))
    assert r"\operatorname{sign}" in render_latex(d)


# ---------------------------------------------------------------- the compiled step

NEW_OPS = {"var", "slice", "pick", "rows", "scatter_rows", "reshape", "flatten", "max", "min", "first_extremum",
           "elu", "abs", "sign", "sqrt", "rsqrt", "sigmoid"}
STEP_SPEC = Spec(
    name="allops", inputs={"ix": {"shape": ["B", 3], "kind": "index", "size": 5},
                           "y": {"shape": ["B"], "kind": "label", "classes": 4}},
    params={"C": [5, 2], "W1": [6, 4], "beta": [4], "W2": [3, 4]},
    nodes={"emb": "C[ix]", "cat": "flatten(emb)", "r": "reshape(cat, B, 2, 3)", "back": "reshape(r, B, 6)",
           "h": "back @ W1",
           "hn": "(h - mean(h, axis=0, keepdims=True)) * rsqrt(var(h, axis=0, keepdims=True, correction=1) + 1e-5)",
           "a": "elu(hn, 0.5) + swish(hn, beta)", "s": "a[:, 1:]", "z": "s @ W2",
           "m": "z - max(z, axis=1, keepdims=True)", "lp": "log_softmax(m, axis=1)"},
    loss="-mean(lp[range(B), y]) + mean(abs(W2)) + sum(sqrt(1 + W1**2)) / 10 + min(W1) ** 2")


def test_the_compiled_step_agrees_with_the_plain_backward_on_every_new_operation():
    d, numeric, _ = checked(STEP_SPEC, proof=False)
    assert NEW_OPS <= ops_of(d), NEW_OPS - ops_of(d)
    m = load_module(render_module(d), "allops")
    step = m.make_step()
    rng = np.random.default_rng(5)
    p = {"C": rng.normal(size=(5, 2)), "W1": rng.normal(size=(6, 4)), "beta": rng.normal(size=4),
         "W2": rng.normal(size=(3, 4))}
    for batch in (7, 3, 7):                       # the workspace is reused, then reallocated, then reused
        i = {"ix": rng.integers(0, 5, (batch, 3)), "y": rng.integers(0, 4, batch)}
        for _ in range(2):
            (l1, g1), (l2, g2) = m.loss_and_grads(p, i), step(p, i)
            assert np.isclose(l1, l2, rtol=1e-12)
            assert all(np.allclose(g1[k], g2[k], rtol=1e-10, atol=1e-12) for k in g1)
