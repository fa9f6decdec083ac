"""The operation list every pass of the compiled step takes and returns, and helpers over it.

An :class:`Op` is one line of three-address code, ``target = node``, whose
node's arguments are Vars, Consts or numpy views of them. The passes
(:mod:`.lower`, :mod:`.rewrite`, :mod:`.schedule`, :mod:`.buffers`,
:mod:`.render`) read an operation's facts from its rule alone
(:func:`out_form`); the step's own operations are the internal rules of
:mod:`symgrad.rules.internal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...ir import Apply, Const, Expr, Var, walk
from ...rules import RULES
from ...rules.core import OutForm

#: Operations printed inside their consumer (numpy views, no work): never an Op of their own.
VIEWS = {"transpose", "expand_dims"}


@dataclass
class Op:
    """One lowered operation: ``target = node`` (node's arguments are Vars, Consts or views).

    ``buffer`` and ``scratch`` name the workspace arrays the buffers pass gave it.
    """

    target: str
    node: Apply
    comment: str = ""
    buffer: str | None = None
    scratch: list = field(default_factory=list)


def out_form(op: str) -> OutForm | None:
    """The out= form of an operation (see :class:`~symgrad.rules.core.OutForm`), or None."""
    return RULES[op].numpy_out if op in RULES else None


def full_reduction(node: Apply) -> bool:
    """sum or mean over every entry, to a scalar."""
    return node.op in ("sum", "mean") and node.kw.get("axis") is None and not node.kw.get("keepdims")


def size_of(shape) -> object:
    """The number of entries of an array of this shape (a sympy expression of the sizes)."""
    count = 1
    for d in shape:
        count = count * d
    return count


def vars_of(e: Expr) -> set[str]:
    """The names of the Vars e reads."""
    return {v.name for v in walk(e) if isinstance(v, Var)}


def readers(ops: list) -> dict[str, list[int]]:
    """Value name -> the positions of the operations that read it, in order."""
    out: dict[str, list[int]] = {}
    for k, op in enumerate(ops):
        for name in vars_of(op.node):
            out.setdefault(name, []).append(k)
    return out


def rename(e: Expr, mapping: dict) -> Expr:
    """e with mapping[v] in place of every Var v it maps."""
    if isinstance(e, Var):
        return mapping.get(e, e)
    if isinstance(e, Apply):
        args = tuple(rename(a, mapping) for a in e.args)
        return e if args == e.args else Apply(e.op, args, e.attrs, e.shape)
    return e


def bottom_up(e: Expr, rewrite, memo: dict) -> Expr:
    """e with rewrite(x) in place of every sub-expression x it rewrites (None: kept), children
    first, so a rewrite sees its arguments already rewritten."""
    if not isinstance(e, Apply):
        return e
    if e not in memo:
        args = tuple(bottom_up(a, rewrite, memo) for a in e.args)
        out = e if args == e.args else Apply(e.op, args, e.attrs, e.shape)
        memo[e] = rewrite(out) or out
    return memo[e]


def factors(e: Expr) -> list:
    """The factors of a product (nested muls flattened), or [e]."""
    if isinstance(e, Apply) and e.op == "mul":
        return factors(e.args[0]) + factors(e.args[1])
    return [e]


def product(parts: list, shape: tuple) -> Expr:
    """parts multiplied left to right; constants first, as the derivation writes them."""
    parts = sorted(parts, key=lambda f: not isinstance(f, Const))
    out = parts[0]
    for f in parts[1:]:
        out = Apply("mul", (out, f), (), shape if shape else tuple(f.shape))
    return out


def constant_array(e: Expr):
    """The Const c when e is c broadcast (and reshaped) to an array, else None."""
    while isinstance(e, Apply) and e.op in ("broadcast_to", "expand_dims"):
        e = e.args[0]
    return e if isinstance(e, Const) else None
