"""The hand-typed corpus (tests/data/verify_corpus.py): every correct answer
accepted, every wrong one rejected with its catalogued mistake named (issue 16)."""

import os
import sys

import pytest

from symgrad.parse import parse
from symgrad.verify.answer import verify_tree
from symgrad.verify.env import load_derivation
from symgrad.verify.latex import parse_latex

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
from verify_corpus import CORPUS  # noqa: E402


def test_corpus_size():
    correct = sum(e[4] == "correct" for e in CORPUS)
    assert len(CORPUS) >= 150 and correct >= 60 and len(CORPUS) - correct >= 40
    assert {e[2] for e in CORPUS if e[4] != "correct"} == {"expr", "latex"}


@pytest.mark.parametrize("spec,wrt,lang,text,expected", CORPUS, ids=[f"{e[0]}-{e[1]}-{e[2]}-{i}"
                                                                    for i, e in enumerate(CORPUS)])
def test_corpus_answer(spec, wrt, lang, text, expected):
    d = load_derivation(spec)
    tree = parse(text) if lang == "expr" else parse_latex(text, d)
    v = verify_tree(d, wrt, tree, time_limit=10)
    if expected == "correct":
        assert v.verdict == "correct", v.message
    else:
        assert v.verdict == "incorrect", v.message
        assert expected in [m["mistake"] for m in v.diagnosis], v.diagnosis
