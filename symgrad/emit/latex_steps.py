"""The derivation at the level of the spec's own entries, for write-ups.

The graph splits every spec entry into operations (``z1 = W1 @ x + b1`` becomes
a product and a sum); a textbook derivation speaks of the entries. This module
folds the temporaries back in:

* :meth:`Derivation.entry_definitions` -- each entry's value in entry-level names;
* :meth:`Derivation.entry_contributions` -- each entry's (and parameter's)
  contributions in entry-level forward values and entry-level adjoints;
* :func:`chain_steps` -- every adjoint as a sum of steps ``target <- source``,
  each classified by the shape of its local Jacobian (identity, diagonal,
  a matrix factor, an affine weight, softmax...), read off the VJP expression
  the rule table produced.

Nothing here derives anything: it only re-groups what :mod:`symgrad.derive`
computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import names as naming
from ..derive import Derivation
from ..ir import Apply, Expr, Var, walk
from ..spec import LOSS


def entry_names(d: Derivation) -> list[str]:
    """Spec entries in order (nodes then ``loss``)."""
    return [n.name for n in d.graph.entry_nodes()]


def adjoint_targets(d: Derivation) -> list[str]:
    """Entries and parameters that have an adjoint, in the order computed."""
    entries = set(entry_names(d))
    return [t for t in d.order if t in entries or t in d.graph.params]


@dataclass(frozen=True)
class Step:
    """One contribution dL/d<target> += expr, seen at entry level.

    Attributes:
        target: The entry or parameter receiving the contribution.
        source: The entry whose adjoint flows back (``loss`` for the first step).
        expr: The contribution, in entry-level values and ``d_<source>``.
        kind: How the local Jacobian looks: identity, negated, scale,
            diagonal, matrix, row_matrix, weight_outer, weight_left,
            weight_dot, softmax, gradient, slice, sum, general.
        factor: The expression that characterises the Jacobian (the diagonal's
            entries, the matrix W, the vector x...), or None.
    """

    target: str
    source: str
    expr: Expr
    kind: str
    factor: Expr | None = None
    upstream: Expr | None = None   # what plays dL/d<source> (a compound when the entry hides a step)


def _add(a: Expr, b: Expr) -> Expr:
    from ..rules import apply
    return apply("add", a, b)


def _is_adj(e: Expr, source: str) -> bool:
    return isinstance(e, Var) and e.role == "adjoint" and e.name == naming.adjoint(source)


def _uses(e: Expr, var: Var) -> bool:
    return any(n == var for n in walk(e))


def classify(d: Derivation, target: str, source: str, expr: Expr) -> Step:
    """Name the local Jacobian of one step by the form of its VJP."""
    if source == LOSS:
        return Step(target, source, expr, "gradient", tidy(expr))
    g = d.adjoint_var(source)
    t_shape = d.graph.variables()[target].shape
    if _is_adj(expr, source):
        return Step(target, source, expr, "identity")
    if isinstance(expr, Apply):
        op, args = expr.op, expr.args
        if op == "neg" and _is_adj(args[0], source):
            return Step(target, source, expr, "negated")
        if op == "mul" and len(args) == 2:
            a, b = args
            other = b if _is_adj(a, source) else a if _is_adj(b, source) else None
            if other is not None and not _uses(other, g):
                if other.ndim == 0:
                    return Step(target, source, expr, "scale" if len(t_shape) else "weight_dot", other)
                if len(t_shape) >= 1 and tuple(other.shape) == tuple(t_shape) and g.ndim == 0:
                    return Step(target, source, expr, "weight_dot", other)
                if _entrywise(other):
                    return Step(target, source, expr, "diagonal", other)
            if _softmax_form(expr, g):
                return Step(target, source, expr, "softmax", args[0])
        if op == "matmul":
            a, b = args
            if _is_adj(b, source) and isinstance(a, Apply) and a.op == "transpose" and len(t_shape) == 1:
                return Step(target, source, expr, "matrix", a.args[0])
            if _is_adj(b, source) and isinstance(a, Apply) and a.op == "transpose":
                return Step(target, source, expr, "weight_left", a.args[0])
            if _is_adj(a, source) and isinstance(b, Apply) and b.op == "transpose":
                return Step(target, source, expr, "row_matrix", b.args[0])
            if _is_adj(b, source) and a.ndim == 2 and len(t_shape) == 1:
                return Step(target, source, expr, "matrix_t", a)
        if op == "outer" and _uses(args[0], g) and not _uses(args[1], g):
            return Step(target, source, expr, "weight_outer", args[1], args[0])
        if op == "matmul" and isinstance(args[0], Apply) and args[0].op == "transpose" \
                and _uses(args[1], g) and len(t_shape) == 2:
            return Step(target, source, expr, "weight_left", args[0].args[0], args[1])
        if op == "slice" and _is_adj(args[0], source):
            return Step(target, source, expr, "slice")
        if op in ("sum", "broadcast_to") and _is_adj(args[0], source):
            return Step(target, source, expr, "sum")
    return Step(target, source, expr, "general")


def _entrywise(e: Expr) -> bool:
    """Each entry of e reads the same entry of its arrays (no reduction: the indicator of a
    row's first maximum is not a diagonal Jacobian's entry)."""
    from ..rules import RULES
    return all(RULES[n.op].family in ("arith", "elementwise") for n in walk(e) if isinstance(n, Apply))


def _softmax_form(expr: Apply, g: Var) -> bool:
    """p * (g - sum(g * p)), the softmax VJP."""
    p, inner = expr.args
    return (isinstance(inner, Apply) and inner.op == "sub" and inner.args[0] == g
            and isinstance(inner.args[1], Apply) and inner.args[1].op == "sum"
            and any(n == p for n in walk(inner.args[1])))


def chain_steps(d: Derivation) -> dict[str, list[Step]]:
    """Target -> its steps, for every entry and parameter with an adjoint."""
    out = {}
    for t, contributions in d.entry_contributions().items():
        parts = [(c.source, c.expr) for c in contributions]
        from_loss = [e for s, e in parts if s == LOSS]
        if len(from_loss) > 1:   # the loss uses t more than once: one gradient step
            summed = from_loss[0]
            for e in from_loss[1:]:
                summed = _add(summed, e)
            parts = [(LOSS, summed)] + [(s, e) for s, e in parts if s != LOSS]
        out[t] = [classify(d, t, s, e) for s, e in parts]
    return out


def _one_minus(e):
    """Denominator factors as ``1 - x`` rather than ``x - 1`` (the sign moves to the numerator)."""
    import sympy as sp
    num, den = sp.fraction(e)
    sign, factors = 1, []
    for f in sp.Mul.make_args(den):
        if f.is_Add and f.as_coeff_Add()[0] < 0:
            factors.append(sp.expand(-f))
            sign = -sign
        else:
            factors.append(f)
    if sign == 1:
        return e
    return sp.expand(-num) / sp.Mul(*factors) if num.is_Add else -num / sp.Mul(*factors)


def tidy(expr: Expr) -> Expr:
    """An element-wise expression, simplified by sympy when that makes it shorter.

    Only expressions made of element-wise operations on arrays of one shape are
    touched; anything else is returned unchanged.
    """
    import sympy as sp

    from ..rules import to_sympy
    from ..rules.elementwise import from_sympy

    symbols: dict[Var, sp.Symbol] = {}

    def leaf(e):
        if isinstance(e, Var):
            if e.shape != expr.shape and e.ndim:
                raise ValueError
            return symbols.setdefault(e, sp.Symbol(f"v{len(symbols)}", real=True))
        return None

    try:
        value = to_sympy(expr, leaf)
    except ValueError:
        return expr
    candidates = [_one_minus(sp.factor(sp.together(value))), _one_minus(sp.simplify(value))]
    bind = {s: v for v, s in symbols.items()}
    best = expr
    best_len = len(str(value))
    for c in candidates:
        if len(str(c)) < best_len:
            try:
                best = from_sympy(c, bind)
                best_len = len(str(c))
            except Exception:   # noqa: BLE001 -- a form IR cannot express: keep the original
                continue
    return best


def total(steps: list[Step]) -> Expr:
    out = steps[0].expr
    for s in steps[1:]:
        out = _add(out, s.expr)
    return out

