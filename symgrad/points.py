"""Test points: where check/ and verify/ evaluate a derivation, and how they compare values.

One module decides, for every consumer:

* **sizes** -- the concrete value each symbolic size takes. Three purposes, one
  rule (sorted size names, consecutive values from a start): :func:`proof_sizes`
  (2, 3, ...: the symbolic proof expands every entry, so as small as can be
  told apart), :func:`check_sizes` (3, 5, 7, ...: finite differences of the
  generated code) and :func:`answer_sizes` (5, 6, ... skipping every fixed
  size, so a transposed answer cannot hide behind a square array);
* **drawing** -- standard normal entries, except for a leaf read by an operation
  whose rule declares a positive sampling domain (``Rule.domain``), drawn as
  ``|z|`` (:func:`draw_leaves`);
* **kinks** -- which arguments of which operations have kinks
  (:func:`kinked_arguments`), how far a point is from them, random points away
  from them and points placed on them (:func:`random_points`, :func:`kink_points`);
* **symbolic arrays** -- arrays of sympy symbols named after their entries
  (:func:`symbolic_array`), for proofs and entry-by-entry write-ups;
* **comparisons** -- :func:`close` for float arrays, :func:`is_zero` for a
  sympy difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .derive import Derivation
from .evaluate import EvalContext, evaluate
from .graph import Graph
from .ir import Apply, Var, as_sympy, dim, walk
from .kinds import REAL, InputKind
from .rules import RULES

#: A random point closer than this to a kink (in some kinked argument) is drawn again.
KINK_MARGIN = 1e-3
#: Relative tolerance of :func:`close` (scaled by 1 + the largest expected entry).
RTOL = 1e-7


# ---------------------------------------------------------------- sizes

def sizes(graph: Graph, start: int, step: int = 1, avoid: frozenset = frozenset()) -> dict:
    """Size symbol -> value: sorted size names get start, start + step, ..., skipping ``avoid``,
    and at least the value a slice of a symbolic size needs (``x[:4]``: n >= 5)."""
    out, value = {}, start
    for name in sorted(graph.sizes):
        value = max(value, graph.least.get(name, 0))
        while value in avoid:
            value += step
        out[dim(name)] = value
        value += step
    return out


def proof_sizes(graph: Graph) -> dict:
    """Small distinct values (2, 3, ...; non-square on purpose): the proof expands every entry."""
    return sizes(graph, 2)


def check_sizes(graph: Graph) -> dict:
    """Odd values from 3 (3, 5, 7, ...) for finite differences of generated code."""
    return sizes(graph, 3, 2)


def fixed_sizes(graph: Graph) -> frozenset:
    """The integer sizes the inputs' and parameters' shapes declare."""
    out = set()
    for var in list(graph.inputs.values()) + list(graph.params.values()):
        out |= {int(s) for s in var.shape if as_sympy(s).is_Integer}
    return frozenset(out)


def answer_sizes(graph: Graph) -> dict:
    """Distinct values from 5 that no fixed size uses, so a transpose cannot hide."""
    return sizes(graph, 5, avoid=fixed_sizes(graph))


# ---------------------------------------------------------------- drawing

def positive_leaves(graph: Graph) -> set[str]:
    """Inputs and parameters that an operation with a positive sampling domain reads,
    directly or through the temporaries of its own spec entry (``log(x @ W)``: x and W).

    A named node's value is not drawn, so a path through one is not followed; nor
    one through an element-wise function (``log(sigmoid(s))``: the function's own
    range decides, so s keeps the whole real line)."""
    defs = {n.name: n.expr for n in graph.nodes
            if n.temp and not (isinstance(n.expr, Apply) and RULES[n.expr.op].family == "elementwise")}
    out: set[str] = set()
    for node in graph.nodes:
        for e in walk(node.expr):
            if isinstance(e, Apply) and RULES[e.op].domain == "positive":
                out |= _leaves_read(e.args[0], defs, graph)
    return out


def _leaves_read(e, defs: dict, graph: Graph) -> set[str]:
    out, stack, seen = set(), [e], set()
    while stack:
        for v in walk(stack.pop()):
            if isinstance(v, Var) and v.name not in seen:
                seen.add(v.name)
                if v.name in graph.inputs or v.name in graph.params:
                    out.add(v.name)
                elif v.name in defs:
                    stack.append(defs[v.name])
    return out


def draw(rng, shape) -> np.ndarray:
    """A test value: standard normal entries rounded to 3 decimals (readable in a
    counterexample), with no negative zeros."""
    return np.round(rng.normal(0.0, 1.0, shape), 3) + 0.0


def draw_kind(rng, shape: tuple, kind: InputKind, ctx: EvalContext, rounded: bool = True) -> np.ndarray:
    """A value of an input of ``kind`` (:mod:`symgrad.kinds`): one-hot rows, rows on the simplex
    (a softmax of normal draws), 0/1 entries, uniform in [0, 1], ``0.1 + |z|``, or integers drawn
    uniformly from 0 .. bound-1 (repeats included, as int64). ``real``: :func:`draw`."""
    shape = tuple(shape)
    if kind.integer:
        bound = kind.bound if isinstance(kind.bound, int) else ctx.size(dim(kind.bound))
        return rng.integers(0, bound, shape).astype(np.int64)
    if kind.kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if kind.kind == "simplex":
        z = np.exp(rng.standard_normal(shape))
        return z / z.sum(axis=-1, keepdims=True)
    if kind.kind == "binary":
        return rng.integers(0, 2, shape).astype(float)
    if kind.kind == "unit":
        value = rng.uniform(0.0, 1.0, shape)
    elif kind.kind == "positive":
        value = 0.1 + np.abs(rng.standard_normal(shape))
    else:
        return draw(rng, shape) if rounded else rng.standard_normal(shape)
    return np.round(value, 3) + 0.0 if rounded else value


def kind_of(graph: Graph, name: str) -> InputKind:
    """What an input holds (REAL for a parameter or an input declared by its shape alone)."""
    return graph.spec.kinds.get(name, REAL) if name in graph.inputs else REAL


def draw_leaves(graph: Graph, variables, ctx: EvalContext, rng, rounded: bool = True) -> dict:
    """A value for each of ``variables`` (in that order, one draw each): an input by its declared
    kind (:func:`draw_kind`); otherwise standard normal, rounded (:func:`draw`) unless ``rounded``
    is False, and ``|z|`` for a leaf in a positive domain."""
    positive = positive_leaves(graph)
    out = {}
    for var in variables:
        shape = ctx.shape(var.shape)
        kind = kind_of(graph, var.name)
        value = draw_kind(rng, shape, kind, ctx, rounded)
        out[var.name] = np.abs(value) if kind == REAL and var.name in positive else value
    return out


# ---------------------------------------------------------------- kinks

def kinked_arguments(graph: Graph) -> list[tuple[str, object, tuple]]:
    """(node name, argument expression, kink points) of every node whose operation has kinks."""
    out = []
    for node in graph.nodes:
        e = node.expr
        if isinstance(e, Apply) and RULES[e.op].kinks:
            out.append((node.name, e.args[0], RULES[e.op].kinks))
    return out


def distance_to_kinks(graph: Graph, values: dict, ctx: EvalContext) -> float:
    """The smallest distance of any kinked argument's entry to one of its kinks (inf: none)."""
    best = np.inf
    for _, arg, kinks in kinked_arguments(graph):
        v = np.asarray(evaluate(arg, values, ctx), dtype=float)
        for k in kinks:
            if v.size:
                best = min(best, float(np.min(np.abs(v - float(k)))))
    return best


@dataclass
class Point:
    values: dict          # every name (inputs, params, nodes, d_<name>) -> array
    kink: bool = False    # True for a point placed on a kink on purpose

    def leaves(self, d: Derivation) -> dict:
        return {n: self.values[n] for n in list(d.graph.inputs) + list(d.graph.params)}


def _leaf_vars(d: Derivation) -> list:
    return list(d.graph.inputs.values()) + list(d.graph.params.values())


def random_points(d: Derivation, count: int, seed: int = 0) -> tuple[list[Point], EvalContext]:
    """``count`` random points at :func:`answer_sizes`, away from kinks (values rounded to 3 decimals)."""
    ctx = EvalContext(answer_sizes(d.graph))
    rng = np.random.default_rng(seed)
    points, tries = [], 0
    while len(points) < count and tries < 50 * count:
        tries += 1
        leaves = draw_leaves(d.graph, _leaf_vars(d), ctx, rng)
        with np.errstate(all="ignore"):
            values = d.values(leaves, ctx)
            if distance_to_kinks(d.graph, values, ctx) < KINK_MARGIN:
                continue
        points.append(Point(values))
    return points, ctx


def kink_points(d: Derivation, ctx: EvalContext, seed: int = 1) -> list[Point]:
    """Points where some kinked operation sits exactly on its kink.

    Every leaf is drawn as :func:`draw_leaves` draws it (inputs by their kind, leaves a
    log or a root reads kept positive); then one leaf of real entries that may be 0 at a
    time (a parameter, or a real input outside a positive domain) is set to zero, and
    the point kept when that puts a kinked argument on its kink. A onehot, binary or
    positive input is never zeroed: zeros are outside its domain.
    """
    if not kinked_arguments(d.graph):
        return []
    rng = np.random.default_rng(seed)
    names = _leaf_vars(d)
    positive = positive_leaves(d.graph)
    out = []
    for zeroed in names:
        if kind_of(d.graph, zeroed.name) != REAL or zeroed.name in positive:
            continue
        for _ in range(3):
            leaves = draw_leaves(d.graph, names, ctx, rng)
            leaves[zeroed.name] = np.zeros(ctx.shape(zeroed.shape))
            with np.errstate(all="ignore"):
                values = d.values(leaves, ctx)
                on_kink = distance_to_kinks(d.graph, values, ctx) == 0.0
            if on_kink:
                out.append(Point(values, kink=True))
                break
    return out


# ---------------------------------------------------------------- symbolic arrays

def symbolic_array(name: str, shape: tuple) -> np.ndarray:
    """An object array of real sympy symbols ``<name>_<i>_<j>`` (a 0-d array of ``<name>`` for a scalar)."""
    if not shape:
        return np.array(sp.Symbol(name, real=True), dtype=object)
    out = np.empty(tuple(int(d) for d in shape), dtype=object)
    for idx in np.ndindex(*out.shape):
        out[idx] = sp.Symbol(f"{name}_{'_'.join(map(str, idx))}", real=True)
    return out


def symbolic_leaves(d: Derivation, ctx: EvalContext, seed: int = 0) -> dict:
    """Every input and parameter as a :func:`symbolic_array` at ``ctx``'s sizes; an input of an
    integer kind (labels, indices) as integers drawn from its range instead (they select entries,
    so a proof holds for the indices drawn)."""
    rng = np.random.default_rng(seed)
    out = {}
    for v in _leaf_vars(d):
        kind = kind_of(d.graph, v.name)
        out[v.name] = (draw_kind(rng, ctx.shape(v.shape), kind, ctx) if kind.integer
                       else symbolic_array(v.name, ctx.shape(v.shape)))
    return out


# ---------------------------------------------------------------- comparisons

def finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a, dtype=float))))


def close(a, b, rtol: float = RTOL) -> bool:
    """Same shape, all finite, and |a - b| <= rtol (1 + max |b|) entry-wise (b is the expected value)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = 1.0 + float(np.max(np.abs(b))) if b.size else 1.0
    return bool(np.all(np.abs(a - b) <= rtol * scale))


def _atomize(expr):
    """expr with every function application replaced by a fresh symbol (outermost first).

    sympy writes exp(z)**2 as exp(2 z) and 1/exp(z) as exp(-z), so exp(k z)
    with an integer k becomes E**k for the one symbol E standing for exp(z).
    """
    calls = expr.atoms(sp.Function)
    if not calls:
        return expr
    mapping, bases = {}, {}
    for c in calls:
        if isinstance(c, sp.exp):
            k, base = c.args[0].as_content_primitive()
            if base.could_extract_minus_sign():
                k, base = -k, -base
            if k.is_Integer:
                symbol = bases.setdefault(base, sp.Dummy(real=True))
                mapping[c] = symbol ** k
                continue
        mapping[c] = sp.Dummy(real=True)
    return expr.xreplace(mapping)


def _zero_as_rational(expr) -> bool:
    """True when expr is 0 as a rational function of its symbols and function applications.

    Sound: an identity in independent variables holds for any values they take,
    so also where each stands for exp(z), sigmoid(z)... It is not complete (it
    knows no identity between functions), so a False here falls back to sympy.
    """
    a = _atomize(expr)
    if not a.is_rational_function():
        return False
    num, _den = sp.fraction(sp.together(a))
    return sp.expand(num) == 0


def is_zero(expr) -> bool:
    """True when sympy shows ``expr`` is identically 0 (cheapest test first); False: not shown."""
    if expr == 0:
        return True
    if _zero_as_rational(expr):
        return True
    if sp.expand(expr) == 0:
        return True
    if sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(expr) == 0
