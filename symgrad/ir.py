"""The matrix-expression IR that derivation, printers and checks share.

An expression is a tree of three kinds of nodes:

* :class:`Var`   a named array (input, parameter, intermediate node, adjoint, or
  a temporary the code emitter introduces);
* :class:`Const` a scalar constant; its value is a sympy expression, so it may
  involve symbolic sizes (``1/n``);
* :class:`Apply` an operation from the rule table applied to arguments.

Shapes are tuples of sympy expressions (an ``int`` becomes ``Integer``, a
symbolic size ``n`` a positive integer ``Symbol``). Nodes are immutable and
hash-consed by value, so common sub-expressions compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

Shape = tuple


def as_sympy(value) -> sp.Basic:
    """A sympy object from a number or sympy object symgrad built.

    The one door to sympy's conversion: text is refused, so no string (a user's
    or ours) is ever parsed by sympy.
    """
    if isinstance(value, str):
        raise TypeError("as_sympy takes numbers and sympy objects, never text")
    return sp.sympify(value, strict=True) if not isinstance(value, sp.Basic) else value


def dim(value) -> sp.Expr:
    """A dimension as a sympy expression: 3 -> Integer(3), 'n' -> Symbol('n')."""
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, str):
        return sp.Symbol(value, integer=True, positive=True)
    return sp.Integer(value)


def shape_of(values) -> Shape:
    return tuple(dim(v) for v in values)


def show_shape(shape: Shape) -> str:
    """(n, 3) style text, () for a scalar, (3,) for a vector."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


class Expr:
    """Base class of IR nodes. Subclasses are frozen dataclasses."""

    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __post_init__(self):
        object.__setattr__(self, "_hash", hash((type(self).__name__,) + self._key()))

    def __hash__(self):
        return self._hash

    def _key(self) -> tuple:
        raise NotImplementedError


@dataclass(frozen=True, eq=True, repr=False)
class Var(Expr):
    """A named array. role: input | param | node | adjoint | temp | size."""

    name: str
    shape: Shape
    role: str = "node"
    _hash: int = field(default=0, compare=False, init=False)
    __hash__ = Expr.__hash__   # the stored hash: O(1), not a walk over the tree

    def _key(self):
        return (self.name, self.shape, self.role)

    def __repr__(self):
        return self.name


@dataclass(frozen=True, eq=True, repr=False)
class Const(Expr):
    """A scalar constant (a sympy number or an expression of sizes)."""

    value: sp.Expr
    shape: Shape = ()
    _hash: int = field(default=0, compare=False, init=False)
    __hash__ = Expr.__hash__

    def _key(self):
        return (self.value,)

    def __repr__(self):
        return str(self.value)


@dataclass(frozen=True, eq=True, repr=False)
class Apply(Expr):
    """An operation of the rule table applied to arguments.

    attrs is a tuple of (name, value) pairs so the node stays hashable.
    """

    op: str
    args: tuple
    attrs: tuple
    shape: Shape
    _hash: int = field(default=0, compare=False, init=False)
    __hash__ = Expr.__hash__

    def _key(self):
        return (self.op, self.args, self.attrs, self.shape)

    @property
    def kw(self) -> dict[str, Any]:
        return dict(self.attrs)

    def __repr__(self):
        inner = ", ".join([repr(a) for a in self.args] + [f"{k}={v}" for k, v in self.attrs])
        return f"{self.op}({inner})"


def const(value) -> Const:
    return Const(sp.nsimplify(value) if isinstance(value, float) else as_sympy(value))


def is_const(e: Expr, value=None) -> bool:
    if not isinstance(e, Const):
        return False
    return value is None or e.value == value


def walk(e: Expr):
    """Every node of an expression, parents before children (with repeats)."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Apply):
            stack.extend(reversed(node.args))


def free_vars(e: Expr) -> list[Var]:
    seen: dict[str, Var] = {}
    for node in walk(e):
        if isinstance(node, Var) and node.name not in seen:
            seen[node.name] = node
    return list(seen.values())
