"""Sizes written as expressions in a spec's shapes (``"3*E"``, ``"T*D"``).

A dimension is an integer, a size name (``"n"``) or an expression of integers
and size names with ``+``, ``-``, ``*`` and parentheses, read by symgrad's own
parser (never by sympy's). Every size name in an expression must also be a
dimension on its own somewhere, so the generated code can read it from an
array's shape at run time.
"""

from __future__ import annotations

import sympy as sp

from .errors import SymgradError
from .ir import dim
from .names import is_python_identifier
from .parse import BinOp, Name, Num, UnaryOp, parse

MAX_SIZE = 1_000_000


class SizeError(ValueError):
    """A dimension string that is not a size expression (the caller names the array)."""


def read_size(text: str) -> sp.Expr:
    """The sympy expression a dimension string stands for: a positive integer symbol for a name,
    a polynomial in them for an expression.

    Raises:
        SizeError: not a name or an expression of integers and names with + - *, or a constant
            expression that is not between 1 and MAX_SIZE.
    """
    if is_python_identifier(text):
        if text.startswith("_"):
            raise SizeError(f"size name {text!r} starts with '_'")
        return dim(text)
    try:
        tree = parse(text)
    except SymgradError as exc:
        raise SizeError(f"size {text!r} is not a size name or an expression of sizes ({exc.message})") from None
    value = _lower(tree, text)
    if not value.free_symbols and not (value.is_Integer and 1 <= int(value) <= MAX_SIZE):
        raise SizeError(f"size {text!r} is {value}, not an integer between 1 and {MAX_SIZE}")
    return value


def _lower(node, text: str) -> sp.Expr:
    if isinstance(node, Num):
        if node.value.denominator != 1:
            raise SizeError(f"size {text!r} uses {node.text}, which is not an integer")
        return sp.Integer(node.value.numerator)
    if isinstance(node, Name):
        if node.id.startswith("_"):
            raise SizeError(f"size name {node.id!r} in {text!r} starts with '_'")
        return dim(node.id)
    if isinstance(node, UnaryOp) and node.op in "+-":
        operand = _lower(node.operand, text)
        return -operand if node.op == "-" else operand
    if isinstance(node, BinOp) and node.op in ("+", "-", "*"):
        a, b = _lower(node.left, text), _lower(node.right, text)
        return a + b if node.op == "+" else a - b if node.op == "-" else a * b
    raise SizeError(f"size {text!r} may use only integers, size names, +, - and * (and parentheses)")


def names_in(value: sp.Expr) -> set[str]:
    return {s.name for s in value.free_symbols}
