"""Which interface functions of a submission are stubs, read from its source (never run here).

A stub is a function whose body does nothing but ``pass``, ``...``, a
docstring, ``return`` / ``return None`` or ``raise NotImplementedError``: the
starter's placeholder, left as it was. The judge calls such a function "not
implemented" rather than "crashed" or "wrong".
"""

from __future__ import annotations

import ast
from pathlib import Path

MAX_SOURCE_BYTES = 2 << 20    # larger files are not read for stubs (their functions are judged as usual)


def _is_nothing(stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and \
            (isinstance(stmt.value.value, str) or stmt.value.value is Ellipsis):
        return True
    if isinstance(stmt, ast.Return) and (stmt.value is None or
                                         isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
        return True
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _why(fn) -> str:
    body = fn.body
    if any(isinstance(s, ast.Raise) for s in body):
        return "it raises NotImplementedError"
    if any(isinstance(s, ast.Return) for s in body):
        return "it returns None"
    return "its body is only pass" if any(isinstance(s, ast.Pass) for s in body) else "its body is empty"


def _definitions(body) -> dict:
    """Name -> the last def of that name in a block (Python keeps the last)."""
    out = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            for t in targets:      # a name rebound after its def is not that def any more
                if isinstance(t, ast.Name):
                    out.pop(t.id, None)
    return out


def stub_functions(source: str, names) -> dict:
    """Interface function (``relu``, ``MLP.backward``) -> why it is a stub, for those that are."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    top = _definitions(tree.body)
    out = {}
    for name in names:
        owner, _, method = name.rpartition(".")
        scope = top
        if owner:
            cls = top.get(owner)
            if not isinstance(cls, ast.ClassDef):
                continue
            scope = _definitions(cls.body)
        fn = scope.get(method)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and all(_is_nothing(s) for s in fn.body):
            out[name] = _why(fn)
    return out


def submission_source(path: Path, entry=None) -> str:
    """The text of a submission's entry file ('' when it cannot be read or is too large)."""
    from .results import BadLog, _read_regular
    if path.is_dir():
        if entry is None:
            return ""
        path = path / entry
    try:   # a regular file only, never through a link, never blocking on a FIFO
        return _read_regular(path, MAX_SOURCE_BYTES).decode(errors="replace")
    except (BadLog, OSError):
        return ""
