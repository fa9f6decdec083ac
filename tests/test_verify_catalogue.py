"""The mistake catalogue: for every bundled spec, every mistake variant the
catalogue builds is written out as an answer (spec expression and LaTeX) and
verify must name that mistake; the true answer is accepted in three spellings."""

import pytest

from symgrad.emit.printers import LatexIRPrinter
from symgrad.spec import bundled_names
from symgrad.verify.answer import verify_tree
from symgrad.verify.env import AnswerLowering
from symgrad.verify.exprtext import to_text
from symgrad.verify.latex import parse_latex
from symgrad.verify.mistakes import MISTAKES, REPAIR_ONLY, semi_expanded, variants
from symgrad.parse import parse

BUNDLED = bundled_names()
BATCH_BIAS = dict(name="batchbias", inputs={"X": ["n", 3], "y": ["n", 2]}, params={"W": [3, 2], "b": [2]},
                  nodes={"z": "X @ W + b"}, loss="mean((z - y)**2)")


def _derivation(name):
    """The derivation verify judges against (the spec as written, unfused)."""
    from symgrad.verify.env import load_derivation
    if name == "batchbias":
        from symgrad import Spec
        return load_derivation(Spec(**BATCH_BIAS))
    return load_derivation(name)


def _cases():
    for spec in BUNDLED + ["batchbias"]:
        d = _derivation(spec)
        # parameters everywhere; intermediate nodes where a mistake only shows there (the ones column)
        nodes = [n.name for n in d.graph.entry_nodes() if n.name in d.contributions] if spec == "titanic" else []
        for target in list(d.graph.params) + nodes:
            yield spec, target


CASES = list(_cases())


@pytest.mark.parametrize("spec,target", CASES)
def test_every_variant_is_named(spec, target):
    d = _derivation(spec)
    printer = LatexIRPrinter(dict(d.spec.latex))
    lowering = AnswerLowering(d)
    judged_wrong = 0
    for v in variants(d, target):
        latex = parse_latex(printer.doprint(v.expr), d)
        assert lowering.lower(latex).shape == v.expr.shape, printer.doprint(v.expr)
        answers = [("expr", parse(to_text(v.expr))), ("latex", latex)]
        for kind, tree in answers:
            verdict = verify_tree(d, target, tree, time_limit=0.2, points=8)
            if verdict.verdict == "correct":
                continue  # a rewrite that happens to be equal everywhere (e.g. step(relu(x)) = step(x))
            judged_wrong += 1
            named = [m["mistake"] for m in verdict.diagnosis]
            for mistake in v.mistake.split("+"):
                assert mistake in named, (kind, v.mistake, to_text(v.expr), verdict.as_json())
    assert judged_wrong > 0


def test_every_mistake_is_named_somewhere():
    named = set()
    # + an input's gradient through batch statistics (the bundled specs have none): statistics_as_constants
    for spec, target in CASES + [("cs231n_batchnorm", "x")]:
        d = _derivation(spec)
        for v in variants(d, target):
            verdict = verify_tree(d, target, parse(to_text(v.expr)), time_limit=0.2, points=8)
            if verdict.verdict == "incorrect":
                named |= {m["mistake"] for m in verdict.diagnosis} & set(v.mistake.split("+"))
    assert named == set(MISTAKES) - {"unknown"} - set(REPAIR_ONLY)


@pytest.mark.parametrize("spec", BUNDLED)
def test_true_answer_accepted_in_three_spellings(spec):
    d = _derivation(spec)
    printer = LatexIRPrinter(dict(d.spec.latex))
    for target in d.graph.params:
        truth = semi_expanded(d, target)
        spellings = [parse(to_text(truth)),                       # in forward values
                     parse(to_text(d.adjoint(target))),           # with d_<name> adjoints
                     parse_latex(printer.doprint(truth), d)]      # LaTeX with display names
        for tree in spellings:
            verdict = verify_tree(d, target, tree, time_limit=5, points=12)
            assert verdict.verdict == "correct", verdict.as_json()
