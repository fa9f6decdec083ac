"""The bundled makemore spec (issue 20's must-show: the backprop-ninja net with all
its intermediate adjoints): checked by finite differences, proven through its max,
rendered to LaTeX that compiles; and the engine fixes it needed."""

import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from symgrad import derive
from symgrad.check.numeric import check_module, load_module
from symgrad.check.proof import prove
from symgrad.emit.numpy_module import render_module
from symgrad.rules import RULES, apply
from symgrad.rules import extrema
from symgrad.spec import Spec, load_spec

# the exercise's tensors, in the order it asks for their adjoints
ADJOINTS = ["logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes",
            "logits", "h", "W2", "b2", "hpreact", "bngain", "bnbias", "bnraw", "bnvar_inv", "bnvar", "bndiff2",
            "bndiff", "bnmeani", "hprebn", "embcat", "W1", "b1", "emb", "C"]


@pytest.fixture(scope="module")
def d():
    return derive("makemore")


def test_every_adjoint_the_exercise_asks_for_is_returned(d):
    graph = d.graph
    assert len(ADJOINTS) == 26
    assert set(ADJOINTS) == set(graph.params) | set(d.spec.extra_gradients)
    shapes = {n: tuple(str(x) for x in v.shape) for n, v in graph.variables().items()}
    assert shapes["emb"] == ("B", "3", "10") and shapes["embcat"] == ("B", "30")
    assert shapes["logit_maxes"] == ("B", "1") and shapes["bnvar_inv"] == ("1", "64")
    assert (d.spec.kinds["Xb"].kind, d.spec.kinds["Xb"].bound, d.spec.kinds["Yb"].kind) == ("index", 27, "label")


def test_finite_differences_of_every_adjoint(d):
    """Before the step fix, probs and counts failed here (relative error 4e-5): an entry of 1e-6
    moved by the fixed floor 1e-7 measured the curvature of the log, not its slope."""
    module = load_module(render_module(d), "makemore")
    numeric = check_module(d, module, points=2, max_entries=60)
    assert {p.name for p in numeric.params} == set(ADJOINTS)
    assert numeric.ok, [(p.name, p.max_rel_error) for p in numeric.params if not p.ok]


def test_the_generated_module_at_the_exercise_sizes_against_a_direct_formula(d):
    """dlogits of the whole net equals (softmax - onehot)/B, computed here without symgrad."""
    module = load_module(render_module(d), "makemore")
    rng = np.random.default_rng(3)
    params = {n: rng.normal(size=tuple(int(x) for x in v.shape)) * 0.3 for n, v in d.graph.params.items()}
    xb, yb = rng.integers(0, 27, (32, 3)), rng.integers(0, 27, 32)
    xb[1] = xb[0]                                   # repeated indices
    inputs = {"Xb": xb, "Yb": yb}
    cache = module.forward(params, inputs)
    grads = module.backward(params, inputs, cache)
    logits = cache["logits"]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = p.copy()
    want[np.arange(32), yb] -= 1
    assert np.allclose(grads["logits"], want / 32, atol=1e-12)
    assert np.allclose(cache["loss"], -np.mean(np.log(p[np.arange(32), yb])))


def _small_makemore() -> Spec:
    """The same net (the bundled file's nodes and gradients) at small fixed sizes."""
    s = load_spec("makemore")
    return dataclasses.replace(
        s, inputs={"Xb": {"shape": ["B", 3], "kind": "index", "size": 4},
                   "Yb": {"shape": ["B"], "kind": "label", "classes": 3}},
        params={"C": [4, 2], "W1": [6, 3], "b1": [3], "bngain": [1, 3], "bnbias": [1, 3], "W2": [3, 3], "b2": [3]})


def test_every_step_of_the_net_is_proven_through_its_max():
    d = derive(_small_makemore())
    proof = prove(d)
    assert proof.ok, [s.describe() for s in proof.steps if not s.ok]
    assert sorted(s.target for s in proof.steps if s.kind == "adjoint") == sorted(d.order)
    assert proof.lemmas["max"] is True and proof.lemmas["log"] is True


def test_a_wrong_max_derivative_fails_at_the_step_through_max(monkeypatch):
    """max's VJP put on the first *minimum*: the step of logits (read by max) fails, and only it."""
    rule = RULES["max"]

    def wrong(g, r, a, axis=None, keepdims=False):
        return apply("mul", extrema.expand_back(g, a, axis, keepdims),
                     apply("first_extremum", a, axis=1, lowest=True))

    monkeypatch.setitem(RULES._rules, "max", dataclasses.replace(rule, vjps=(wrong,)))
    proof = prove(derive(_small_makemore()))
    failed = [s.describe() for s in proof.steps if s.failures]
    assert len(failed) == 1 and "adjoint of 'logits'" in failed[0] and "max input 0" in failed[0], failed


def test_the_max_lemma_fails_when_the_runtime_indicator_is_wrong(monkeypatch):
    assert extrema.prove_lemma("max") and extrema.prove_lemma("min")
    from symgrad import runtime
    monkeypatch.setattr(runtime, "first_extremum", lambda x, axis, lowest: np.ones(np.shape(x)))
    assert not extrema.prove_lemma("max")


def test_check_and_prove_on_the_command_line():
    run = subprocess.run([sys.executable, "-m", "symgrad", "check", "makemore", "--no-proof"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all gradients check" in run.stdout and "dlogits" not in run.stdout


def test_the_standalone_document_compiles(tmp_path):
    if shutil.which("pdflatex") is None:
        if os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1":
            pytest.fail("pdflatex is not installed (CI installs it)")
        pytest.skip("pdflatex is not installed")
    tex = tmp_path / "makemore.tex"
    run = subprocess.run([sys.executable, "-m", "symgrad", "latex", "makemore", "--standalone", "-o", str(tex)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    made = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout[-2000:]
    text = tex.read_text()
    assert "Fused forms" in text and r"\frac{1}{B} (\operatorname{softmax}" in text   # the answer key
    assert "Undefined control sequence" not in made.stdout
    assert (tmp_path / "makemore.pdf").stat().st_size > 1000


# -- fused views ([fused] table) ----------------------------------------------------------

def test_the_fused_views_of_the_exercise(d):
    from symgrad import names as naming
    from symgrad.emit.printers import NumpyPrinter
    from symgrad.evaluate import EvalContext
    from symgrad.fused_view import fused_views
    from symgrad.ir import Var, walk
    from symgrad.points import check_sizes, draw_leaves
    views = {v.target: v for v in fused_views(d)}
    assert NumpyPrinter().doprint(views["logits"].closed) == "1/B * (softmax(logits, axis=1) - one_hot(Yb, 27, dtype))"
    assert views["hprebn"].closed is None
    adjoints = {v.name for v in walk(views["hprebn"].expr) if isinstance(v, Var) and v.role == "adjoint"}
    assert adjoints == {"d_hpreact"}
    ctx = EvalContext(check_sizes(d.graph))
    leaves = draw_leaves(d.graph, list(d.graph.params.values()) + list(d.graph.inputs.values()), ctx,
                         np.random.default_rng(1))
    from symgrad.evaluate import evaluate
    values = d.values(leaves, ctx)
    for t in ("logits", "hprebn"):
        assert np.allclose(evaluate(views[t].expr, values, ctx), values[naming.adjoint(t)], rtol=1e-10, atol=1e-13)
    assert np.allclose(evaluate(views["logits"].closed, values, ctx), values["d_logits"], atol=1e-12)


def _softmax_spec(loss: str, fused=None) -> Spec:
    return Spec(name="sm", inputs={"X": ["n", 4], "y": {"shape": ["n"], "kind": "label", "classes": 3}},
                params={"W": [4, 3]},
                nodes={"z": "X @ W", "e": "exp(z)", "p": "e / sum(e, axis=1, keepdims=True)"},
                loss=loss, fused=fused or {"z": "loss"})


def test_a_closed_form_only_where_it_holds():
    from symgrad.emit.printers import NumpyPrinter
    from symgrad.fused_view import fused_views
    (mean,) = fused_views(derive(_softmax_spec("-mean(pick(log(p), y))")))
    assert NumpyPrinter().doprint(mean.closed) == "1/n * (softmax(z, axis=1) - one_hot(y, 3, dtype))"
    (total,) = fused_views(derive(_softmax_spec("-sum(pick(log(p), y))")))
    assert NumpyPrinter().doprint(total.closed) == "softmax(z, axis=1) - one_hot(y, 3, dtype)"
    (other,) = fused_views(derive(_softmax_spec("-mean(pick(p, y))")))     # not a log-likelihood
    assert other.closed is None and other.expr is not None


@pytest.mark.parametrize("fused, words", [
    ({"nope": "loss"}, "not a parameter or node"),
    ({"z": "nope"}, "give a node it flows into"),
    ({"e": "z"}, "does not flow into"),
    ({"z": "e"}, None),
])
def test_bad_fused_tables(fused, words):
    from symgrad.errors import SymgradError
    from symgrad.fused_view import fused_views
    if words is None:    # e is on every path from z to the loss: fine
        assert fused_views(derive(_softmax_spec("-mean(pick(log(p), y))", fused)))
        return
    with pytest.raises(SymgradError, match=words):
        fused_views(derive(_softmax_spec("-mean(pick(log(p), y))", fused)))


def test_a_start_that_some_path_bypasses_is_refused():
    from symgrad.errors import SymgradError
    from symgrad.fused_view import fused_views
    s = dataclasses.replace(_small_makemore(), fused={"hprebn": "bnmeani"})   # hprebn also reaches bndiff directly
    with pytest.raises(SymgradError, match="not every path from 'hprebn'"):
        fused_views(derive(s))


def test_a_bad_fused_table_on_the_command_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n[inputs]\nX = ["n", 2]\n[params]\nW = [2, 1]\n[nodes]\nZ = "X @ W"\n'
                    '[loss]\nexpr = "sum(Z**2)"\n[fused]\nZ = "Q"\n')
    run = subprocess.run([sys.executable, "-m", "symgrad", "latex", str(path)], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "[fused] Z = 'Q'" in run.stderr
