"""Single entries: ``--wrt "W1[0,2]"`` (one partial derivative, dL/dW1[0,2]) and
entry references in answers (``W2[0,1] * x[2]``).

An entry is written ``name[i]``, ``name[i,j]``, ... with one non-negative
integer per axis of an array whose sizes are all fixed (a symbolic size such
as the batch ``n`` has no entry to point at). In IR an entry is the array
sliced to one position along every axis and summed (a scalar), so every
evaluator, the proof and the mistake catalogue take it without a rule of
their own.

The answer language's parser does not read brackets yet (indexing and
slices are being added to it); until then :func:`split_entries` reads entry
references out of the answer's text on its own -- a small scanner, kept
apart so it can go once the parser reads ``x[2]`` itself. The LaTeX reader
reads ``(W_1)_{0,2}`` (a name in brackets with integer subscripts) and makes
the same ``Name("W1[0,2]")`` the lowering resolves (:func:`read_entry`).
"""

from __future__ import annotations

import sympy as sp

from ..errors import SymgradError
from ..ir import Expr, as_sympy, show_shape
from ..rules import apply


MAX_INDEX_TEXT = 64   # the brackets of an entry reference span at most this many characters (hostile input)


class EntryError(SymgradError):
    """An entry that does not exist (bad indices, symbolic sizes)."""


def entry_name(name: str, index: tuple) -> str:
    """The one spelling of an entry: ``W1[0,2]``."""
    return f"{name}[{','.join(str(i) for i in index)}]"


def read_entry(text: str) -> tuple[str, tuple] | None:
    """``"W1[0,2]"`` -> ("W1", (0, 2)); None when ``text`` is not an entry's spelling."""
    text = text.strip()
    if not text.endswith("]") or "[" not in text:
        return None
    name, _, inside = text[:-1].partition("[")
    name = name.strip()
    parts = [p.strip() for p in inside.split(",")]
    if not name.isidentifier() or not parts or not all(p.isdigit() for p in parts):
        return None
    return name, tuple(int(p) for p in parts)


def check_index(name: str, shape: tuple, index: tuple) -> None:
    """Raise EntryError unless ``index`` points at an entry of an array of ``shape``."""
    if len(index) != len(shape):
        raise EntryError(f"{entry_name(name, index)}: {name} has {len(shape)} "
                         f"ax{'is' if len(shape) == 1 else 'es'} (shape {show_shape(shape)}), so an entry needs "
                         f"{len(shape)} ind{'ex' if len(shape) == 1 else 'ices'}")
    for axis, (i, size) in enumerate(zip(index, shape)):
        size = as_sympy(size)
        if not size.is_Integer:
            raise EntryError(f"{entry_name(name, index)}: {name} has the symbolic size {size} on axis {axis} "
                             f"(shape {show_shape(shape)}); single entries can be asked for only of arrays "
                             "whose sizes are fixed")
        if not 0 <= i < int(size):
            raise EntryError(f"{entry_name(name, index)}: index {i} on axis {axis} is outside 0..{int(size) - 1} "
                             f"({name} has shape {show_shape(shape)})")


def entry_of(array: Expr, index: tuple) -> Expr:
    """The IR of one entry of ``array`` (a scalar)."""
    out = array
    for axis, i in enumerate(index):
        out = apply("slice", out, axis=axis, start=sp.Integer(i), stop=sp.Integer(i + 1))
    return apply("sum", out)


def split_entries(text: str) -> tuple[str, dict]:
    """The answer's text with every entry reference ``name[i,j]`` written as a name of the
    same length (``name_i_j_``: columns in error messages stay right), and that name ->
    the entry's spelling. Brackets that are not an entry reference are left alone (the
    parser then says where it stopped)."""
    out, names, i = [], {}, 0
    while i < len(text):
        j = i
        if text[i].isalpha() or text[i] == "_":
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            close = text.find("]", j, j + MAX_INDEX_TEXT) if j < len(text) and text[j] == "[" else -1
            if close > j:
                entry = read_entry(text[i:close + 1])
                if entry is not None:
                    stand_in = "".join(c if c.isalnum() or c == "_" else "_" for c in text[i:close + 1])
                    names[stand_in] = entry_name(*entry)
                    out.append(stand_in)
                    i = close + 1
                    continue
            out.append(text[i:j])
            i = j
            continue
        out.append(text[i])
        i += 1
    return "".join(out), names


def parse_answer(text: str):
    """:func:`symgrad.parse.parse` with entry references (``W2[0,1]``) read as entries."""
    from ..parse import Name, parse, walk
    plain, names = split_entries(text)
    tree = parse(plain)
    if not names:
        return tree
    return _rename(tree, {n.id: names[n.id] for n in walk(tree) if isinstance(n, Name) and n.id in names}, Name)


def _rename(node, names: dict, name_cls):
    import dataclasses
    if isinstance(node, name_cls):
        return dataclasses.replace(node, id=names.get(node.id, node.id))
    if not dataclasses.is_dataclass(node):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            new = tuple(tuple(_rename(x, names, name_cls) for x in v) if isinstance(v, tuple)
                        else _rename(v, names, name_cls) for v in value)
        else:
            new = _rename(value, names, name_cls)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(node, **changes) if changes else node
