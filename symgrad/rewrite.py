"""Rewriting IR expressions through the rule table.

:func:`rebuild` and :func:`substitute` construct new nodes with
:func:`symgrad.rules.apply`, so the rule table's simplifications apply to what
they build. They live here, above both :mod:`symgrad.ir` (the node types) and
:mod:`symgrad.rules` (which builds on the node types), so neither of those two
imports the other in both directions.
"""

from __future__ import annotations

from .ir import Apply, Expr, Var
from .rules import apply


def rebuild(e: Expr, replace, _memo=None) -> Expr:
    """e with every sub-expression x for which replace(x) is not None replaced by it,
    rebuilt through the rule table (so simplifications apply); shared sub-trees once."""
    memo = {} if _memo is None else _memo
    if e in memo:
        return memo[e]
    out = replace(e)
    if out is None:
        if isinstance(e, Apply):
            args = tuple(rebuild(a, replace, memo) for a in e.args)
            out = e if args == e.args else apply(e.op, *args, **e.kw)
        else:
            out = e
    memo[e] = out
    return out


def substitute(e: Expr, mapping: dict, _memo=None) -> Expr:
    """Replace Vars (by name) with expressions, rebuilding through the rule table."""
    return rebuild(e, lambda x: mapping.get(x.name) if isinstance(x, Var) else None, _memo)
