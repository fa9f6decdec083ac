"""Straight-line scalar code for networks of fixed, tiny size.

For a net with a handful of weights (a 1-3-3-1 ReLU net, a batch of one), each
numpy call costs more than the arithmetic it does, so the fastest step is
plain Python on floats: every array entry becomes a variable, the forward
values and every gradient entry are evaluated symbolically with the rule
table's own evaluators (as the proof does), ``sympy.cse`` names each common
sub-expression once, and the result is printed as one assignment per line.
It is generated only when every size is a number, the net is small
(:data:`LIMIT` entries) and every operation has a scalar form here. The
compiled step uses it whenever all arrays share one float dtype; it computes
in double precision (Python floats) and returns gradients in that dtype, so a
float32 caller gets float32 arrays, rounded once at the end.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..derive import Derivation
from ..evaluate import EvalContext, evaluate
from ..ir import Apply, as_sympy, walk
from ..rules import RULES
from ..spec import LOSS
from .printers import _ScalarCode

#: Largest number of entries (inputs, parameters and every node) for scalar code.
LIMIT = 200

#: Element-wise functions with a scalar form, and the helper each needs (or None).
SCALAR_FUNCTIONS = {"relu": None, "step": None, "tanh": None, "sigmoid": "_sigmoid",
                    "exp": "_exp", "log": "_log", "softplus": "_softplus", "expm1": "_expm1"}

_STRUCTURAL = {"reduce": {"sum", "mean", "expand_dims"}, "arith": None, "linalg": None}


def _exp(x):
    # math.exp raises past 709; numpy's exp gives inf there
    return math.exp(x) if x < 709.0 else math.inf


def _log(x):
    # math.log raises at 0 and below; numpy's log gives -inf and nan
    return math.log(x) if x > 0.0 else (-math.inf if x == 0.0 else math.nan)


def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x):
    # log(1 + e^x) without overflow; the fused form of log(sigmoid) needs it
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


def _expm1(x):
    return math.expm1(x) if x < 709.0 else math.inf


HELPERS = {"_exp": _exp, "_log": _log, "_sigmoid": _sigmoid, "_softplus": _softplus, "_expm1": _expm1}


class _StraightLine(_ScalarCode):
    """sympy scalars -> Python float code, with symgrad's functions."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": False})
        self.used: set[str] = set()

    def _print_Integer(self, expr):
        return f"{int(expr)}.0" if abs(int(expr)) < 10 ** 15 else str(float(expr))

    def _print_Function(self, expr):
        name = type(expr).__name__
        arg = self._print(expr.args[0])
        if name == "relu":
            return f"({arg} if {arg} > 0.0 else 0.0)"
        if name == "step":
            return f"(1.0 if {arg} > 0.0 else 0.0)"
        helper = SCALAR_FUNCTIONS.get(name)
        if helper:
            self.used.add(helper)
            return f"{helper}({arg})"
        raise NotImplementedError(name)

    def _print_exp(self, expr):
        self.used.add("_exp")
        return f"_exp({self._print(expr.args[0])})"

    def _print_log(self, expr):
        self.used.add("_log")
        return f"_log({self._print(expr.args[0])})"

    def _print_tanh(self, expr):
        self.used.add("math")
        return f"math.tanh({self._print(expr.args[0])})"

    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        b = self.parenthesize(base, 60 if not base.is_Atom else 1000)
        if e == 2 and base.is_Atom:
            return f"{b} * {b}"
        if e == -1:
            return f"1.0 / {b}"
        if e.is_Integer and e < 0:
            return f"1.0 / {b} ** {-int(e)}"
        return f"{b} ** {self._print(e)}"


def _supported(d: Derivation) -> bool:
    graph = d.graph
    exprs = [n.expr for n in graph.nodes] + [d.adjoint(t) for t in d.order]
    for e in exprs:
        for node in walk(e):
            if not isinstance(node, Apply):
                continue
            rule = RULES[node.op]
            if rule.family == "elementwise":
                if node.op not in SCALAR_FUNCTIONS:
                    return False
            elif rule.family in ("arith", "linalg"):
                continue
            elif rule.family == "reduce" and node.op in ("sum", "mean", "expand_dims"):
                continue
            elif rule.family == "structure":
                continue
            else:
                return False
    return True


def _entry_names(name: str, shape: tuple) -> list[str]:
    if not shape:
        return [name]
    return [f"{name}_{'_'.join(map(str, idx))}" for idx in np.ndindex(*shape)]


def scalar_data(d: Derivation) -> dict | None:
    """Template data for the scalar step, or None when the net does not qualify."""
    graph = d.graph
    if graph.sizes or not _supported(d):
        return None
    shapes = {v.name: tuple(int(s) for s in v.shape) for v in list(graph.inputs.values()) + list(graph.params.values())}
    total = sum(math.prod(s) for s in shapes.values()) + sum(
        math.prod(int(s) for s in n.expr.shape) for n in graph.nodes)
    if total > LIMIT:
        return None
    ctx = EvalContext({}, symbolic=True)
    values, reads, taken = {}, [], set()
    for name, shape in shapes.items():
        entries = _entry_names(name, shape)
        taken |= set(entries)
        symbols = [sp.Symbol(e, real=True) for e in entries]
        values[name] = np.array(symbols[0], dtype=object) if not shape else np.array(symbols, dtype=object).reshape(shape)
        table = "inputs" if name in graph.inputs else "params"
        if shape:
            target = ", ".join(entries) + ("," if len(entries) == 1 else "")
            reads.append(f'{target} = {table}["{name}"].ravel().tolist()')
        else:
            reads.append(f'{name} = float({table}["{name}"])')
    if len(taken) != sum(max(1, math.prod(s)) for s in shapes.values()):
        return None   # two arrays' entry names collide
    memo: dict = {}
    for node in graph.nodes:
        values[node.name] = evaluate(node.expr, values, ctx, memo)
    for target in d.order:
        values[f"d_{target}"] = evaluate(d.adjoint(target), values, ctx, memo)
    outputs = [as_sympy(np.asarray(values[LOSS]).item())]
    layout = []
    for p in graph.params:
        grad = np.broadcast_to(np.asarray(values[f"d_{p}"], dtype=object), shapes[p])
        flat = [as_sympy(v) for v in grad.ravel()]
        layout.append((p, shapes[p], len(outputs), len(flat)))
        outputs.extend(flat)
    temps = sp.numbered_symbols("_s")
    replacements, reduced = sp.cse(outputs, symbols=temps, order="none")
    printer = _StraightLine()
    try:
        lines = [f"{sym} = {printer.doprint(value)}" for sym, value in replacements]
        results = [printer.doprint(v) for v in reduced]
    except NotImplementedError:
        return None
    grads = {}
    for p, shape, start, count in layout:
        items = results[start:start + count]
        if not shape:
            grads[p] = f"np.array({items[0]}, dtype)"
        else:
            nested = _nest(items, shape)
            grads[p] = f"np.array({nested}, dtype)"
    helpers = sorted(h for h in printer.used if h in HELPERS)
    return {"reads": reads, "lines": lines, "loss": results[0], "grads": grads,
            "helpers": [HELPERS[h] for h in helpers], "math": True}


def _nest(items: list[str], shape: tuple) -> str:
    if len(shape) == 1:
        return "[" + ", ".join(items) + "]"
    step = len(items) // shape[0]
    return "[" + ", ".join(_nest(items[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"
