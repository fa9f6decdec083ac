"""Straight-line scalar code for networks of fixed, tiny size.

For a net with a handful of weights (a 1-3-3-1 ReLU net, a batch of one), each
numpy call costs more than the arithmetic it does, so the fastest step is
plain Python on floats: every array entry becomes a variable, the forward
values and every gradient entry are evaluated symbolically with the rule
table's own evaluators (as the proof does), ``sympy.cse`` names each common
sub-expression once, and the result is printed as one assignment per line.
It is generated only when every size is a number, the net is small
(:data:`LIMIT` entries) and every operation has a scalar form (its rule's
``scalar_code``; arithmetic always has one). The
compiled step uses it whenever all arrays share one float dtype; it computes
in double precision (Python floats) and returns gradients in that dtype, so a
float32 caller gets float32 arrays, rounded once at the end.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import sympy as sp

from ..derive import Derivation
from ..evaluate import EvalContext
from ..ir import Apply, Const, Var, as_sympy, walk
from ..points import symbolic_array
from ..rules import RULES
from ..rules import scalar_code as sc
from ..spec import LOSS
from .printers import _ScalarCode

#: Largest number of entries (inputs, parameters and every node) for scalar code.
LIMIT = 200

_STRUCTURAL = ("arith", "linalg", "structure")   # plain arithmetic on entries, always supported


class _StraightLine(_ScalarCode):
    """sympy scalars -> Python float code, with symgrad's functions."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": False})
        self.used: set[str] = set()
        self.helpers: dict = {}     # name -> float function whose source the module gets

    def _print_Integer(self, expr):
        return f"{int(expr)}.0" if abs(int(expr)) < 10 ** 15 else str(float(expr))

    def _print_Function(self, expr):
        return self._call(type(expr).__name__, expr)

    def _print_exp(self, expr):
        return self._call("exp", expr)

    def _print_log(self, expr):
        return self._call("log", expr)

    def _print_tanh(self, expr):
        return self._call("tanh", expr)

    def _print_sign(self, expr):
        return self._call("sign", expr)

    def _call(self, name, expr):
        """The rule's scalar form of function ``name`` applied to expr's argument."""
        form = RULES[name].scalar_code if name in RULES else None
        if form is None or form.code is None:
            raise NotImplementedError(name)
        arg = self._print(expr.args[0])
        if isinstance(form.code, str):
            if "math." in form.code:
                self.used.add("math")
            return form.code.format(arg)
        self.helpers[form.code.__name__] = form.code
        return f"{form.code.__name__}({arg})"

    def _print_Pow(self, expr, rational=False):
        # The caller places the result by a power's precedence (tighter than * and /), so a
        # form that is a product or a quotient is parenthesised: x / s**2 is x / (s * s),
        # never x / s * s.
        # Python's float ** raises OverflowError where numpy gives inf: a square is a
        # product, any other power goes through _pow (numpy's edges, see scalar_code).
        base, e = expr.args
        b = self._print(base) if base.is_Symbol else self.parenthesize(base, 60 if not base.is_Atom else 1000)
        if e == 2 and base.is_Atom:
            return f"({b} * {b})"
        if e == 2:
            return self._helper(sc._square, self._print(base))
        if e == -1:
            return f"(1.0 / {b})"
        if e.is_Integer and e < 0:
            return f"(1.0 / {self._helper(sc._pow, self._print(base), self._print(-e))})"
        return self._helper(sc._pow, self._print(base), self._print(e))

    def _helper(self, fn, *args) -> str:
        self.helpers[fn.__name__] = fn
        return f"{fn.__name__}({', '.join(args)})"


def _supported(d: Derivation) -> bool:
    """True when every operation has a scalar form (arithmetic always has one)."""
    graph = d.graph
    exprs = [n.expr for n in graph.nodes] + [d.adjoint(t) for t in d.order]
    for e in exprs:
        for node in walk(e):
            if isinstance(node, Apply):
                rule = RULES[node.op]
                if rule.family not in _STRUCTURAL and rule.scalar_code is None:
                    return False
    return True


def _evaluate(e, values: dict, ctx: EvalContext, memo: dict):
    """Entries of e as sympy expressions, each operation by its rule's scalar form
    (the rule's own evaluation unless the scalar form has its own, as softmax does)."""
    if e in memo:
        return memo[e]
    if isinstance(e, Var):
        out = values[e.name]
    elif isinstance(e, Const):
        out = ctx.number(e.value)
    else:
        args = [_evaluate(a, values, ctx, memo) for a in e.args]
        rule = RULES[e.op]
        form = rule.scalar_code
        out = (form.evaluate if form is not None and form.evaluate is not None else rule.evaluate)(args, e, ctx)
    memo[e] = out
    return out


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
        values[name] = symbolic_array(name, shape)
        entries = [str(s) for s in values[name].ravel()]
        taken |= set(entries)
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
        values[node.name] = _evaluate(node.expr, values, ctx, memo)
    for target in d.order:
        values[f"d_{target}"] = _evaluate(d.adjoint(target), values, ctx, memo)
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
    helpers = [fn for _, fn in sorted(printer.helpers.items())]
    code = "\n".join([*lines, *results, *(inspect.getsource(fn) for fn in helpers)])
    return {"reads": reads, "lines": lines, "loss": results[0], "grads": grads,
            "helpers": helpers, "math": "math." in code}   # import math only where it is used


def _nest(items: list[str], shape: tuple) -> str:
    if len(shape) == 1:
        return "[" + ", ".join(items) + "]"
    step = len(items) // shape[0]
    return "[" + ", ".join(_nest(items[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"
