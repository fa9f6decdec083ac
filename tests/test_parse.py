import time

import pytest

from symgrad.errors import ParseError
from symgrad.parse import BinOp, Call, Name, Num, Transpose, UnaryOp, parse


@pytest.mark.parametrize("text, expected", [
    ("a + b * c", BinOp("+", Name("a", 1), BinOp("*", Name("b", 5), Name("c", 9), 7), 3)),
    ("-x**2", UnaryOp("-", BinOp("**", Name("x", 2), Num(2, "2", 5), 3), 1)),
    ("A.T @ B", BinOp("@", Transpose(Name("A", 1), 2), Name("B", 7), 5)),
    ("sum(x, axis=1)", Call("sum", (Name("x", 5),), (("axis", Num(1, "1", 13)),), 1)),
])
def test_parses_with_python_precedence(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("W1; import os", "';'"),
    ("__import__('os')", "'__import__'"),
    ("x.__class__", "'__class__'"),
    ("lambda x: x", "found 'x' at column 8"),   # ':' is a token now (slices), so the name after lambda
    ("x[a for a in b]", "found 'for'"),
    ("x[::2]", "no step"),
    ("[a for a in b]", "'['"),
    ("f'{x}'", "\"'\""),
    ("1e999", "exponent 999"),
    ("(" * 500 + "x" + ")" * 500, "nests deeper"),
    ("x" * 10000, "limit"),
    ("(x + y", "expected ')'"),
    ("x +", "end of input"),
    ("", "empty"),
    ("\u0430 + b", "U+0430"),
    ("a b", "'b'"),
])
def test_refuses_hostile_or_broken_input_quickly(text, fragment):
    start = time.perf_counter()
    with pytest.raises(ParseError) as info:
        parse(text)
    assert time.perf_counter() - start < 0.1
    assert fragment in str(info.value)
