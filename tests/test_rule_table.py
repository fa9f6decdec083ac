"""The rule table is the only description of an operation.

(a) a rule that lacks a field some consumer needs is refused when it is declared;
(b) every rule's vector-Jacobian products agree with central finite differences of
    its own forward evaluation, at points drawn from its declared domain, away from
    its kinks, on every sample its rule declares (one table, as JAX's per-primitive
    tests);
(c) an element-wise function and a reduction, each registered in one place, are known
    to the spec parser, the answer language, the LaTeX reader, both printers and the
    derivation, with no other edit.
"""

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import check_module, load_module
from symgrad.evaluate import EvalContext, evaluate
from symgrad.graph import callable_functions
from symgrad.ir import Apply, Const, Var, dim
from symgrad.parse import parse
from symgrad.rules import RULES, Printed, apply
from symgrad.rules.core import ARRAYS, CALL, SPEC, lacking
from symgrad.rules.elementwise import X, elementwise
from symgrad.rules.reduce import expand_back, reduce_kw, reduction
from symgrad.verify.exprtext import to_text

RULE_NAMES = RULES.names()


# -- (a) a rule lacking what a consumer needs --------------------------------

@pytest.mark.parametrize("name", RULE_NAMES)
def test_every_rule_has_what_its_consumers_need(name):
    assert lacking(RULES[name]) == []


@pytest.mark.parametrize("base,change,field", [
    ("tanh", {"sympy": None}, "sympy"),                      # the IR -> sympy form of element-wise code
    ("sum", {"signature": ()}, "signature"),                  # the spec parser binds calls by it
    ("add", {"spelling": None}, "spelling"),                  # the parser and the answer printer spell it
    ("neg", {"syntax": "prefixx"}, "syntax"),
    ("relu", {"latex_words": ("Re LU",)}, "latex_words"),     # the LaTeX reader
    ("mul", {"domain": ("real",)}, "domain"),                 # the gradient test samples by it
    ("matmul", {"samples": ()}, "samples"),
    ("exp", {"numpy": None}, "numpy"),
    ("exp", {"vjps": ()}, "vjps"),
    ("pow", {"signature": RULES["neg"].signature}, "signature"),
])
def test_a_rule_lacking_a_field_is_refused(base, change, field):
    broken = replace(RULES[base], name=f"{base}_broken", **change)
    assert any(problem.startswith(field) for problem in lacking(broken)), lacking(broken)
    with RULES.scope(), pytest.raises(ValueError, match=f"incomplete: .*{field}"):
        RULES.add(broken)
    assert f"{base}_broken" not in RULES


# -- (b) one gradient test over every rule ------------------------------------

def _draw(rng, domain: str, shape, kinks) -> np.ndarray:
    """Entries of one input: its domain's values, at least 0.2 from every kink (an index: 0 or 1)."""
    if domain == "index":
        return rng.integers(0, 2, shape)
    while True:
        mag = rng.uniform(0.3, 1.6, shape)
        x = mag if domain == "positive" else mag * rng.choice([-1.0, 1.0], shape)
        if domain == "real":
            x = x + rng.uniform(-0.2, 0.2, shape)
        if all(np.all(np.abs(x - float(k)) > 0.2) for k in kinks):
            return x


def _cases():
    for rule in RULES:
        if rule.internal:   # the compiled step's own parts: never differentiated (no VJP to test)
            continue
        for k, (shapes, attrs) in enumerate(rule.samples):
            yield pytest.param(rule.name, shapes, attrs, id=f"{rule.name}-{k}")


@pytest.mark.parametrize("name,shapes,attrs", list(_cases()))
def test_vjp_matches_finite_differences(name, shapes, attrs):
    rule = RULES[name]
    rng = np.random.default_rng(sum(map(ord, name)) + len(shapes))
    args = [Var(f"a{i}", tuple(dim(d) for d in s), "input") for i, s in enumerate(shapes)]
    node = apply(name, *args, **attrs)
    assert isinstance(node, Apply) and node.op == name, f"sample {attrs} of {name} simplifies away"
    ctx = EvalContext({})
    values = {a.name: _draw(rng, rule.input_domain(min(i, (rule.arity or 1) - 1)), s, rule.kinks)
              for i, (a, s) in enumerate(zip(args, shapes))}
    forward = np.asarray(evaluate(node, values, ctx), dtype=float)
    assert forward.shape == tuple(int(d) for d in node.shape)
    if not any(rule.differentiable(i) for i in range(len(args))):
        assert all(rule.vjp(i) is None for i in range(len(args)))
        return
    cotangent = rng.standard_normal(forward.shape)
    g, r = Var("g", node.shape, "adjoint"), Var("r", node.shape, "node")
    for i, a in enumerate(args):
        vjp = rule.vjp(i)
        if vjp is None:
            continue
        got = evaluate(vjp(g, r, *node.args, **node.kw), {**values, "g": cotangent, "r": forward}, ctx)
        got = np.broadcast_to(np.asarray(got, dtype=float), values[a.name].shape)
        want = np.zeros(values[a.name].shape)
        h = 1e-6
        for idx in np.ndindex(*want.shape):
            up, down = values[a.name].copy(), values[a.name].copy()
            up[idx] += h
            down[idx] -= h
            f_up = np.sum(cotangent * evaluate(node, {**values, a.name: up}, ctx))
            f_down = np.sum(cotangent * evaluate(node, {**values, a.name: down}, ctx))
            want[idx] = (f_up - f_down) / (2 * h)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=f"{name}, input {i}, {attrs}")


# -- (c) one registration, every consumer ---------------------------------------

def _bent():
    # the "bent identity", declared by its formula only: nothing else in symgrad names it
    return elementwise("bent_test", (sp.sqrt(X ** 2 + 1) - 1) / 2 + X, latex=r"\operatorname{bent}",
                       doc="(sqrt(x^2 + 1) - 1) / 2 + x")


def _sumsq():
    # a reduction, the sum of squares: its VJP is 2 x times g spread back over the reduced axes
    def latex(args, node, ctx):
        axis = node.kw.get("axis")
        return Printed(rf"\operatorname{{sumsq}}{'' if axis is None else f'_{{{axis}}}'}\left({args[0].text}\right)")

    return reduction(
        "sumsq_test",
        vjp=lambda g, r, x, axis=None, keepdims=False: apply(
            "mul", apply("mul", Const(2), x), expand_back(g, x, axis, keepdims)),
        numpy=lambda args, node, ctx: Printed(f"np.sum(np.square({args[0].text}){reduce_kw(node)})"),
        latex=latex,
        evaluate=lambda args, node, ctx: np.sum(args[0] * args[0], axis=node.kw.get("axis"),
                                                keepdims=bool(node.kw.get("keepdims"))),
        latex_words=("sumsq",), doc="sum of squares along an axis")


@pytest.fixture
def two_new_operations():
    with RULES.scope():
        _bent()
        _sumsq()
        yield
    assert "bent_test" not in RULES and "sumsq_test" not in RULES


def _spec():
    return Spec(name="newops", inputs={"X": ["n", 3]}, params={"W": [3, 4]},
                nodes={"H": "bent_test(X @ W)", "S": "sumsq_test(H, axis=1)"}, loss="mean(S)")


def _bent_np(z):
    return (np.sqrt(z ** 2 + 1) - 1) / 2 + z


def test_new_operations_are_in_the_spec_language(two_new_operations):
    assert {"bent_test", "sumsq_test"} <= set(callable_functions())
    d = derive(_spec())
    ops = {n.expr.op for n in d.graph.nodes}
    assert {"bent_test", "sumsq_test"} <= ops
    assert RULES.spelled(CALL, "sumsq_test", SPEC) is RULES["sumsq_test"]


def test_new_operations_derive_and_print_as_numpy(two_new_operations, rng):
    d = derive(_spec())
    text = render_module(d)
    assert "np.square(H)" in text and "(1 + H_1 ** 2) ** 0.5" in text
    module = load_module(text, "newops")
    check = check_module(d, module, seed=3)
    assert check.ok, [(p.name, p.max_rel_error) for p in check.params]
    params, inputs = {"W": rng.standard_normal((3, 4))}, {"X": rng.standard_normal((5, 3))}
    h = _bent_np(inputs["X"] @ params["W"])
    np.testing.assert_allclose(module.forward(params, inputs)["loss"], np.mean(np.sum(h ** 2, axis=1)), rtol=1e-13)


def test_new_operations_print_as_latex(two_new_operations):
    from symgrad.emit.latex_doc import render_latex
    tex = render_latex(derive(_spec()))
    assert r"\operatorname{bent}" in tex and r"\operatorname{sumsq}_{1}" in tex


def test_new_operations_in_the_answer_language(two_new_operations):
    from symgrad.verify.answer import truth_text, verify_answer
    d = derive(_spec())
    s = d.graph.node("S").expr
    assert to_text(s) == "sumsq_test(H, axis=1)"
    assert to_text(d.graph.node("H").expr).startswith("bent_test(")
    assert verify_answer(d, "W", truth_text(d, "W"), time_limit=2).verdict == "correct"
    # written by hand: X^T (dL/dH * bent'(X W)), bent' = 1/2 x / sqrt(x^2 + 1) + 1
    hand = "X.T @ (d_H * ((X @ W) / (2 * ((X @ W)**2 + 1)**(1/2)) + 1))"
    assert verify_answer(d, "W", hand, time_limit=2).verdict == "correct"
    assert verify_answer(d, "W", "X.T @ d_H", time_limit=2).verdict == "incorrect"


def test_new_operations_in_the_latex_reader(two_new_operations, rng):
    from symgrad.verify.answer import verify_tree
    from symgrad.verify.env import lower_answer
    from symgrad.verify.latex import parse_latex
    d = derive(_spec())
    tree = parse_latex(r"\operatorname{sumsq}_{1}\left(\operatorname{bent}(X W)\right)", d)
    lowered = lower_answer(d, tree)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    got = evaluate(lowered, {"X": x, "W": w}, EvalContext({sp.Symbol("n", integer=True, positive=True): 4}))
    np.testing.assert_allclose(got, np.sum(_bent_np(x @ w) ** 2, axis=1), rtol=1e-13)
    # the prime is the rule's own derivative
    prime = parse_latex(r"X^\top \left(\frac{\partial L}{\partial H} \odot \operatorname{bent}'(X W)\right)", d)
    assert verify_tree(d, "W", prime, time_limit=2).verdict == "correct"


# -- the reader's primes come from the rules, for the functions it used to know by hand --

@pytest.mark.parametrize("func,tex", [("sigmoid", r"\sigma'"), ("tanh", r"\tanh'"), ("relu", r"\operatorname{ReLU}'"),
                                      ("exp", r"\exp'"), ("softplus", r"\operatorname{softplus}'")])
def test_prime_reads_as_the_derivative(func, tex, rng):
    from symgrad.verify.env import lower_answer
    from symgrad.verify.latex import parse_latex
    d = derive(Spec(name="primes", inputs={"z": [5]}, params={"w": [5]}, nodes={}, loss=f"sum({func}(z * w))"))
    value = lower_answer(d, parse_latex(tex + "(z)", d))
    z = rng.standard_normal(5) * 2
    got = evaluate(value, {"z": z}, EvalContext({}))
    sig = 1 / (1 + np.exp(-z))
    want = {"sigmoid": sig * (1 - sig), "tanh": 1 - np.tanh(z) ** 2, "relu": (z > 0).astype(float),
            "exp": np.exp(z), "softplus": sig}[func]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_prime_the_language_cannot_write_is_refused():
    from symgrad.errors import ParseError
    from symgrad.verify.latex import parse_latex
    d = derive(Spec(name="erfs", inputs={"z": [5]}, params={"w": [5]}, nodes={}, loss="sum(erf(z * w))"))
    with pytest.raises(ParseError, match="derivative of erf explicitly"):
        parse_latex(r"\operatorname{erf}'(z)", d)


def test_answer_text_reads_back_for_every_spelled_rule():
    # every rule with a spelling prints answer text that parses to a call of itself (or its operator)
    for rule in RULES:
        if not rule.language:
            continue
        shapes, attrs = rule.samples[0]
        args = [Var(f"a{i}", tuple(dim(d) for d in s), "input") for i, s in enumerate(shapes)]
        node = apply(rule.name, *args, **attrs)
        tree = parse(to_text(node))
        assert (getattr(tree, "func", None) or getattr(tree, "op", None) or ".T") == rule.spelling, rule.name
        if any(a.kind == ARRAYS for a in rule.signature):
            assert len(tree.args) == len(args)
