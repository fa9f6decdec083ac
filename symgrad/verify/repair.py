"""Diagnosis by repair: small edits of the answer itself (its parse tree) that
make it fit and equal the truth. Used when the answer's shapes do not fit, or
when it is wrong in a way the catalogue's variants of the true derivation do
not explain.

The edits, each a catalogued mistake undone: add or remove a transpose on any
factor (``missing_transpose``; on the whole answer ``layout_transposed``),
``@`` <-> element-wise ``*`` (``hadamard_vs_matmul``), swapped operands of
``@`` or ``outer`` (``wrong_order``), a term of a sum dropped
(``extra_term``), the last (or first) entry of an axis dropped where two
operands differ by one there (``concat_ones_kept``: the ones column kept).
A candidate that fits is compared with the truth, with the truth times a
constant factor (:func:`factor_mistakes`: 2, -1, 1/n, n...) and with the
catalogue's variants, so two mistakes at once are named (a transpose missing
and the 1/n). Single edits first, then pairs; the search is bounded by a
count and a time and says when it gave up.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from fractions import Fraction

import numpy as np

from ..errors import SymgradError
from ..parse import BinOp, Call, Num, Transpose, UnaryOp
from ..points import close

MAX_CANDIDATES = 600
MAX_SECONDS = 2.0
POINTS = 6


def _children(node):
    if isinstance(node, BinOp):
        return [("left", node.left), ("right", node.right)]
    if isinstance(node, (UnaryOp, Transpose)):
        return [("operand", node.operand)]
    if isinstance(node, Call):
        return [(("args", i), a) for i, a in enumerate(node.args)]
    return []


def _replace(node, key, new):
    if isinstance(key, tuple):
        args = list(node.args)
        args[key[1]] = new
        return dataclasses.replace(node, args=tuple(args))
    return dataclasses.replace(node, **{key: new})


def _num(value: int, pos: int) -> Num:
    return Num(Fraction(value), str(value), pos)


def _drop_end(node, axis: int, size: int, first: bool):
    """``node`` without its last (or first) entry along ``axis``."""
    pos = getattr(node, "pos", 0)
    start, stop = (1, size) if first else (0, size - 1)
    return Call("slice", (node,), (("axis", _num(axis, pos)), ("start", _num(start, pos)),
                                   ("stop", _num(stop, pos))), pos)


def _ones_edits(node, shape_of):
    """Where the two operands of ``node`` differ by one along the axis they share, drop
    the bigger one's last (or first) entry there: a concatenated ones column kept."""
    if not isinstance(node, BinOp) or node.op not in ("@", "*", "+", "-"):
        return
    a, b = shape_of(node.left), shape_of(node.right)
    if a is None or b is None or not a or not b:
        return
    if node.op == "@":
        pairs = [(len(a) - 1, 0 if len(b) < 2 else len(b) - 2)]
    elif len(a) == len(b):
        pairs = [(i, i) for i in range(len(a))]
    else:
        return
    for ia, ib in pairs:
        for key, operand, axis, size in (("left", node.left, ia, a[ia]), ("right", node.right, ib, b[ib])):
            other = b[ib] if key == "left" else a[ia]
            if size == other + 1:
                for first in (False, True):
                    yield "concat_ones_kept", _replace(node, key, _drop_end(operand, axis, size, first))


def _edits(node, shape_of=None, top=True):
    """(mistake, edited tree) for every single edit of ``node``'s tree."""
    pos = getattr(node, "pos", 0)
    if isinstance(node, Transpose):
        yield ("layout_transposed" if top else "missing_transpose"), node.operand
    elif not isinstance(node, Num):
        yield ("layout_transposed" if top else "missing_transpose"), Transpose(node, pos)
    if isinstance(node, BinOp) and node.op in ("@", "*"):
        yield "hadamard_vs_matmul", dataclasses.replace(node, op="*" if node.op == "@" else "@")
        if node.op == "@":
            yield "wrong_order", dataclasses.replace(node, left=node.right, right=node.left)
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        yield "extra_term", node.left
        yield "extra_term", node.right if node.op == "+" else UnaryOp("-", node.right, pos)
    if isinstance(node, Call) and node.func == "outer" and len(node.args) == 2:
        yield "missing_transpose", dataclasses.replace(node, args=node.args[::-1])
    if shape_of is not None:
        yield from _ones_edits(node, shape_of)
    for key, child in _children(node):
        for mistake, new in _edits(child, shape_of, top=False):
            yield mistake, _replace(node, key, new)


# ---------------------------------------------------------------- constant factors

def constant_factor(got: list, want: list) -> float | None:
    """c with got = c * want at every point (finite points only), or None."""
    pairs = [(np.asarray(g, float), np.asarray(w, float)) for g, w in zip(got, want)
             if g is not None and w is not None and np.shape(g) == np.shape(w)
             and np.all(np.isfinite(g)) and np.all(np.isfinite(w))]
    if len(pairs) < 2 or len(pairs) < len(got) // 2:
        return None
    den = sum(float(np.vdot(w, w)) for _, w in pairs)
    if den < 1e-12:
        return None
    c = sum(float(np.vdot(g, w)) for g, w in pairs) / den
    if c == 0 or not all(close(g, c * w) for g, w in pairs):
        return None
    return c


def factor_mistakes(c: float, counts) -> tuple[list[str], str]:
    """The mistakes that put a constant factor c in front of the truth, and the factor
    that undoes them (as text: ``1/n``, ``2``); fewest mistakes first, and every
    combination of that many that multiplies to c (a mean over 2 and a missing
    factor 2 cannot be told apart: both are named). ([], "") when c is unexplained.

    ``counts`` is a list of (value, text) from :func:`mean_counts`."""
    choices = [[((), 1.0, ""), (("sign_error",), -1.0, "-1")],
               [((), 1.0, ""), (("missing_factor_2",), 0.5, "2"), (("missing_factor_2",), 2.0, "1/2")],
               [((), 1.0, "")] + [(("missing_mean_factor",), float(m), f"1/{t}") for m, t in counts]
               + [(("extra_mean_factor",), 1.0 / m, t) for m, t in counts]]
    best: list[tuple] = []
    for combo in itertools.product(*choices):
        names = tuple(n for part, _, _ in combo for n in part)
        value = float(np.prod([v for _, v, _ in combo]))
        if names and abs(value - c) <= 1e-6 * max(1.0, abs(c)):
            best.append((names, " * ".join(t for _, _, t in combo if t)))
    if not best:
        return [], ""
    fewest = min(len(b) for b, _ in best)
    names = list(dict.fromkeys(n for b, _ in best if len(b) == fewest for n in b))
    return names, next(t for b, t in best if len(b) == fewest)


def mean_counts(d, ctx) -> list[tuple[int, str]]:
    """The numbers of terms a 1/n may come from, as (value, text): the symbolic sizes at
    the test point and the count of every mean in the graph."""
    from ..ir import Apply, as_sympy, walk
    from ..rules.reduce import _count, normalize_axis
    counts = {int(v): str(k) for k, v in ctx.sizes.items()}
    for node in d.graph.nodes:
        for e in walk(node.expr):
            if isinstance(e, Apply) and e.op == "mean":
                arg = e.args[0]
                try:
                    count = _count(arg.shape, normalize_axis(e.kw.get("axis"), arg.ndim, "mean"))
                    counts.setdefault(ctx.size(count), str(as_sympy(count)).replace(" ", ""))
                except (SymgradError, TypeError, ValueError):
                    continue
    return sorted((v, t if t.isidentifier() or t.isdigit() else f"({t})") for v, t in counts.items() if v > 1)


# ---------------------------------------------------------------- the search

@dataclasses.dataclass
class Search:
    """What a candidate is compared with, at the repair's points."""

    want_shape: tuple
    points: list
    ctx: object
    truth: list                 # the truth's values
    lower: object               # parse tree -> IR (raises SymgradError)
    value_of: object
    counts: list                # see mean_counts
    variants: list = dataclasses.field(default_factory=list)   # (mistakes, values) of the catalogue's variants


def _named(search: Search, mistakes: list, expr) -> tuple[list[str], str] | None:
    """The mistakes ``expr`` (an edited answer that fits) embodies and the factor that
    makes it correct ("" for none), or None when it is none of: the truth, the truth
    times a known factor, a catalogue variant."""
    values = [search.value_of(expr, p, search.ctx) for p in search.points]
    if all(close(v, w) for v, w in zip(values, search.truth)):
        return (mistakes, "") if mistakes else None
    c = constant_factor(values, search.truth)
    if c is not None:
        extra, factor = factor_mistakes(c, search.counts)
        if extra:
            return mistakes + extra, factor
    kinds = [k for ks, want in search.variants if all(close(v, w) for v, w in zip(values, want)) for k in ks]
    return (mistakes + list(dict.fromkeys(kinds)), None) if kinds else None


def repairs(search: Search, tree, start_edited: bool = True):
    """(found, gave_up): found is a list of (mistakes, edited IR, factor) -- the answer
    edited so that it fits the shape of the gradient; times ``factor`` (text, "" for
    none) it is correct; factor None: it is a catalogue variant (the mistakes name
    what remains wrong). At most one entry per set of mistakes, fewest edits first."""
    start = time.monotonic()
    found, seen, count = [], set(), 0
    shapes: dict = {}

    def shape_of(node):
        key = id(node)
        if key not in shapes:
            try:
                shapes[key] = (node, search.ctx.shape(search.lower(node).shape))
            except (SymgradError, RecursionError, TypeError, ValueError):
                shapes[key] = (node, None)
        return shapes[key][1]

    def check(mistakes, candidate):
        nonlocal count
        count += 1
        try:
            expr = search.lower(candidate)
        except (SymgradError, RecursionError):
            return
        if tuple(expr.shape) != search.want_shape:
            return
        named = _named(search, list(mistakes), expr)
        if named:
            key = tuple(sorted(set(named[0])))
            if key not in seen:
                seen.add(key)
                found.append((list(dict.fromkeys(named[0])), expr, named[1]))

    def spent():
        return count >= MAX_CANDIDATES or time.monotonic() - start > MAX_SECONDS

    check([], tree)
    if found:
        return found, False
    singles = list(_edits(tree, shape_of))
    for mistake, candidate in singles:
        if spent():
            return found, True
        check([mistake], candidate)
    if found:
        return found, False
    for (m1, c1) in singles:
        for m2, c2 in itertools.islice(_edits(c1, shape_of), MAX_CANDIDATES):
            if spent():
                return found, True
            check([m1, m2], c2)
        if found:
            break
    return found, False
