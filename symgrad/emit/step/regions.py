"""Element-wise regions of a backward expression, simplified as scalar expressions.

A backward expression such as ``dL/dP * P * (1 - P)`` with
``dL/dP = c (1 - Y) / (1 - P) - c Y / P`` (sigmoid into binary cross-entropy)
is one element-wise region over the leaves P and Y; sympy's ``cancel`` turns
it into ``c (P - Y)``: the same function, two passes instead of ten, and no
0/0 where P rounds to 0 or 1. A rewrite is kept only when it is cheaper and
has the region's shape.
"""

from __future__ import annotations

from ...ir import Apply, Expr, walk
from ...rules import RULES
from ...rules import to_sympy as rules_to_sympy

ARITH = {"add", "sub", "mul", "div", "neg", "pow"}
_COST = {"div": 2, "pow": 1}

#: Regions with more operations than this are not given to sympy to cancel. The rewrites
#: that pay (binary cross-entropy's c (P - Y)) come from regions of about 11; gelu' of a
#: cube, at 38, took sympy's gcd over 10 minutes before the division test excluded it.
MAX_REGION_OPS = 30


def is_elementwise(e: Expr) -> bool:
    return isinstance(e, Apply) and (e.op in ARITH or RULES[e.op].family == "elementwise")


def cost(e: Expr) -> int:
    """Passes over memory an expression costs (functions and divisions count more)."""
    total = 0
    for node in walk(e):
        if isinstance(node, Apply):
            total += _COST.get(node.op, 1) if node.op in ARITH else 4
    return total


class Regions:
    """Rewrites maximal element-wise sub-trees into their cheapest equal scalar form.

    Args:
        definitions: forward values (lowered Var -> defining node); those defined by
            arithmetic (1 - P) a region may see through.
    """

    def __init__(self, definitions: dict | None = None):
        self.cache: dict = {}
        self.definitions = {v: e for v, e in (definitions or {}).items()
                            if isinstance(e, Apply) and e.op in ARITH}

    def __call__(self, e: Expr) -> Expr:
        if not isinstance(e, Apply):
            return e
        if is_elementwise(e) and e.shape:
            return self.region(e)
        args = tuple(self(a) for a in e.args)
        return e if args == e.args else Apply(e.op, args, e.attrs, e.shape)

    def region(self, e: Apply) -> Expr:
        import sympy as sp
        from ...rules.elementwise import from_sympy

        leaves: dict[Expr, sp.Symbol] = {}

        def leaf(x: Expr):
            if x in self.definitions:
                return rules_to_sympy(self.definitions[x], leaf)
            if not is_elementwise(x):
                named = self(x)
                if named not in leaves:
                    leaves[named] = sp.Symbol(f"leaf{len(leaves)}", real=True)
                return leaves[named]
            return None

        scalar = rules_to_sympy(e, leaf)
        key = (scalar, tuple(tuple(leaf.shape) for leaf in leaves))
        if key not in self.cache:
            self.cache[key] = cheapest(scalar)
        better = self.cache[key]
        if better is None:
            return self._rebuild(e)
        bind = {sym: leaf for leaf, sym in leaves.items()}
        out = from_sympy(better, bind)
        if tuple(out.shape) != tuple(e.shape) or cost(out) >= cost(e):
            return self._rebuild(e)
        return out

    def _rebuild(self, e: Apply) -> Expr:
        if not isinstance(e, Apply):
            return e
        args = tuple(self._rebuild(a) if is_elementwise(a) else self(a) for a in e.args)
        return e if args == e.args else Apply(e.op, args, e.attrs, e.shape)


def cheapest(scalar):
    """A cheaper equal form of a scalar sympy expression (cancelled and factored), or None."""
    import sympy as sp
    if not any(p.exp.is_negative and not p.base.is_number for p in scalar.atoms(sp.Pow)):
        return None   # no division by a variable (1/sqrt(pi) is none) to cancel: keep the derivation's form
    if sp.count_ops(scalar) > MAX_REGION_OPS:
        return None   # sympy's polynomial gcd can take minutes on a large region
    cancelled = sp.factor(sp.cancel(sp.together(scalar)))
    if sp.count_ops(cancelled) < sp.count_ops(scalar):
        return cancelled
    return None
