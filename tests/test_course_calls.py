"""The typed call-script builder (symgrad.profiles.calls) speaks the runner's format.

Each script is built with the builder and run by the runner's own step
interpreter (symgrad.verify._runner.Call) against a small module written
here; what the runner saved is compared with what the module computes.
"""

import types

import numpy as np
import pytest

from symgrad.profiles import calls
from symgrad.verify import _runner

SOURCE = '''
def affine(x, w, b):
    return x @ w + b

def both(a, b):
    return a * b, a + b

def as_dict(a, n):
    return {"scaled": a * n, "n": float(n)}

class Net:
    def __init__(self, size, name):
        self.size, self.name = size, name
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.grads["x"] = 2 * x + self.params["bias"]
        return x.sum() * self.size

class Pair:
    def __init__(self, a, b, node_name):
        self.a, self.b, self.node_name = a, b, node_name
        self.d_out = None

    def forward(self):
        self.out = self.a.out * self.b.out

    def backward(self):
        self.a.d_out = self.a.d_out + self.d_out * self.b.out

    def get_predecessors(self):
        return [self.b, self.a]
'''

INPUTS = {"x": np.array([1.0, 2.0, 3.0]), "w": np.array([0.5, -1.0, 2.0]), "b": np.asarray(0.25),
          "n": np.asarray(3.0), "bias": np.array([1.0, 1.0, 1.0]), "zero": np.zeros(3)}


class Log:
    def __init__(self):
        self.values = {}

    def value(self, name, array):
        self.values[name] = array


def run(script: calls.Script, torch=None) -> dict:
    module = types.ModuleType("submission")
    exec(compile(SOURCE, "submission.py", "exec"), module.__dict__)   # the test's own code
    log = Log()
    wire = script.wire()
    _runner.Call(module, INPUTS, np, torch).run(wire["steps"], log, wire["id"])
    return log.values


def test_top_level_function_saved_whole():
    got = run(calls.function_call("c", "affine", [calls.array("x"), calls.array("w"), calls.scalar("b")]))
    assert got == {"c": pytest.approx(INPUTS["x"] @ INPUTS["w"] + 0.25)}


def test_returned_dict_saved_by_key_and_tuple_by_index():
    got = run(calls.function_call("c", "as_dict", [calls.array("x"), calls.integer("n")], ["scaled", "n"]))
    assert np.allclose(got["c.scaled"], INPUTS["x"] * 3) and got["c.n"] == 3.0
    steps = (calls.Call("both", (calls.array("x"), calls.Const(2.0)), into="r"),
             calls.Save("product", calls.Index("r", 0)), calls.Save("sum", calls.Index("r", 1)))
    got = run(calls.Script("t", "both", steps))
    assert np.allclose(got["t.product"], INPUTS["x"] * 2) and np.allclose(got["t.sum"], INPUTS["x"] + 2)


def test_object_built_set_and_read():
    steps = (calls.Call("Net", (calls.Const(2),), {"name": calls.Const("net")}, into="net"),
             calls.SetItem("net", "params", "bias", calls.array("bias")),
             calls.Call("forward", (calls.array("x"),), on="net", into="y"),
             calls.Save("", calls.Slot("y")), calls.Save("gx", calls.Item("net", "grads", "x")),
             calls.Save("size", calls.Attr("net", "size")))
    got = run(calls.Script("o", "Net.forward", steps))
    assert got["o"] == 12.0 and np.allclose(got["o.gx"], 2 * INPUTS["x"] + 1) and got["o.size"] == 2.0


def test_leaves_setattr_and_members():
    steps = (calls.Leaf("a", calls.array("x")), calls.Leaf("b", calls.array("w")),
             calls.Call("Pair", kwargs={"a": calls.Slot("a"), "b": calls.Slot("b"), "node_name": calls.Const("p")},
                        into="node"),
             calls.Call("forward", on="node"), calls.Save("out", calls.Attr("node", "out")),
             calls.SetAttr("a", "d_out", calls.array("zero")), calls.SetAttr("node", "d_out", calls.array("bias")),
             calls.Call("backward", on="node"), calls.Save("d_a", calls.Attr("a", "d_out")),
             calls.Call("get_predecessors", on="node", into="preds"),
             calls.Save("preds", calls.Members("preds", ("a", "b"))))
    got = run(calls.Script("n", "Pair", steps))
    assert np.allclose(got["n.out"], INPUTS["x"] * INPUTS["w"]) and np.allclose(got["n.d_a"], INPUTS["w"])
    assert list(got["n.preds"]) == [1.0, 0.0]


def test_dict_argument_and_tensor():
    import torch
    _runner._TENSOR, _runner._TO_NUMPY = torch.Tensor, lambda t: t.detach().numpy()
    try:
        steps = (calls.Call("affine", (calls.tensor("x", "float64"), calls.tensor("w", "float64"), calls.scalar("b")),
                            into="r"), calls.Save("", calls.Slot("r")))
        got = run(calls.Script("t", "affine", steps), torch)
    finally:
        _runner._TENSOR = _runner._TO_NUMPY = None
    assert got["t"] == pytest.approx(INPUTS["x"] @ INPUTS["w"] + 0.25)
    assert calls.tensor("x").wire() == ["tensor", "x", "float32"]   # the course tests' default precision
    arg = calls.DictArg({"a": calls.array("x"), "k": calls.Const(1)})
    assert arg.wire() == ["dict", {"a": ["array", "x"], "k": ["const", 1]}]
