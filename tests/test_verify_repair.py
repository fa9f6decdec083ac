"""Mistakes that break shapes are still named (issue 16): the answer's own
edits (a transpose added, * for @, factors swapped) that make it correct."""

import os
import sys

import pytest

from symgrad.errors import ShapeError
from symgrad.parse import parse
from symgrad.verify.answer import verify_tree
from symgrad.verify.env import load_derivation, lower_answer
from symgrad.verify.latex import parse_latex

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
from verify_corpus import CORPUS  # noqa: E402


def _tree(d, lang, text):
    return parse(text) if lang == "expr" else parse_latex(text, d)


def _shape_breaking(entry):
    spec, _, lang, text, _ = entry
    d = load_derivation(spec)
    try:
        lower_answer(d, _tree(d, lang, text))
    except ShapeError:
        return True
    return False


BROKEN = [e for e in CORPUS if e[4] in ("missing_transpose", "hadamard_vs_matmul") and _shape_breaking(e)]


def test_the_corpus_has_the_shape_breaking_cases_the_issue_counts():
    kinds = [e[4] for e in BROKEN]
    assert kinds.count("missing_transpose") >= 9 and kinds.count("hadamard_vs_matmul") >= 3


@pytest.mark.parametrize("spec,wrt,lang,text,mistake", BROKEN, ids=[f"{e[0]}-{e[1]}-{e[3]}" for e in BROKEN])
def test_shape_breaking_mistake_is_named_with_its_repair(spec, wrt, lang, text, mistake):
    d = load_derivation(spec)
    v = verify_tree(d, wrt, _tree(d, lang, text), time_limit=5)
    assert v.verdict == "incorrect"
    assert "do not fit" in v.message
    named = {m["mistake"]: m["message"] for m in v.diagnosis}
    assert mistake in named, v.diagnosis
    assert "fits and is correct" in named[mistake]


def test_repaired_formula_is_shown_and_is_itself_correct():
    d = load_derivation("titanic")
    v = verify_tree(d, "W1", parse("A @ (d_C * step(B))"), time_limit=5)
    message = next(m["message"] for m in v.diagnosis if m["mistake"] == "missing_transpose")
    repaired = message.split("Repaired: ")[-1].removesuffix(" fits and is correct.")
    assert verify_tree(d, "W1", parse(repaired), time_limit=5).verdict == "correct"


def test_an_answer_no_edit_repairs_stays_unknown():
    d = load_derivation("titanic")
    v = verify_tree(d, "W1", parse("A @ A"), time_limit=5)
    assert v.verdict == "incorrect" and [m["mistake"] for m in v.diagnosis] == ["unknown"]


def test_two_mistakes_at_once_are_named_with_the_formula_that_undoes_both():
    d = load_derivation("titanic")
    v = verify_tree(d, "W2", parse("D @ (2*(yhat - y))"), time_limit=5)
    named = {m["mistake"]: m["message"] for m in v.diagnosis}
    assert {"missing_transpose", "missing_mean_factor"} <= set(named), v.diagnosis
    repaired = named["missing_transpose"].split("): ")[-1].removesuffix(" fits and is correct.")
    assert verify_tree(d, "W2", parse(repaired), time_limit=5).verdict == "correct", repaired


def test_the_ones_column_kept_is_dropped_by_the_repair():
    d = load_derivation("titanic")
    v = verify_tree(d, "W1", parse("A.T @ ((2/n*(yhat - y)) @ W2.T * step(B))"), time_limit=5)
    assert "do not fit" in v.message and [m["mistake"] for m in v.diagnosis] == ["concat_ones_kept"]


def test_the_search_says_when_it_gave_up(monkeypatch):
    from symgrad.verify import repair
    monkeypatch.setattr(repair, "MAX_CANDIDATES", 2)
    d = load_derivation("titanic")
    v = verify_tree(d, "W1", parse("A @ A"), time_limit=5)
    assert "stopped at its bound" in v.message and [m["mistake"] for m in v.diagnosis] == ["unknown"]


@pytest.mark.parametrize("c,names,factor", [
    (0.5, ["missing_factor_2"], "2"),
    (-1.0, ["sign_error"], "-1"),
    (6.0, ["missing_mean_factor"], "1/n"),
    (1 / 6, ["extra_mean_factor"], "n"),
    (-3.0, ["sign_error", "missing_factor_2", "missing_mean_factor"], "-1 * 2 * 1/n"),
    (1 / 36, [], ""),
    (1.7, [], ""),
])
def test_constant_factors_name_their_mistakes(c, names, factor):
    from symgrad.verify.repair import factor_mistakes
    assert factor_mistakes(c, [(6, "n")]) == (names, factor)
