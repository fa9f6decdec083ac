"""Extreme inputs: saturated logits and 0/1 targets give finite, exact losses and gradients.

Generated code runs with numpy's overflow, invalid and divide-by-zero errors
raised (underflow to 0 is fine). Each value is compared with an independent
reference: the loss exactly as the spec writes it (``derive(spec,
fuse=False)``), expanded symbolically, differentiated by ``sympy.diff`` and
evaluated by mpmath at 50 significant digits plus enough extra working digits
to survive the cancellation in ``1 - sigmoid(1e4)``.
"""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import load_module
from symgrad.points import symbolic_array
from symgrad.evaluate import EvalContext, evaluate
from symgrad.fuse import IDENTITIES, RULES as FUSION_RULES
from symgrad.rules.elementwise import _unfold
from symgrad.spec import LOSS

RAISE = dict(over="raise", invalid="raise", divide="raise", under="ignore")
LOGITS = [50, 500, 1e4]


# -- the independent reference -------------------------------------------------

def reference(spec, params, inputs, extra_digits):
    """(loss, {param: grad}) of the spec as written, as mpmath numbers."""
    d = derive(spec, fuse=False)
    graph = d.graph
    sizes = {}
    for size, (array, axis) in graph.sizes.items():
        value = inputs.get(array, params.get(array))
        sizes[sp.Symbol(size, integer=True, positive=True)] = np.shape(value)[axis]
    ctx = EvalContext(sizes, symbolic=True)
    values, numbers = {}, {}
    for var in list(graph.inputs.values()) + list(graph.params.values()):
        values[var.name] = symbolic_array(var.name, ctx.shape(var.shape))
        given = np.asarray((params if var.name in params else inputs)[var.name], dtype=np.float64)
        for sym, num in zip(np.asarray(values[var.name]).ravel(), given.ravel()):
            numbers[sym] = num
    memo = {}
    for node in graph.nodes:
        values[node.name] = evaluate(node.expr, values, ctx, memo)
    loss = _unfold(sp.sympify(np.asarray(values[LOSS]).item()))
    symbols = list(numbers)
    point = [mpmath.mpf(float(numbers[s])) for s in symbols]
    entries = [(name, idx) for name in graph.params for idx in np.ndindex(*np.shape(values[name]))]
    exprs = [loss] + [sp.diff(loss, np.asarray(values[name])[idx]) for name, idx in entries]
    with mpmath.workdps(50 + extra_digits):
        results = sp.lambdify(symbols, exprs, "mpmath")(*point)
    grads = {name: np.empty(np.shape(values[name]), dtype=object) for name in graph.params}
    for (name, idx), value in zip(entries, results[1:]):
        grads[name][idx] = value
    return results[0], grads


def agree(ours, ref, scale=None) -> bool:
    """|ours - ref| <= 1e-10 |ref| (entry by entry, or relative to ``scale``); 1e-300 absolute slack
    for values that underflow in float64."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=object)
    for idx in np.ndindex(*ref.shape):
        r = ref[idx]
        bound = 1e-10 * (abs(r) if scale is None else scale) + mpmath.mpf("1e-300")
        if not math.isfinite(ours[idx]) or abs(mpmath.mpf(float(ours[idx])) - r) > bound:
            return False
    return True


def run_generated(d, params, inputs):
    module = load_module(render_module(d), d.spec.name)
    with np.errstate(**RAISE):
        cache = module.forward(params, inputs)
        grads = module.backward(params, inputs, cache)
    return float(cache["loss"]), grads, cache


def digits_for(logit, spec, entrywise=True) -> int:
    """Extra working digits. 1 - sigmoid(z) ~ e^-z needs log10(e) = 0.434 digits per unit of z
    wherever BCE takes log(1 - p); 1 - softmax only matters when tiny gradient entries are
    compared entry by entry (``entrywise``)."""
    from symgrad.graph import build_graph
    ops = {n.expr.op for n in build_graph(spec).nodes}
    fragile = {"sigmoid", "softplus"} | ({"softmax", "log_softmax"} if entrywise else set())
    return int(abs(logit) * 0.45) + 20 if ops & fragile else 20


# -- one-logit-per-entry specs: every gradient entry is checked to 1e-10 relative ---

def _spec(name, loss, nodes=None, classes=False, column=False):
    if classes:
        shape = [4, 3] if column else [3, 4]
        return Spec(name=name, inputs={"y": shape}, params={"s": shape}, nodes=nodes or {}, loss=loss)
    return Spec(name=name, inputs={"y": [6]}, params={"s": [6]}, nodes=nodes or {}, loss=loss)


BINARY = [
    _spec("bce_composite", "bce(p, y)", {"p": "sigmoid(s)"}),
    _spec("bce_hand_named", "-mean(y * log(p) + (1 - y) * log(1 - p))", {"p": "sigmoid(s)"}),
    _spec("bce_hand_inline", "-mean(y * log(sigmoid(s)) + (1 - y) * log(1 - sigmoid(s)))"),
    _spec("bce_hand_reordered", "-mean((1 - y) * log(1 - p) + log(p) * y)", {"p": "sigmoid(s)"}),
    _spec("log_sigmoid_only", "-sum(y * log(p))", {"p": "sigmoid(s)"}),
]

MULTICLASS = [
    _spec("nll_composite", "nll(p, y)", {"p": "softmax(s, axis=1)"}, classes=True),
    _spec("nll_hand_named", "-mean(sum(y * log(p), axis=1))", {"p": "softmax(s, axis=1)"}, classes=True),
    _spec("nll_hand_inline", "-mean(sum(y * log(softmax(s)), axis=-1))", classes=True),
    _spec("cross_entropy", "cross_entropy(s, y)", classes=True),
    _spec("nll_columns", "-sum(y * log(p)) / 3", {"p": "softmax(s, axis=0)"}, classes=True, column=True),
]


def binary_point(logit):
    s = np.array([logit, -logit, logit, -logit, 0.75, -2.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.25])   # confident right, right, wrong, wrong; soft target
    return {"s": s}, {"y": y}


def multiclass_point(logit, column=False):
    s = np.array([[logit, 0.0, -logit, 1.0],      # confident and right
                  [-logit, logit, 0.5, 0.0],      # confident and wrong
                  [0.3, -0.2, 0.1, 0.4]])         # undecided
    y = np.zeros((3, 4))
    y[0, 0] = y[1, 0] = y[2, 3] = 1.0             # one-hot: probabilities exactly 0 and 1
    if column:
        s, y = s.T.copy(), y.T.copy()
    return {"s": s}, {"y": y}


@pytest.mark.parametrize("logit", LOGITS)
@pytest.mark.parametrize("spec", BINARY, ids=[s.name for s in BINARY])
def test_binary_losses_are_exact_at_saturated_logits(spec, logit):
    params, inputs = binary_point(logit)
    loss, grads, _ = run_generated(derive(spec), params, inputs)
    ref_loss, ref_grads = reference(spec, params, inputs, digits_for(logit, spec))
    assert agree(loss, ref_loss), (loss, ref_loss)
    assert agree(grads["s"], ref_grads["s"]), (grads["s"], ref_grads["s"])


@pytest.mark.parametrize("logit", LOGITS)
@pytest.mark.parametrize("spec", MULTICLASS, ids=[s.name for s in MULTICLASS])
def test_multiclass_losses_are_exact_at_saturated_logits(spec, logit):
    params, inputs = multiclass_point(logit, column=spec.name == "nll_columns")
    loss, grads, _ = run_generated(derive(spec), params, inputs)
    ref_loss, ref_grads = reference(spec, params, inputs, digits_for(logit, spec))
    assert agree(loss, ref_loss), (loss, ref_loss)
    assert agree(grads["s"], ref_grads["s"]), (grads["s"], ref_grads["s"])


# -- whole networks: logits reached through layers --------------------------------

def _network_point(name, logit, rng):
    if name == "hw1_sigmoid_sigmoid_bce":
        params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(4),
                  "W2": rng.standard_normal((2, 4)), "b2": np.array([logit, -logit])}
        return params, {"x": rng.standard_normal(3), "y": np.array([1.0, 1.0])}   # one right, one wrong
    if name == "multiclass":
        params = {"W1": rng.standard_normal((5, 2)), "b1": rng.standard_normal(5),
                  "W2": rng.standard_normal((3, 5)), "b2": np.array([logit, -logit, 0.0])}
        return params, {"x": rng.standard_normal(2), "y": np.array([0.0, 1.0, 0.0])}
    if name == "batch_bce":
        params = {"W": rng.standard_normal((3, 2)), "b": np.array([logit, -logit])}
        return params, {"X": rng.standard_normal((4, 3)), "y": np.array([[1.0, 0.0], [0.0, 1.0]] * 2)}
    raise KeyError(name)


BATCH_BCE = Spec(name="batch_bce", inputs={"X": ["n", 3], "y": ["n", 2]}, params={"W": [3, 2], "b": [2]},
                 nodes={"z": "X @ W + b", "yhat": "sigmoid(z)"},
                 loss="-mean(y * log(yhat) + (1 - y) * log(1 - yhat))")


NETWORK_CASES = [(name, logit) for name in ["hw1_sigmoid_sigmoid_bce", "multiclass", "batch_bce"] for logit in LOGITS
                 if (name, logit) != ("hw1_sigmoid_sigmoid_bce", 1e4)]   # its 4,500-digit reference takes 15 s


@pytest.mark.parametrize("name, logit", NETWORK_CASES)
def test_networks_are_exact_at_saturated_logits(name, logit, rng):
    spec = BATCH_BCE if name == "batch_bce" else name
    params, inputs = _network_point(name, logit, rng)
    d = derive(spec)
    loss, grads, cache = run_generated(d, params, inputs)
    ref_loss, ref_grads = reference(spec, params, inputs, digits_for(logit, spec, entrywise=False))
    assert agree(loss, ref_loss), (loss, ref_loss)
    for p in d.graph.params:
        scale = max(abs(v) for v in np.asarray(ref_grads[p]).ravel())
        assert agree(grads[p], ref_grads[p], scale=scale), (p, grads[p], ref_grads[p])
    named = [n for n in d.spec.nodes]
    assert all(n in cache for n in named)   # fused or not, every named node is still computed


# -- the fused form is what makes this work ---------------------------------------

@pytest.mark.parametrize("spec", BINARY[:3] + MULTICLASS[:3], ids=lambda s: s.name)
def test_the_unfused_reference_code_fails_where_the_fused_code_does_not(spec):
    params, inputs = (multiclass_point if "nll" in spec.name else binary_point)(500)
    with pytest.raises(FloatingPointError):
        run_generated(derive(spec, fuse=False), params, inputs)
    run_generated(derive(spec), params, inputs)


@pytest.mark.parametrize("spec, rules", [
    (BINARY[0], ["log_sigmoid", "log_one_minus_sigmoid"]),
    (BINARY[2], ["log_sigmoid", "log_one_minus_sigmoid"]),
    (BINARY[4], ["log_sigmoid"]),
    (MULTICLASS[1], ["log_softmax"]),
    (MULTICLASS[3], []),
], ids=lambda v: getattr(v, "name", None))
def test_each_fusion_is_recorded_with_a_line_and_latex(spec, rules):
    d = derive(spec)
    assert sorted(f.rule for f in d.fusions) == sorted(rules)
    for f in d.fusions:
        assert "\n" not in f.explanation and "s" in f.explanation
        assert f.latex.startswith(r"\log") and "=" in f.latex
    assert derive(spec, fuse=False).fusions == []


def test_fusion_keeps_named_nodes_and_drops_dead_temporaries():
    d, ref = derive(BINARY[2]), derive(BINARY[2], fuse=False)
    ours = [n.name for n in d.graph.nodes]
    assert not any(n.expr.op == "sigmoid" for n in d.graph.nodes)     # inline sigmoids were only read by log
    assert len(ours) < len(ref.graph.nodes)
    named = derive(BINARY[1])
    assert "p" in [n.name for n in named.graph.nodes]                  # p = sigmoid(s) is the user's node


@pytest.mark.parametrize("rule", sorted(IDENTITIES))
def test_scalar_fusion_identities_hold_symbolically(rule):
    x = sp.Symbol("x", real=True)
    lhs, rhs = IDENTITIES[rule]
    assert sp.simplify(sp.expand_log(lhs(x) - rhs(x), force=True)) == 0


def test_every_fusion_rule_has_an_identity_or_a_vector_test():
    assert {r.name for r in FUSION_RULES} == set(IDENTITIES) | {"log_softmax"}


def test_bce_gradient_is_prediction_minus_target_over_n(rng):
    """The fused BCE gradient with respect to the logits is (yhat - y) / N."""
    d = derive(BATCH_BCE)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, (5, 2)).astype(float)
    _, grads, cache = run_generated(d, params, {"X": X, "y": y})
    expected_dz = (cache["yhat"] - y) / y.size
    np.testing.assert_allclose(grads["b"], expected_dz.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(grads["W"], X.T @ expected_dz, rtol=1e-12)


def test_softmax_nll_gradient_is_p_minus_y_over_rows():
    spec = MULTICLASS[1]
    params, inputs = multiclass_point(3.0)
    _, grads, cache = run_generated(derive(spec), params, inputs)
    np.testing.assert_allclose(grads["s"], (cache["p"] - inputs["y"]) / 3, rtol=1e-12, atol=1e-300)


# -- element-wise functions far from 0 ----------------------------------------------

ACTIVATIONS = ["sigmoid", "tanh", "softplus", "gelu", "erf", "relu", "leaky_relu"]


@pytest.mark.parametrize("fn", ACTIVATIONS)
def test_activations_and_their_gradients_are_finite_at_large_inputs(fn):
    spec = Spec(name=f"act_{fn}", inputs={}, params={"s": [8]}, nodes={"h": f"{fn}(s)"}, loss="sum(h * h) / 2")
    s = np.array([50.0, -50.0, 500.0, -500.0, 1e4, -1e4, 0.3, -37.5])
    loss, grads, _ = run_generated(derive(spec), {"s": s}, {})
    ref_loss, ref_grads = reference(spec, {"s": s}, {}, digits_for(1e4, spec, entrywise=False))
    assert agree(loss, ref_loss), (loss, ref_loss)
    assert agree(grads["s"], ref_grads["s"], scale=max(abs(v) for v in ref_grads["s"])), grads["s"]


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family_subtracts_the_max(fn):
    spec = Spec(name=f"sm_{fn}", inputs={"t": [2, 3]}, params={"s": [2, 3]}, nodes={"h": f"{fn}(s, axis=1)"},
                loss="sum(h * t)")
    s = np.array([[1e4, -1e4, 0.0], [800.0, 799.0, -5e3]])
    t = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]])
    loss, grads, _ = run_generated(derive(spec), {"s": s}, {"t": t})
    ref_loss, ref_grads = reference(spec, {"s": s}, {"t": t}, digits_for(1e4, spec, entrywise=False))
    assert agree(loss, ref_loss, scale=abs(ref_loss)), (loss, ref_loss)
    assert agree(grads["s"], ref_grads["s"], scale=max(abs(v) for v in ref_grads["s"].ravel())), grads["s"]
