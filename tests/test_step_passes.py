"""The compiled step's internal rules and the claim its docstring makes about allocation."""

import tracemalloc

import numpy as np
import pytest

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import load_module
from symgrad.emit.printers import NumpyPrinter
from symgrad.emit.step import out_form
from symgrad.errors import SymgradError
from symgrad.graph import callable_functions
from symgrad.ir import Apply, Const, Var, dim
from symgrad.rules import RULES

INTERNAL = ("shift_max", "min0", "sigmoid_neg", "log1p", "scaled_recip_1p", "dot")


def test_the_steps_operations_are_internal_rules():
    """Each private operation of the step is a rule of the table, marked internal, and only those."""
    internal = sorted(r.name for r in RULES if r.internal)
    assert internal == sorted(INTERNAL)
    for name in INTERNAL:
        rule = RULES[name]
        assert rule.family == "step" and name not in callable_functions()
        assert not any(rule.differentiable(k) for k in range(rule.arity))


@pytest.mark.parametrize("name", ["min0", "sigmoid_neg", "scaled_recip_1p", "dot"])
def test_the_spec_language_refuses_an_internal_operation(name):
    spec = Spec(name="uses_internal", inputs={"X": ["n", 3]}, params={"W": [3, 3]},
                nodes={"H": f"{name}(X @ W, X)" if RULES[name].arity == 2 else f"{name}(X @ W)"},
                loss="mean(H)")
    with pytest.raises(SymgradError, match=f"unknown function '{name}'"):
        derive(spec)


def test_the_answer_language_refuses_an_internal_operation():
    from symgrad.verify.answer import verify_answer
    spec = Spec(name="answers", inputs={"X": ["n", 3], "Y": ["n", 3]}, params={"W": [3, 3]},
                nodes={"Z": "X @ W"}, loss="mse(Z, Y)")
    with pytest.raises(SymgradError, match="min0"):
        verify_answer(spec, "W", "X.T @ min0(Z - Y)")


B = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
SCALARS = {   # op -> (node over the 0-d Var b (and c), expected value at b = each of B), by hand
    "min0": (Apply("min0", (Var("b", ()),), (), ()), np.where(B < 0, B, 0.0)),
    "sigmoid_neg": (Apply("sigmoid_neg", (Var("b", ()),), (), ()), np.exp(-B) / (1 + np.exp(-B))),
    "log1p": (Apply("log1p", (Var("b", ()),), (), ()), np.log(1 + np.abs(B))),
    "scaled_recip_1p": (Apply("scaled_recip_1p", (Var("b", ()), Const(dim("n") / 4)), (), ()), 2 / (1 + B)),
}


@pytest.mark.parametrize("op", list(SCALARS))
def test_an_internal_rule_prints_a_result_with_no_array(op):
    """A 0-d result (softplus of a scalar parameter) is printed with the rule's numpy form."""
    from symgrad import runtime
    node, expected = SCALARS[op]
    printer = NumpyPrinter()
    assert out_form(op) is not None
    code = printer.doprint(node)
    for b, want in zip(np.abs(B) if op == "log1p" else B, expected):
        got = eval(code, {**vars(runtime), "np": np, "n": 8, "b": b})   # noqa: S307 -- code symgrad printed
        assert got == pytest.approx(want, rel=1e-12), (code, b)


def test_dot_prints_a_mean_of_a_product():
    a, b = Var("a", (dim(4), dim("n"))), Var("b", (dim(4), dim("n")))
    code = NumpyPrinter().doprint(Apply("dot", (a, b), (("count", 4 * dim("n")),), ()))
    x, y = np.arange(12.0).reshape(4, 3), np.ones((4, 3))
    assert eval(code, {"np": np, "a": x, "b": y, "n": 3}) == pytest.approx(x.mean())   # noqa: S307


# -- the docstring of loss_and_grads_into tells whether a call allocates ------

#: numpy may cast through its fixed-size ufunc buffers (8192 entries) and makes small
#: objects (views, the result dict); every array a net below allocates is far larger.
SMALL = 256 * 1024
WIDE = 600


def _row_net(name, nodes, loss, width=6):
    return Spec(name=name, inputs={"X": ["n", width], "Y": ["n", width]},
                params={"W1": [width, width], "b1": [width], "W2": [width, width]}, nodes=nodes, loss=loss)


NETS = {   # name -> (spec, batch size for "n")
    "relu_mse": (_row_net("relu_mse", {"H": "relu(X @ W1 + b1)", "Z": "H @ W2"}, "mse(Z, Y)"), 8192),
    "sigmoid_bce": (_row_net("sigmoid_bce", {"H": "sigmoid(X @ W1 + b1)", "P": "sigmoid(H @ W2)"},
                             "bce(P, Y)"), 8192),
    "titanic": ("titanic", 65536),                       # concat and ones: no out= form
    "erf": (_row_net("erf", {"H": "erf(X @ W1 + b1)", "Z": "H @ W2"}, "mse(Z, Y)"), 8192),
    "vectors": (Spec(name="vectors", inputs={"x": [WIDE], "y": [3]}, params={"W1": [WIDE, WIDE], "W2": [3, WIDE]},
                     nodes={"h": "tanh(W1 @ x)", "z": "W2 @ h"}, loss="sq_norm(z - y)"), None),   # outer
}


def _claims_nothing(doc: str) -> bool:
    return "allocates nothing" in " ".join(doc.split())


@pytest.mark.parametrize("name", list(NETS))
def test_the_step_allocates_exactly_when_its_docstring_says_so(name):
    """The docstring is derived from the buffers pass; the second call in a workspace is
    measured: no array beyond numpy's own buffers when it says so, arrays when it names
    operations that allocate."""
    spec, batch = NETS[name]
    module = load_module(render_module(derive(spec)), f"alloc_{name}")
    doc = module.loss_and_grads_into.__doc__
    rng = np.random.default_rng(0)

    def shape(s):
        return tuple(batch if isinstance(d, str) else d for d in s)

    params = {k: rng.standard_normal(shape(s)) * 0.1 for k, s in module.PARAMS.items()}
    inputs = {k: rng.uniform(0.1, 0.9, shape(s)) for k, s in module.INPUTS.items()}
    workspace = module.Workspace()
    module.loss_and_grads_into(params, inputs, workspace)
    tracemalloc.start()
    module.loss_and_grads_into(params, inputs, workspace)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if _claims_nothing(doc):
        assert peak < SMALL, f"the docstring says nothing is allocated, a call allocated {peak} bytes:\n{doc}"
    else:
        assert "numpy allocates" in doc or "new arrays" in doc, doc
        assert peak > SMALL, f"the docstring says a call allocates, it allocated {peak} bytes:\n{doc}"


def test_both_docstrings_occur():
    """The test above sees nets of both kinds (else it could not fail either way)."""
    claims = {name: _claims_nothing(render_module(derive(spec)).split("def loss_and_grads_into")[1])
              for name, (spec, _) in NETS.items()}
    assert claims == {"relu_mse": True, "sigmoid_bce": True, "titanic": False, "erf": False, "vectors": False}


# -- passes alone, each over an operation list ---------------------------------

def _list(*pairs):
    from symgrad.emit.step import Op
    return [Op(target, node) for target, node in pairs]


def test_rewrite_turns_a_mean_of_a_product_into_one_dot_product():
    from symgrad.emit.step.rewrite import rewrite
    shape = (dim(4), dim("n"))
    a, b = Var("a", shape, "input"), Var("b", shape, "input")
    p = Var("p", shape, "temp")
    ops = _list(("p", Apply("mul", (a, b), (), shape)), ("m", Apply("mean", (p,), (("axis", None),), ())))
    out = rewrite(ops, [Var("m", (), "temp")], fresh=lambda: "unused")
    assert [(op.target, op.node.op, op.node.args, op.node.kw["count"]) for op in out] == [("m", "dot", (a, b),
                                                                                         4 * dim("n"))]


def test_buffers_write_an_element_wise_chain_in_place_and_keep_the_results():
    from symgrad.emit.step.buffers import assign_buffers
    shape = (dim("n"), dim(3))
    x = Var("x", shape, "input")
    t, u = Var("t", shape, "temp"), Var("u", shape, "temp")
    ops = _list(("t", Apply("exp", (x,), (), shape)), ("u", Apply("tanh", (t,), (), shape)),
                ("v", Apply("neg", (u,), (), shape)), ("w", Apply("exp", (x,), (), shape)))
    buffers = assign_buffers(ops, keep={"v", "w"})
    assert [op.buffer for op in ops] == ["_b0", "_b0", "_b0", "_b1"]   # w may not take v's array: v is kept
    assert buffers == [(shape, "float"), (shape, "float")]
