"""Hostile input for both answer readers: refused fast, with the token named, nothing run."""

import os
import time

import pytest

from symgrad import derive
from symgrad.errors import SymgradError
from symgrad.verify.answer import verify_answer, verify_tree
from symgrad.verify.latex import parse_latex

D = derive("pset3")

EXPR = [
    ("__import__('os').system('touch /tmp/pwned')", "__import__"),
    ("W1.__class__", "__class__"),
    ("lambda: W1", ":"),
    ("import os", "os"),
    ("f'{W1}'", "'"),
    ("[w for w in W1]", "["),
    ("9**9**9", "plain number"),
    ("(W0**999)**999", "999"),
    ("1e999", "1e999"),
    ("W0 + " * 2000 + "W0", "10002"),
    ("(" * 500 + "W0" + ")" * 500, "deeper"),
    ("W0 * (1/0)", "not finite"),
    ("nan * W0", "nan"),
    ("(W0 + x", "end of input"),
    ("W0 + x)", "')'"),
    ("W\u0430 * x", "U+0430"),        # Cyrillic a
    ("W\uff10 * x", "\uff10"),        # full-width 0
]

LATEX = [
    (r"\input{/etc/passwd}", r"\input"),
    (r"\def\x{1}", r"\def"),
    ("__import__", "_"),
    ("lambda: W", "l"),
    (r"\frac{1}{0} W^{0}", "not finite"),
    ("{" * 500 + "W^{0}" + "}" * 500, "deeper"),
    ("W^{0} + " * 1500, "characters"),
    (r"\left( W^{0}", "end of input"),
    ("W\u0430", "U+0430"),
    (r"\mathbb{1}[W^{0} > 1] W^{0}", "0"),
]


@pytest.fixture(autouse=True)
def nothing_executed():
    yield
    assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize("text,token", EXPR, ids=[f"expr{i}" for i in range(len(EXPR))])
def test_expr_refused_naming_token(text, token):
    with pytest.raises(SymgradError) as err:
        verify_answer(D, "W0", text)
    assert token in str(err.value)


@pytest.mark.parametrize("text,token", LATEX, ids=[f"latex{i}" for i in range(len(LATEX))])
def test_latex_refused_naming_token(text, token):
    with pytest.raises(SymgradError) as err:
        verify_tree(D, "W0", parse_latex(text, D), time_limit=1)
    assert token in str(err.value)


def test_huge_legal_comparison_is_undetermined_in_time():
    """The time limit holds (a bound of 4x the limit, not a speed measurement; refusal
    speeds are measured in benchmarks/hostile_answers.py)."""
    start = time.perf_counter()
    v = verify_answer(D, "W0", "((1000 * (W0 + x + y))**64)**64", time_limit=1.5)
    assert v.verdict == "undetermined", v.as_json()
    assert v.exit_status == 2
    assert time.perf_counter() - start < 6
