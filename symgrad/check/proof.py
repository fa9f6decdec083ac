"""Entry-by-entry proof of a derivation at small concrete sizes.

Every input and parameter becomes an array of sympy symbols; the forward pass,
evaluated on them, gives the loss fully expanded. For every parameter entry,
``sympy.diff`` of that loss is compared with the same entry of the vectorized
gradient formula, evaluated on the same symbols. Element-wise functions stay
opaque functions whose derivative is the one the rule table uses, and each of
those derivatives is proven separately against sympy.diff of its definition
(:func:`symgrad.rules.elementwise.prove_derivative`). Differences are checked
for being identically zero (:func:`symgrad.points.is_zero`: first as a rational
function of the symbols and function applications, then expand, cancel, simplify),
at :func:`symgrad.points.proof_sizes`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..derive import Derivation
from ..evaluate import EvalContext
from ..ir import Apply, as_sympy, walk
from ..points import is_zero, proof_sizes, symbolic_leaves
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


@functools.cache
def _lemma(op: str) -> bool:
    """prove_derivative, once per element-wise function and process (the table is fixed)."""
    return prove_derivative(op)


def prove(d: Derivation, sizes: dict | None = None) -> Proof:
    """Prove every gradient entry of ``d`` at concrete sizes (default: small)."""
    start = time.perf_counter()
    graph = d.graph
    sizes = sizes or proof_sizes(graph)
    ctx = EvalContext(sizes, symbolic=True)
    values = d.values(symbolic_leaves(d, ctx), ctx)
    loss = as_sympy(np.asarray(values[LOSS]).item())
    used = {e.op for n in graph.nodes for e in walk(n.expr) if isinstance(e, Apply)} | {
        e.op for t in d.order for e in walk(d.adjoint(t)) if isinstance(e, Apply)}
    lemmas = {op: _lemma(op) for op in sorted(used) if RULES[op].family == "elementwise"}
    results = []
    # inputs listed in gradients are leaves too; a node's adjoint is checked by finite differences only
    extra = [(n, graph.inputs[n]) for n in d.spec.extra_gradients if n in graph.inputs]
    for name, var in list(graph.params.items()) + extra:
        symbols = values[name]
        grad = np.asarray(values[f"d_{name}"])
        shape = ctx.shape(var.shape)
        proof = ParamProof(name, shape, int(np.prod(shape, dtype=int)), 0)
        for idx in np.ndindex(*shape):
            truth = sp.diff(loss, np.asarray(symbols)[idx])
            ours = as_sympy(grad[idx]) if grad.shape else as_sympy(grad.item())
            if is_zero(truth - ours):
                proof.proven += 1
            else:
                proof.failures.append((idx, truth, ours))
        results.append(proof)
    return Proof({str(k): v for k, v in sizes.items()}, results, lemmas, time.perf_counter() - start)
