"""symgrad.points: sizes, drawing by declared domain, kinks, symbolic arrays, comparisons."""

import numpy as np
import pytest
import sympy as sp

from symgrad import Spec, build_graph, derive, render_module
from symgrad import points
from symgrad.check.numeric import check_module, draw_point, load_module
from symgrad.evaluate import EvalContext
from symgrad.ir import dim
from symgrad.rules import RULES


def _spec(loss, nodes=None, inputs=None, params=None, name="pts"):
    return Spec(name=name, inputs=inputs or {"x": ["n", 3]}, params=params or {"W": [3, 2], "b": [2]},
                nodes=nodes or {}, loss=loss)


def _by_name(sizes: dict) -> dict:
    return {str(k): v for k, v in sizes.items()}


def test_the_three_size_policies_follow_one_rule():
    g = build_graph(_spec("sum(x @ W) + sum(y) + sum(b)", inputs={"x": ["n", 3], "y": ["m", 5]}))
    assert _by_name(points.proof_sizes(g)) == {"m": 2, "n": 3}
    assert _by_name(points.check_sizes(g)) == {"m": 3, "n": 5}
    # fixed sizes 2, 3 and 5 are skipped, so no symbolic size equals a fixed one
    assert points.fixed_sizes(g) == {2, 3, 5}
    assert _by_name(points.answer_sizes(g)) == {"m": 6, "n": 7}
    assert all(k == dim(str(k)) for k in points.answer_sizes(g))


@pytest.mark.parametrize("loss, nodes, positive", [
    ("sum(log(x @ W + b))", {}, {"x", "W", "b"}),          # through the entry's own temporaries
    ("sum(log(x) @ W + b)", {}, {"x"}),                     # only what log reads
    ("sum(log(h) + b)", {"h": "x @ W"}, set()),             # a named node is not drawn
    ("sum(log(sigmoid(x @ W)) + b)", {}, set()),            # sigmoid's range decides
    ("sum(x @ W + b)", {}, set()),
])
def test_leaves_read_by_a_positive_domain_are_drawn_positive(loss, nodes, positive):
    assert RULES["log"].domain == "positive"
    g = build_graph(_spec(loss, nodes))
    assert points.positive_leaves(g) == positive
    ctx = EvalContext(points.check_sizes(g))
    leaves = list(g.params.values()) + list(g.inputs.values())
    drawn = points.draw_leaves(g, leaves, ctx, np.random.default_rng(0), rounded=False)
    plain = np.random.default_rng(0)
    for var in leaves:
        z = plain.standard_normal(ctx.shape(var.shape))
        # |z| in the positive domain; the others keep the whole real line
        np.testing.assert_array_equal(drawn[var.name], np.abs(z) if var.name in positive else z)


def test_drawing_without_a_declared_domain_is_the_plain_normal_stream():
    g = build_graph(_spec("sum(x @ W + b)"))
    leaves = list(g.inputs.values()) + list(g.params.values())
    ctx = EvalContext(points.answer_sizes(g))
    got = points.draw_leaves(g, leaves, ctx, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    for var in leaves:
        want = np.round(rng.standard_normal(ctx.shape(var.shape)), 3)
        np.testing.assert_array_equal(got[var.name], want)


def test_the_finite_difference_check_samples_a_log_in_its_domain():
    d = derive(_spec("mean(log(x @ W + b))", name="logdomain"))
    module = load_module(render_module(d), "logdomain")
    params, inputs = draw_point(d, points.check_sizes(d.graph), np.random.default_rng(0))
    assert all(np.all(v >= 0) for v in list(params.values()) + list(inputs.values()))
    check = check_module(d, module, seed=0, points=2)
    assert check.ok and check.redraws == 0, check


def test_one_kink_finder_and_points_on_and_off_the_kinks():
    d = derive(_spec("sum(relu(x @ W)) + sum(b)"))
    found = points.kinked_arguments(d.graph)
    assert [(RULES[d.graph.node(n).expr.op].name, kinks) for n, _, kinks in found] == [("relu", (0,))]
    pts, ctx = points.random_points(d, 5, seed=0)
    assert len(pts) == 5
    assert all(points.distance_to_kinks(d.graph, p.values, ctx) >= points.KINK_MARGIN for p in pts)
    on = points.kink_points(d, ctx)
    assert on and all(p.kink and points.distance_to_kinks(d.graph, p.values, ctx) == 0.0 for p in on)
    assert points.kink_points(derive(_spec("sum(x @ W + b)")), ctx) == []


def test_symbolic_arrays_are_named_after_their_entries():
    a = points.symbolic_array("W", (2, 3))
    assert a.shape == (2, 3) and a[1, 2] == sp.Symbol("W_1_2", real=True)
    assert len({s for s in a.ravel()}) == 6
    s = points.symbolic_array("c", ())
    assert s.shape == () and s.item() == sp.Symbol("c", real=True)


def test_close_scales_by_the_expected_value_and_refuses_nonfinite_or_misshapen():
    assert points.close([1.0, 2.0], [1.0, 2.0 + 1e-8])
    assert not points.close([1.0, 2.0], [1.0, 2.0 + 1e-5])
    assert points.close([1e6], [1e6 + 1e-2])               # relative to 1 + max |expected|
    assert not points.close([1.0, np.nan], [1.0, np.nan])
    assert not points.close([1.0, 2.0], [[1.0, 2.0]])
    assert points.finite([1.0]) and not points.finite([np.inf])


def test_is_zero_decides_identities_of_functions_and_refuses_a_difference():
    x, y = sp.symbols("x y", real=True)
    sig = 1 / (1 + sp.exp(-x))
    assert points.is_zero(sig * (1 - sig) - sp.exp(-x) / (1 + sp.exp(-x)) ** 2)
    assert points.is_zero(sp.exp(x) ** 2 - sp.exp(2 * x))
    assert not points.is_zero(x - y)
    assert not points.is_zero(sig - sp.exp(x))


def test_kink_points_draw_every_leaf_by_its_kind():
    """Kink points keep each input in its domain: a onehot label stays one-hot, a leaf a log
    reads stays positive (and is never the zeroed leaf)."""
    spec = Spec(name="kinkkinds", inputs={"x": [3], "s": [3], "y": {"shape": [2], "kind": "onehot"}},
                params={"W": [2, 3]}, nodes={"h": "relu(W @ x)", "q": "log(softmax(h))"},
                loss="-sum(y * q) + sum(log(s))")
    d = derive(spec)
    ctx = EvalContext(points.answer_sizes(d.graph))
    found = points.kink_points(d, ctx)
    assert len(found) >= 2
    for p in found:
        assert sorted(np.asarray(p.values["y"]).tolist()) == [0.0, 1.0]
        assert np.all(np.asarray(p.values["s"]) > 0), p.values["s"]
