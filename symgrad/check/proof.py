"""Proof of a derivation by local adjoint identities, one step per graph edge.

What is proven, and why it is a complete proof of every gradient entry:

* **Reverse mode is the chain rule over the graph.** For a node or parameter
  ``T``, ``dL/dT[j] = sum over consumers S of T, sum over i of dL/dS[i] *
  dS[i]/dT[j]``, where ``dS/dT`` is the partial derivative of ``S``'s own
  expression in its direct arguments (every other path through the graph
  reaches ``T`` through another consumer). With ``dL/dloss = 1``, induction
  in reverse graph order gives: if every node's vectorized adjoint formula
  equals that sum (with its consumers' adjoints as free symbols), every
  adjoint, and so every gradient, is the true one.
* **One step** (:func:`_prove_step`): for a target ``T``, every consumer's
  value is evaluated on fresh symbols for its arguments, its consumers'
  adjoints are fresh symbols ``d_S_i``, the scalar chain-rule sum above is
  built with ``sympy.diff``, and each entry of the vectorized adjoint of ``T``
  (the sum of its VJP contributions, a forward node it names replaced by its
  definition) is shown equal to it (:func:`symgrad.points.is_zero`). An
  identity in independent symbols holds for any values they take, so the step
  holds whatever the arguments are. Each step's cost depends on one operation,
  not on the depth: the whole proof grows linearly with the number of nodes.
* **Fusions** (:func:`_prove_fusion`): each stable rewrite (``log(softmax(z))
  -> log_softmax(z)``) is shown equal, entry by entry, to the expression it
  replaced, so the fused graph computes the textbook loss.
* **Element-wise derivatives**: each element-wise function stays opaque with
  the derivative the rule table declares, and that derivative is proven once
  against ``sympy.diff`` of its definition (a scalar identity: every size).

The steps are checked at the concrete sizes of :func:`symgrad.points.proof_sizes`
(each step's identity is about one operation at those sizes); the induction
itself does not depend on sizes. Kinks: a kinked function's derivative at the
kink is the rule table's convention (ReLU'(0) = 0), which the proof takes as
the definition; away from the kinks it is the derivative.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import names as naming
from ..derive import Derivation
from ..evaluate import EvalContext, evaluate
from ..ir import Apply, Var, as_sympy, walk
from ..points import is_zero, proof_sizes, symbolic_array, symbolic_leaves
from ..rules import RULES
from ..rules.elementwise import _is_zero as _zero_unfolded
from ..rules.elementwise import prove_derivative
from ..spec import LOSS
from .budget import Budget, OutOfTime


@dataclass
class Step:
    """One local identity: the adjoint of ``target`` from its consumers (or one fusion)."""

    kind: str             # "adjoint" | "fusion"
    target: str           # node or parameter (adjoint), fused node (fusion)
    via: str              # "S1 (matmul, input 0), S2 (...)" or the fusion rule
    entries: int
    proven: int = 0
    failures: list = field(default_factory=list)   # (index, truth, ours)
    done: bool = False    # every entry decided

    @property
    def ok(self) -> bool:
        return self.done and not self.failures

    def describe(self) -> str:
        if self.kind == "fusion":
            return f"fusion {self.via} in node {self.target!r}"
        return f"adjoint of {self.target!r} from {self.via}"


@dataclass
class ParamProof:
    name: str
    shape: tuple
    entries: int
    proven: int
    failures: list = field(default_factory=list)   # (index, truth, ours)

    @property
    def ok(self) -> bool:
        return self.proven == self.entries and not self.failures


@dataclass
class Proof:
    sizes: dict
    params: list          # ParamProof: a parameter's entries count once every step it rests on is proven
    lemmas: dict          # element-wise function -> derivative proven
    seconds: float
    steps: list = field(default_factory=list)
    stopped: str = ""     # "" | "time" | "interrupt": steps left undecided

    @property
    def failed(self) -> list:
        return [s for s in self.steps if s.failures] + [f"{k}'" for k, v in self.lemmas.items() if v is False]

    @property
    def ok(self) -> bool:
        return not self.stopped and all(s.ok for s in self.steps) and all(self.lemmas.values())

    @property
    def undecided(self) -> bool:
        return bool(self.stopped) and not self.failed


@functools.cache
def _lemma(op: str) -> bool:
    """prove_derivative, once per element-wise function and process (the table is fixed);
    a rule's own lemma (max: the first-extremum indicator) where it declares one."""
    lemma = RULES[op].extra.get("lemma")
    return lemma(op) if lemma else prove_derivative(op)


class _Values(dict):
    """Values by name: given ones first; a forward node not given is its definition, evaluated
    on the same values (one level at a time, so only as deep as an expression reaches)."""

    def __init__(self, given: dict, defs: dict, ctx: EvalContext, memo: dict):
        super().__init__(given)
        self.defs, self.ctx, self.memo = defs, ctx, memo

    def __missing__(self, name):
        if name not in self.defs:
            raise KeyError(name)
        value = evaluate(self.defs[name], self, self.ctx, self.memo)
        self[name] = value
        return value


def _entries(a) -> np.ndarray:
    return np.asarray(a, dtype=object)


def _by_definitions(expr) -> bool:
    """Zero once every element-wise function is replaced by its definition (for fusions,
    whose identities are between functions: log sigmoid(z) = -softplus(-z))."""
    return is_zero(expr) or _zero_unfolded(expr)


def _compare(step: Step, truth: np.ndarray, ours: np.ndarray, budget: Budget, progress, zero=is_zero):
    for idx in np.ndindex(*truth.shape):
        budget.tick()
        t, o = as_sympy(truth[idx]), as_sympy(ours[idx])
        if zero(t - o):
            step.proven += 1
        else:
            step.failures.append((idx, t, o))
        if progress:
            progress(step)
    step.done = True
    if progress:
        progress(step)


def _readers(d: Derivation) -> dict:
    """Name -> the graph nodes whose expression reads it directly (inline operations included)."""
    out: dict = {}
    for n in d.graph.nodes:
        for name in dict.fromkeys(v.name for v in walk(n.expr) if isinstance(v, Var)):
            out.setdefault(name, []).append(n)
    return out


def _prove_step(d: Derivation, target: str, ctx, symbols, defs, budget, progress, shapes, readers, out: list):
    by_source: dict = {}
    for c in d.contributions.get(target, []):
        by_source.setdefault(c.source, []).append(c)
    readers = readers.get(target, [])   # one that does not reach the loss has adjoint 0
    via = ", ".join(f"{s} ({', '.join(f'{c.op} input {c.index}' for c in cs)})" for s, cs in by_source.items())
    shape = ctx.shape(shapes[target].shape)
    step = Step("adjoint", target, via or "no consumer", int(np.prod(shape, dtype=int)))
    out.append(step)
    memo: dict = {}
    # fresh symbols: target, inputs, parameters, every reader's arguments and adjoint; any other
    # forward node a contribution names stands for its definition over those
    leaves = {target} | set(d.graph.inputs) | set(d.graph.params)
    for reader in readers:
        leaves |= {v.name for v in walk(reader.expr) if isinstance(v, Var)}
        if reader.name != LOSS and reader.name in d.order:
            leaves.add(naming.adjoint(reader.name))
    given = {k: symbols[k] for k in leaves if k in symbols}
    values = _Values(given, defs, ctx, memo)
    t_syms = _entries(symbols[target])
    truth = np.full(shape, sp.Integer(0), dtype=object)
    for reader in readers:
        if reader.name != LOSS and reader.name not in d.order:
            continue                      # does not reach the loss: its adjoint is 0
        val = _entries(evaluate(reader.expr, symbols, ctx, {}))
        adj = (np.array(sp.Integer(1), dtype=object) if reader.name == LOSS
               else _entries(symbols[naming.adjoint(reader.name)]))
        for j in np.ndindex(*shape):
            budget.tick()
            s = t_syms[j]
            truth[j] += sum((adj[i] * sp.diff(val[i], s) for i in np.ndindex(*val.shape)
                            if s in getattr(val[i], "free_symbols", ())), sp.Integer(0))
    if target in d.contributions:
        ours = _entries(np.broadcast_to(evaluate(d.adjoint(target), values, ctx, memo), shape))
    else:
        ours = np.full(shape, sp.Integer(0), dtype=object)
    _compare(step, truth, ours, budget, progress)


def _prove_fusion(fusion, written, ctx, symbols, budget, progress, out: list):
    shape = ctx.shape(fusion.after.shape)
    step = Step("fusion", fusion.node, fusion.rule, int(np.prod(shape, dtype=int)))
    out.append(step)
    defs = {n.name: n.expr for n in written.nodes}
    # the fused form's arguments are the leaves; the written form is unfolded down to them
    leaves = {v.name for v in walk(fusion.after) if isinstance(v, Var)}
    values = _Values({k: v for k, v in symbols.items() if k in leaves or k not in defs}, defs, ctx, {})
    before = _entries(np.broadcast_to(evaluate(fusion.before, values, ctx, {}), shape))
    after = _entries(np.broadcast_to(evaluate(fusion.after, values, ctx, {}), shape))
    _compare(step, before, after, budget, progress, zero=_by_definitions)


def plan(d: Derivation) -> list[str]:
    """Every target whose adjoint step the proof checks: nodes in the order derived, each
    parameter right after the last step its gradient rests on (so a proof that is stopped
    early has whole gradients proven, the last layer's first)."""
    nodes = [t for t in d.order if t not in d.graph.params]
    after: dict = {}
    for name in d.graph.params:
        sources = [c.source for c in d.contributions[name]]
        last = max((nodes.index(s) for s in sources if s in nodes), default=-1)
        after.setdefault(last, []).append(name)
    out = after.get(-1, [])
    for i, t in enumerate(nodes):
        out += [t] + after.get(i, [])
    return out


def prove(d: Derivation, sizes: dict | None = None, time_limit: float | None = None,
          progress=None) -> Proof:
    """Prove every gradient of ``d`` by its local adjoint identities at concrete sizes.

    Args:
        time_limit: seconds; steps not decided by then are left undecided
            (``Proof.stopped == "time"``). None: no limit.
        progress: called with each :class:`Step` after each entry (for a progress line).
    A KeyboardInterrupt ends the proof with ``stopped == "interrupt"`` and what was proven.
    """
    start = time.perf_counter()
    graph = d.graph
    sizes = sizes or proof_sizes(graph)
    ctx = EvalContext(sizes, symbolic=True)
    budget = Budget(time_limit)
    variables = graph.variables()
    symbols = {name: symbolic_array(name, ctx.shape(v.shape)) for name, v in variables.items()}
    symbols.update(symbolic_leaves(d, ctx))   # labels and indices: integers drawn from their range
    for target in d.order:
        name = naming.adjoint(target)
        symbols[name] = symbolic_array(name, ctx.shape(variables[target].shape))
    defs = {n.name: n.expr for n in graph.nodes}
    used = {e.op for n in graph.nodes for e in walk(n.expr) if isinstance(e, Apply)} | {
        e.op for t in d.order for e in walk(d.adjoint(t)) if isinstance(e, Apply)}
    lemmas = {op: None for op in sorted(used) if RULES[op].family == "elementwise" or "lemma" in RULES[op].extra}
    steps: list[Step] = []
    stopped = ""
    try:
        with budget:
            for op in lemmas:
                budget.tick()
                lemmas[op] = _lemma(op)
            for fusion in d.fusions:
                wsym = {n: symbolic_array(n, ctx.shape(v.shape)) for n, v in d.written.variables().items()}
                _prove_fusion(fusion, d.written, ctx, wsym, budget, progress, steps)
            readers = _readers(d)
            for target in plan(d):
                _prove_step(d, target, ctx, symbols, defs, budget, progress, variables, readers, steps)
    except OutOfTime:
        stopped = "time"
    except KeyboardInterrupt:
        stopped = "interrupt"
    results = _param_results(d, ctx, steps)
    return Proof({str(k): v for k, v in sizes.items()}, results, lemmas,
                 time.perf_counter() - start, steps, stopped)


def _param_results(d: Derivation, ctx, steps: list[Step]) -> list[ParamProof]:
    """A parameter's gradient is proven when its own step and every step after it in
    reverse order (the adjoints it rests on) and every fusion are proven."""
    done = {s.target: s for s in steps if s.kind == "adjoint"}
    fusions_ok = all(s.ok for s in steps if s.kind == "fusion")
    out = []
    # inputs listed in `gradients` are leaves too; a node's adjoint is checked by finite differences only
    extra = [(n, d.graph.inputs[n]) for n in d.spec.extra_gradients if n in d.graph.inputs]
    for name, var in list(d.graph.params.items()) + extra:
        shape = ctx.shape(var.shape)
        entries = int(np.prod(shape, dtype=int))
        needed = _upstream(d, name)
        own = done.get(name)
        all_ok = fusions_ok and all(t in done and done[t].ok for t in needed)
        proven = entries if all_ok else (own.proven if own and own.done and all(
            t in done and done[t].ok for t in needed - {name}) and fusions_ok else 0)
        failures = list(own.failures) if own else []
        out.append(ParamProof(name, shape, entries, proven, failures))
    return out


def _upstream(d: Derivation, name: str) -> set:
    """``name`` and every target whose adjoint its adjoint rests on (its consumers, transitively)."""
    seen, todo = set(), [name]
    while todo:
        t = todo.pop()
        if t in seen or t == LOSS:
            continue
        seen.add(t)
        todo.extend(c.source for c in d.contributions.get(t, []))
    return seen
