"""Input kinds (DESIGN.md, "Input kinds"): read and validated from a spec, drawn by kind."""

import subprocess
import sys

import numpy as np
import pytest

from symgrad import points
from symgrad.derive import derive
from symgrad.errors import SpecError
from symgrad.evaluate import EvalContext
from symgrad.graph import build_graph
from symgrad.kinds import InputKind
from symgrad.spec import Spec

BASE = dict(name="k", params={"W": [3, 3]}, nodes={"Z": "X @ W"}, loss="sum(Z * Y)")


def spec(**inputs):
    return Spec(inputs={"X": ["n", 3], **inputs}, **BASE)


KIND_SPECS = {
    "onehot": {"shape": ["n", 3], "kind": "onehot"},
    "simplex": {"shape": ["n", 3], "kind": "simplex"},
    "binary": {"shape": ["n", 3], "kind": "binary"},
    "unit": {"shape": ["n", 3], "kind": "unit"},
    "positive": {"shape": ["n", 3], "kind": "positive"},
}


def test_a_table_input_keeps_its_shape_and_kind():
    s = spec(Y={"shape": ["n", 3], "kind": "onehot"}, y={"shape": ["n"], "kind": "label", "classes": 3})
    assert s.inputs["Y"] == ["n", 3] and s.inputs["y"] == ["n"]
    assert s.kinds["Y"].kind == "onehot" and s.kinds["X"].kind == "real"
    assert s.kinds["y"] == InputKind("label", 3) and s.kinds["y"].integer


@pytest.mark.parametrize("kind", sorted(KIND_SPECS))
def test_drawn_values_have_their_kind(kind):
    g = build_graph(spec(Y=KIND_SPECS[kind]))
    ctx = EvalContext(points.check_sizes(g))
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = points.draw_leaves(g, [g.inputs["Y"]], ctx, rng)["Y"]
        assert y.shape == ctx.shape(g.inputs["Y"].shape)
        if kind == "onehot":
            assert set(np.unique(y)) <= {0.0, 1.0} and np.all(y.sum(axis=-1) == 1)
        elif kind == "simplex":
            assert np.all(y >= 0) and np.allclose(y.sum(axis=-1), 1)
        elif kind == "binary":
            assert set(np.unique(y)) <= {0.0, 1.0}
        elif kind == "unit":
            assert np.all((0 <= y) & (y <= 1))
        else:
            assert np.all(y > 0)


def test_a_real_input_is_still_drawn_standard_normal():
    g = build_graph(spec(Y=["n", 3]))
    ctx = EvalContext(points.check_sizes(g))
    y = points.draw_leaves(g, [g.inputs["Y"]], ctx, np.random.default_rng(0))["Y"]
    assert np.any(y < 0) and not set(np.unique(y)) <= {0.0, 1.0}


def test_integer_kinds_are_drawn_from_their_range_with_repeats():
    s = Spec(name="k", inputs={"X": ["n", 3], "y": {"shape": ["n"], "kind": "label", "classes": 4},
                               "ix": {"shape": ["n", 6], "kind": "index", "size": "V"}},
             params={"W": [3, 3], "C": ["V", 2]}, nodes={}, loss="sum(X @ W) + sum(C)")
    g = build_graph(s)
    ctx = EvalContext(points.check_sizes(g))
    drawn = points.draw_leaves(g, [g.inputs["y"], g.inputs["ix"]], ctx, np.random.default_rng(1))
    y, ix = drawn["y"], drawn["ix"]
    assert y.dtype == np.int64 and y.min() >= 0 and y.max() < 4
    v = ctx.size(g.params["C"].shape[0])
    assert ix.dtype == np.int64 and ix.min() >= 0 and ix.max() < v
    assert len(np.unique(ix)) < ix.size      # repeated indices occur (n*6 draws from V rows)


def test_a_kinded_spec_derives_and_checks():
    from symgrad.check.numeric import check_module
    from symgrad.emit.numpy_module import render_module
    from symgrad.check.numeric import load_module
    s = Spec(name="kinds_net", inputs={"X": ["n", 3], "Y": {"shape": ["n", 3], "kind": "onehot"},
                                       "M": {"shape": ["n", 3], "kind": "binary"}},
             params={"W": [3, 3]}, nodes={"P": "softmax(M * (X @ W), axis=1)"}, loss="-mean(Y * log(P))")
    d = derive(s)
    result = check_module(d, load_module(render_module(d), "kinds_net"))
    assert result.ok, result


BAD = [
    ({"shape": ["n", 3], "kind": "ohehot"}, "kind", "inputs.Y.kind"),
    ({"shape": ["n"], "kind": "label"}, "needs classes", "inputs.Y.classes"),
    ({"shape": ["n"], "kind": "label", "classes": 2.5}, "classes must be an integer", "inputs.Y.classes"),
    ({"shape": ["n"], "kind": "label", "classes": 0}, "classes must be an integer", "inputs.Y.classes"),
    ({"shape": ["n"], "kind": "label", "classes": "K"}, "not a size any shape declares", "inputs.Y.classes"),
    ({"shape": ["n", 3], "kind": "label", "classes": 3}, "labels have shape", "inputs.Y.shape"),
    ({"shape": ["n", 3], "kind": "onehot", "size": 3}, "'size' belongs to kind", "inputs.Y.size"),
    ({"shape": ["n", 3], "kind": "index"}, "needs size", "inputs.Y.size"),
    ({"shape": ["n", 3], "kind": "index", "size": 4, "grad": True}, "never differentiated", "inputs.Y.grad"),
    ({"shape": ["n", 3], "grad": "yes"}, "grad must be true or false", "inputs.Y.grad"),
    ({"kind": "onehot"}, "without 'shape'", "inputs.Y.shape"),
    ({"shape": ["n", 3], "kinds": "onehot"}, "unknown field 'kinds'", "inputs.Y.kinds"),
]


@pytest.mark.parametrize("table,words,node", BAD)
def test_bad_input_tables_name_the_field(table, words, node):
    with pytest.raises(SpecError) as info:
        spec(Y=table)
    assert words in str(info.value) and info.value.node == node


def test_an_integer_input_used_as_a_real_array_is_refused():
    with pytest.raises(SpecError, match="'Y'.*holds integers.*cannot be used as a real-valued array"):
        build_graph(spec(Y={"shape": ["n", 3], "kind": "index", "size": 5}))


def test_bad_kind_on_the_command_line_is_one_line_exit_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n[inputs]\nX = ["n", 3]\ny = { shape = ["n"], kind = "label", classes = 2.5 }\n'
                    '[params]\nW = [3, 1]\n[loss]\nexpr = "sum(X @ W)"\n')
    run = subprocess.run([sys.executable, "-m", "symgrad", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "classes" in run.stderr and "Traceback" not in run.stderr
