"""A parse tree (from :func:`symgrad.parse.parse` or the LaTeX reader) written
back in the expression language, before it is lowered: how an answer was
read, shown even when its shapes do not fit (the IR's text,
:func:`symgrad.verify.exprtext.to_text`, needs a tree that lowers)."""

from __future__ import annotations

from ..parse import BinOp, Call, Name, Num, Transpose, UnaryOp

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "**": 4}


def tree_text(node) -> str:
    """The expression-language text of a parse tree; ValueError for a node it does not know."""
    return _text(node, 0)


def _wrap(text: str, inner: int, outer: int) -> str:
    return f"({text})" if inner < outer else text


def _text(node, outer: int) -> str:
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Transpose):
        return f"{_text(node.operand, 5)}.T"
    if isinstance(node, UnaryOp):
        return _wrap(f"{node.op}{_text(node.operand, 3)}", 3, outer)
    if isinstance(node, BinOp) and node.op in _PRECEDENCE:
        p = _PRECEDENCE[node.op]
        left, right = (p + 1, p) if node.op == "**" else (p, p + 1)
        return _wrap(f"{_text(node.left, left)} {node.op} {_text(node.right, right)}", p, outer)
    if isinstance(node, Call):
        args = [_text(a, 0) for a in node.args] + [f"{k}={_text(v, 0)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(args)})"
    raise ValueError(f"no text for {type(node).__name__}")


def read_as(node) -> str | None:
    """:func:`tree_text`, or None when the tree has a node it does not know."""
    try:
        return tree_text(node)
    except (ValueError, RecursionError):
        return None
