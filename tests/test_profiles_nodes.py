"""nodes profile: homework 3's node classes, checked as the course checks them:
node by node with central differences at random points and random upstream
d_out, and whole graphs (ridge regression with its tied w, MLP regression,
softmax classification)."""

import importlib.util

import numpy as np
import pytest

from symgrad.profiles import render


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    filename, text = render("nodes")
    path = tmp_path_factory.mktemp("nodes") / filename
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("nodes_generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def away_from_zero(rng, shape):
    """Normal draws pushed off ReLU's kink, where central differences say nothing."""
    v = rng.normal(size=shape)
    return np.where(np.abs(v) < 0.1, v + np.sign(v + 1e-12) * 0.2, v)


def probabilities(rng, shape):
    p = rng.uniform(0.1, 1.0, size=shape)
    return p / p.sum()


# class -> (constructor: kwargs of ValueNode values and plain numbers, a sampler per argument)
CASES = {
    "VectorScalarAffineNode": {"x": (4,), "w": (4,), "b": ()},
    "SquaredL2DistanceNode": {"a": (4,), "b": (4,)},
    "SquaredL2DistanceNode_scalars": {"a": (), "b": ()},
    "L2NormPenaltyNode": {"l2_reg": 0.37, "w": (4,)},
    "SumNode": {"a": (3,), "b": (3,)},
    "SumNode_scalars": {"a": (), "b": ()},
    "AffineNode": {"W": (3, 4), "x": (4,), "b": (3,)},
    "TanhNode": {"a": (5,)},
    "TanhNode_scalar": {"a": ()},
    "ReLUNode": {"a": (5,)},
    "SigmoidNode": {"a": (5,)},
    "SoftmaxNode": {"z": (5,)},
    "NLLNode": {"y_hat": "probabilities", "y_true": "index"},
}


def build(nodes, case, rng):
    cls = getattr(nodes, case.split("_")[0])
    leaves, kwargs = {}, {}
    for name, how in CASES[case].items():
        if isinstance(how, float):
            kwargs[name] = how
            continue
        leaf = nodes.ValueNode(node_name=name)
        if how == "probabilities":
            leaf.out = probabilities(rng, 5)
        elif how == "index":
            leaf.out = np.array(rng.integers(5))
        else:
            leaf.out = away_from_zero(rng, how)
        leaves[name] = leaf
        kwargs[name] = leaf
    return cls(node_name="under test", **kwargs), leaves


def central_difference(f, value, h=1e-6):
    value = np.asarray(value, dtype=float)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", sorted(CASES))
def test_node_backward_matches_central_differences(nodes, case, seed):
    rng = np.random.default_rng(seed)
    node, leaves = build(nodes, case, rng)
    for leaf in leaves.values():
        leaf.forward()
    out = node.forward()
    assert isinstance(out, np.ndarray) and np.array_equal(node.d_out, np.zeros(np.shape(out)))
    upstream = rng.normal(size=np.shape(out))
    node.d_out = upstream.copy()
    already = {name: rng.normal(size=np.shape(leaf.out)) for name, leaf in leaves.items()}
    for name, leaf in leaves.items():
        leaf.d_out = already[name].copy()
    returned = node.backward()
    np.testing.assert_array_equal(returned, upstream)
    differentiable = [n for n in leaves if CASES[case][n] != "index"]
    assert differentiable
    for name in differentiable:
        leaf = leaves[name]
        original = leaf.out

        def f(v, leaf=leaf, original=original):
            leaf.out = v
            value = float(np.sum(node.forward() * upstream))
            leaf.out = original
            return value
        numeric = central_difference(f, original)
        added = leaf.d_out - already[name]
        np.testing.assert_allclose(added, numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{case}: d/d{name} (analytic vs central difference)")
    for name in set(leaves) - set(differentiable):  # the class index gets nothing
        np.testing.assert_array_equal(leaves[name].d_out, already[name])


def test_nll_is_minus_log_of_the_true_class_probability(nodes):
    p = nodes.ValueNode("p")
    p.out = np.array([0.2, 0.5, 0.3])
    label = nodes.ValueNode("label")
    label.out = np.array(1)
    nll = nodes.NLLNode(p, label, "nll")
    assert float(nll.forward()) == pytest.approx(-np.log(0.5))
    assert nll.get_predecessors() == [p, label]


def test_predecessors_exclude_plain_numbers(nodes):
    w = nodes.ValueNode("w")
    assert nodes.L2NormPenaltyNode(0.1, w, "reg").get_predecessors() == [w]


# -- whole graphs ---------------------------------------------------------------

def topological(outcome):
    order, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for p in node.get_predecessors():
            visit(p)
        order.append(node)
    visit(outcome)
    return order


def forward_backward(outcome):
    order = topological(outcome)
    for node in order:
        node.forward()
    outcome.d_out = np.array(1.0)
    for node in reversed(order):
        node.backward()
    return float(outcome.out)


def ridge(nodes, l2_reg):
    x, y, w, b = (nodes.ValueNode(n) for n in ("x", "y", "w", "b"))
    prediction = nodes.VectorScalarAffineNode(x, w, b, "prediction")
    objective = nodes.SquaredL2DistanceNode(prediction, y, "square loss")
    reg = nodes.L2NormPenaltyNode(l2_reg, w, "reg_loss")
    return nodes.SumNode(objective, reg, "loss"), {"x": x, "y": y, "w": w, "b": b}


def mlp_regression(nodes):
    x, y, W1, b1, w2, b2 = (nodes.ValueNode(n) for n in ("x", "y", "W1", "b1", "w2", "b2"))
    hidden = nodes.TanhNode(nodes.AffineNode(W1, x, b1, "affine"), "tanh")
    prediction = nodes.VectorScalarAffineNode(hidden, w2, b2, "prediction")
    return nodes.SquaredL2DistanceNode(prediction, y, "loss"), {
        "x": x, "y": y, "W1": W1, "b1": b1, "w2": w2, "b2": b2}


def multiclass(nodes):
    x, y, W1, b1, W2, b2 = (nodes.ValueNode(n) for n in ("x", "y", "W1", "b1", "W2", "b2"))
    hidden = nodes.TanhNode(nodes.AffineNode(W1, x, b1, "affine 1"), "tanh")
    probs = nodes.SoftmaxNode(nodes.AffineNode(W2, hidden, b2, "affine 2"), "softmax")
    return nodes.NLLNode(probs, y, "nll"), {"x": x, "y": y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}


GRAPHS = {
    "ridge": (lambda n: ridge(n, 0.3), {"x": (4,), "y": (), "w": (4,), "b": ()}, ["w", "b"]),
    "mlp_regression": (mlp_regression, {"x": (3,), "y": (), "W1": (5, 3), "b1": (5,), "w2": (5,), "b2": ()},
                       ["W1", "b1", "w2", "b2"]),
    "multiclass": (multiclass, {"x": (3,), "y": "label", "W1": (4, 3), "b1": (4,), "W2": (3, 4), "b2": (3,)},
                   ["W1", "b1", "W2", "b2"]),
}


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_whole_graph_gradients_match_central_differences(nodes, graph, seed):
    make, shapes, params = GRAPHS[graph]
    rng = np.random.default_rng(seed)
    outcome, leaves = make(nodes)
    for name, shape in shapes.items():
        leaves[name].out = np.array(rng.integers(3)) if shape == "label" else rng.normal(size=shape)
    forward_backward(outcome)
    analytic = {p: leaves[p].d_out.copy() for p in params}
    for p in params:
        original = leaves[p].out

        def f(v, p=p, original=original):
            leaves[p].out = v
            value = forward_backward(outcome)
            leaves[p].out = original
            return value
        np.testing.assert_allclose(analytic[p], central_difference(f, original), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{graph}: d loss / d {p}")


def test_ridge_tied_w_gets_both_contributions(nodes):
    # w feeds the prediction and the penalty: dJ/dw = 2 (x.w + b - y) x + 2 lambda w
    rng = np.random.default_rng(5)
    outcome, leaves = ridge(nodes, 0.3)
    x, w = rng.normal(size=4), rng.normal(size=4)
    b, y = np.array(0.4), np.array(-1.2)
    for name, value in {"x": x, "w": w, "b": b, "y": y}.items():
        leaves[name].out = value
    forward_backward(outcome)
    residual = x @ w + b - y
    np.testing.assert_allclose(leaves["w"].d_out, 2 * residual * x + 2 * 0.3 * w, rtol=1e-12)
    np.testing.assert_allclose(leaves["b"].d_out, 2 * residual, rtol=1e-12)
