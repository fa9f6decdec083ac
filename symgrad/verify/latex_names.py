"""The names a LaTeX answer may use (a spec's names and display names), and
the message that refuses one it does not know; the reader's remembering lowering."""

from __future__ import annotations

import difflib

from ..emit.printers import LatexIRPrinter
from ..errors import ParseError, SymgradError
from .latex_tokens import tokenize

ACCENTS = (r"\hat", r"\vec", r"\bar", r"\tilde")


def displays(d) -> list[tuple[tuple, str]]:
    """(tokens, name) for every name and display name, longest first."""
    printer = LatexIRPrinter(dict(d.spec.latex))
    out = []
    for name in list(d.graph.variables()) + list(d.graph.sizes):
        shown = {printer.name_latex(name), name}
        if name.endswith("hat"):
            shown.add(r"\hat{%s}" % name[:-3])
        for s in shown:
            try:
                out.append((tuple(t for t, _ in tokenize(s)), name))
            except ParseError:
                pass
    out.sort(key=lambda p: -len(p[0]))
    return out


def _name_at(toks, i) -> str:
    """The text of the name starting at token i: a letter or command, an accent's
    argument, and its scripts."""
    j, text = i + 1, toks[i][0]
    while j < len(toks) and (toks[j][0] in ("{", "_", "^") or j == i + 1 and text in ACCENTS):
        if toks[j][0] in ("_", "^"):
            text += toks[j][0]
            j += 1
        if j < len(toks) and toks[j][0] == "{":
            depth = 0
            while j < len(toks) and toks[j][0]:
                depth += {"{": 1, "}": -1}.get(toks[j][0], 0)
                text += toks[j][0]
                j += 1
                if depth == 0:
                    break
        else:
            break
    return text


def accepted(shown: list) -> list[str]:
    """'name (display, ...)' for every name, for a message."""
    out: dict = {}
    for tokens, name in shown:
        out.setdefault(name, []).append("".join(tokens))
    return [name + "".join(f" ({v})" for v in sorted(set(forms)) if v != name) for name, forms in sorted(out.items())]


def unknown_name(toks, i, shown):
    """Refuse the name at token i, naming it, the nearest accepted names and all of them."""
    text = _name_at(toks, i)
    candidates = sorted({"".join(t) for t, _ in shown} | {n for _, n in shown})
    near = difflib.get_close_matches(text, candidates, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    raise ParseError(f"unknown name '{text}' at column {toks[i][1]}{hint} (the spec's names: "
                     + ", ".join(accepted(shown)) + ")")


def remembering(cls):
    """``cls`` (a lowering) remembering what each parse node lowered to, or the
    error it raised. The reader asks for the rank of the whole left operand at
    every factor of a product; remembered, a chain of factors costs linear,
    not quadratic, work. Keyed by id, the node kept alive beside its result."""
    class Remembering(cls):
        def __init__(self, *args):
            super().__init__(*args)
            self.memo = {}

        def lower(self, node):
            hit = self.memo.get(id(node))
            if hit is None or hit[0] is not node:
                try:
                    hit = (node, super().lower(node), None)
                except SymgradError as exc:
                    hit = (node, None, exc)
                self.memo[id(node)] = hit
            if hit[2] is not None:
                raise hit[2]
            return hit[1]
    return Remembering
