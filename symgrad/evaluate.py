"""Evaluate IR expressions on arrays: float arrays, or object arrays of sympy
expressions (for proofs). Symbolic sizes get concrete values first (which
values: :mod:`symgrad.points`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .ir import Apply, Const, Expr, Var, as_sympy
from .rules import RULES


@dataclass
class EvalContext:
    """What the rules' evaluate forms need to know.

    Attributes:
        sizes: size symbol -> int.
        symbolic: True for object arrays of sympy expressions.
        dtype: float dtype of numeric arrays.
    """

    sizes: dict
    symbolic: bool = False
    dtype: object = np.float64

    def size(self, d) -> int:
        return int(as_sympy(d).xreplace(self.sizes))

    def shape(self, shape) -> tuple:
        return tuple(self.size(d) for d in shape)

    def number(self, value):
        value = as_sympy(value).xreplace(self.sizes)
        return value if self.symbolic else self.dtype(float(value))

    def broadcast(self, x, shape):
        return np.broadcast_to(x, self.shape(shape))

    def matmul(self, a, b):
        if self.symbolic and np.ndim(a) == 1 and np.ndim(b) == 1:
            return np.sum(a * b)
        return a @ b

    def evaluate(self, e: Expr, values: dict):
        """The value of ``e`` in this context (a rule whose forward form is itself IR evaluates it here)."""
        return evaluate(e, values, self)

    def full(self, shape, value):
        if self.symbolic:
            return np.full(self.shape(shape), sp.Integer(value), dtype=object)
        return np.full(self.shape(shape), value, dtype=self.dtype)


def evaluate(e: Expr, values: dict, ctx: EvalContext, memo: dict | None = None):
    """The value of ``e`` given values for its Vars (by name)."""
    memo = {} if memo is None else memo
    if e in memo:
        return memo[e]
    if isinstance(e, Var):
        out = values[e.name]
    elif isinstance(e, Const):
        out = ctx.number(e.value)
    elif isinstance(e, Apply):
        args = [evaluate(a, values, ctx, memo) for a in e.args]
        out = RULES[e.op].evaluate(args, e, ctx)
    else:
        raise TypeError(type(e).__name__)
    memo[e] = out
    return out
