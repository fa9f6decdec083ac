"""Entry-by-entry proof of a derivation at small concrete sizes.

Every input and parameter becomes an array of sympy symbols; the forward pass,
evaluated on them, gives the loss fully expanded. For every parameter entry,
``sympy.diff`` of that loss is compared with the same entry of the vectorized
gradient formula, evaluated on the same symbols. Element-wise functions stay
opaque functions whose derivative is the one the rule table uses, and each of
those derivatives is proven separately against sympy.diff of its definition
(:func:`symgrad.rules.elementwise.prove_derivative`). Differences are checked
for being identically zero: first as a rational function of the symbols and
function applications (every application a fresh variable; sound, and fast
for softmax and sigmoid nets), then expand, cancel, simplify.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..derive import Derivation
from ..evaluate import EvalContext, concrete_sizes, evaluate
from ..ir import Apply, as_sympy, walk
from ..rules import RULES
from ..rules.elementwise import prove_derivative
from ..spec import LOSS


@dataclass
class ParamProof:
    name: str
    shape: tuple
    entries: int
    proven: int
    failures: list = field(default_factory=list)   # (index, truth, ours)

    @property
    def ok(self) -> bool:
        return self.proven == self.entries


@dataclass
class Proof:
    sizes: dict
    params: list
    lemmas: dict          # element-wise function -> derivative proven
    seconds: float

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.params) and all(self.lemmas.values())


def _symbols(name: str, shape: tuple):
    if not shape:
        return np.array(sp.Symbol(name, real=True), dtype=object)
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sp.Symbol(f"{name}_{'_'.join(map(str, idx))}", real=True)
    return out


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


def _zero(expr) -> bool:
    if expr == 0:
        return True
    if _zero_as_rational(expr):
        return True
    if sp.expand(expr) == 0:
        return True
    if sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(expr) == 0


@functools.cache
def _lemma(op: str) -> bool:
    """prove_derivative, once per element-wise function and process (the table is fixed)."""
    return prove_derivative(op)


def prove(d: Derivation, sizes: dict | None = None) -> Proof:
    """Prove every gradient entry of ``d`` at concrete sizes (default: small)."""
    start = time.perf_counter()
    graph = d.graph
    sizes = sizes or concrete_sizes(graph)
    ctx = EvalContext(sizes, symbolic=True)
    values = {}
    for var in list(graph.inputs.values()) + list(graph.params.values()):
        values[var.name] = _symbols(var.name, ctx.shape(var.shape))
    memo: dict = {}
    for node in graph.nodes:
        values[node.name] = evaluate(node.expr, values, ctx, memo)
    loss = as_sympy(np.asarray(values[LOSS]).item())
    for target in d.order:
        values[f"d_{target}"] = evaluate(d.adjoint(target), values, ctx, memo)
    used = {e.op for n in graph.nodes for e in walk(n.expr) if isinstance(e, Apply)} | {
        e.op for t in d.order for e in walk(d.adjoint(t)) if isinstance(e, Apply)}
    lemmas = {op: _lemma(op) for op in sorted(used) if RULES[op].family == "elementwise"}
    results = []
    for name, var in graph.params.items():
        symbols = values[name]
        grad = np.asarray(values[f"d_{name}"])
        shape = ctx.shape(var.shape)
        proof = ParamProof(name, shape, int(np.prod(shape, dtype=int)), 0)
        for idx in np.ndindex(*shape):
            truth = sp.diff(loss, np.asarray(symbols)[idx])
            ours = as_sympy(grad[idx]) if grad.shape else as_sympy(grad.item())
            if _zero(truth - ours):
                proof.proven += 1
            else:
                proof.failures.append((idx, truth, ours))
        results.append(proof)
    return Proof({str(k): v for k, v in sizes.items()}, results, lemmas, time.perf_counter() - start)
