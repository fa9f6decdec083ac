"""What derive() returns: the stable and the textbook view side by side, contributions
at entry level that keep their operation, and evaluation at a point."""

import numpy as np
import pytest

from symgrad import Spec, derive, render_module
from symgrad import names as naming
from symgrad.check.numeric import load_module
from symgrad.evaluate import EvalContext
from symgrad.ir import Var, walk
from symgrad.points import check_sizes, draw_leaves
from symgrad.spec import LOSS

BCE = Spec(name="bce_views", inputs={"x": ["n", 3], "y": ["n", 1]}, params={"W": [3, 1], "b": [1]},
           nodes={"p": "sigmoid(x @ W + b)"}, loss="bce(p, y)")
MLP = Spec(name="mlp_views", inputs={"x": ["n", 3], "y": ["n", 2]}, params={"W1": [3, 4], "W2": [4, 2]},
           nodes={"h": "relu(x @ W1)", "yhat": "h @ W2"}, loss="mean((yhat - y)**2)")


def test_the_textbook_view_sits_beside_the_stable_one():
    d = derive(BCE)
    assert d.fusions, "bce of a sigmoid is rewritten into its stable form"
    book = d.textbook
    assert book.fusions == [] and book.textbook is book
    again = derive(BCE, fuse=False)
    assert [str(book.adjoint(t)) for t in book.order] == [str(again.adjoint(t)) for t in again.order]
    assert d.textbook is book, "computed once"
    plain = derive(MLP)
    assert plain.fusions == [] and plain.textbook is plain


def test_entry_contributions_fold_temporaries_and_keep_their_operation():
    d = derive(MLP)
    temps = {n.name for n in d.graph.nodes if n.temp}
    assert temps, "x @ W1 inside relu(...) is a temporary"
    entries = d.entry_contributions()
    assert set(entries) == {t for t in d.order if t not in temps}
    for target, parts in entries.items():
        for c in parts:
            assert c.target == target and c.source in {n.name for n in d.graph.entry_nodes()}
            assert not {v.name for v in walk(c.expr) if isinstance(v, Var)} & (
                temps | {naming.adjoint(t) for t in temps})
    (w1,) = entries["W1"]
    assert (w1.source, w1.op, w1.index) == ("h", "matmul", 1)
    # folding is the same mapping everywhere: an entry's definition uses no temporary either
    assert not {v.name for v in walk(d.entry_definitions()["h"]) if isinstance(v, Var)} & temps


@pytest.mark.parametrize("spec", [MLP, BCE], ids=lambda s: s.name)
def test_values_agree_with_the_generated_module(spec):
    d = derive(spec)
    module = load_module(render_module(d), spec.name)
    ctx = EvalContext(check_sizes(d.graph))
    rng = np.random.default_rng(0)
    leaves = draw_leaves(d.graph, list(d.graph.inputs.values()) + list(d.graph.params.values()), ctx, rng,
                         rounded=False)
    if spec is BCE:
        leaves["y"] = (leaves["y"] > 0).astype(float)
    values = d.values(leaves, ctx)
    params = {n: leaves[n] for n in d.graph.params}
    inputs = {n: leaves[n] for n in d.graph.inputs}
    cache = module.forward(params, inputs)
    grads = module.backward(params, inputs, cache)
    np.testing.assert_allclose(values[LOSS], cache["loss"], rtol=1e-12)
    for p in d.graph.params:
        np.testing.assert_allclose(values[naming.adjoint(p)], grads[p], rtol=1e-10, atol=1e-14)
