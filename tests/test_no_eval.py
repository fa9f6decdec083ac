"""User strings never reach eval, exec, sympify or parse_expr.

symgrad parses with its own parsers; sympy conversion goes through one door,
ir.as_sympy, which refuses text. These tests keep it that way.
"""

import ast
from pathlib import Path

import pytest

from symgrad.ir import as_sympy

PACKAGE = Path(__file__).resolve().parent.parent / "symgrad"
BARE = {"eval", "exec", "compile", "__import__", "sympify", "parse_expr"}   # called by name
METHODS = {"sympify", "parse_expr", "eval", "exec"}                          # called as x.<name>
SYMPY_ALIASES = {"sp", "sympy"}                                              # sp.S("...") parses too


def _calls(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in BARE:
            yield f.id, node.lineno
        elif isinstance(f, ast.Attribute):
            owner = f.value.id if isinstance(f.value, ast.Name) else None
            if f.attr in METHODS or (f.attr == "S" and owner in SYMPY_ALIASES):
                yield f.attr, node.lineno


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_eval_like_call(path):
    calls = list(_calls(path))
    if path.name == "ir.py":   # the one door: as_sympy
        calls = [(n, line) for n, line in calls if n != "sympify"]
    assert not calls, f"{path}: {calls}"


@pytest.mark.parametrize("text", ["x + 1", "__import__('os').system('true')", ""])
def test_as_sympy_refuses_text(text):
    with pytest.raises(TypeError):
        as_sympy(text)
