"""IR -> text in the answer language (the spec language plus the internal
operations an adjoint needs: ``slice``, ``broadcast_to``, ``expand_dims``).

Used to show expected formulas and to write mistake variants as answers a
student could type. Every operand that is not an atom is parenthesised, so
the text reads back to the same tree.
"""

from __future__ import annotations


from ..ir import Apply, Const, Expr, Var, as_sympy
from ..rules import RULES

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}


def _atom(text: str, e: Expr) -> str:
    if isinstance(e, Var) or (isinstance(e, Apply) and e.op not in _INFIX and e.op not in ("neg", "pow")):
        return text
    if isinstance(e, Const) and as_sympy(e.value).is_Integer and e.value >= 0:
        return text
    return f"({text})"


def _dim(d) -> str:
    d = as_sympy(d)
    return str(d) if d.is_Atom else f"({d})"


def to_text(e: Expr) -> str:
    """The answer-language spelling of an IR expression."""
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Const):
        value = as_sympy(e.value)
        return str(value).replace(" ", "")
    op = e.op
    args = [to_text(a) for a in e.args]
    kw = e.kw
    if op in _INFIX:
        return f"{_atom(args[0], e.args[0])} {_INFIX[op]} {_atom(args[1], e.args[1])}"
    if op == "neg":
        return f"-{_atom(args[0], e.args[0])}"
    if op == "pow":
        return f"{_atom(args[0], e.args[0])}**{_atom(str(kw['exponent']), Const(kw['exponent']))}"
    if op == "transpose":
        return f"{_atom(args[0], e.args[0])}.T"
    if op == "alias":
        return args[0]
    if op in ("ones", "zeros"):
        return f"{op}({', '.join(_dim(d) for d in kw['shape'])})"
    if op == "broadcast_to":
        return f"broadcast_to({args[0]}, {', '.join(_dim(d) for d in kw['shape'])})"
    if op == "slice":
        return f"slice({args[0]}, axis={kw['axis']}, start={_dim(kw['start'])}, stop={_dim(kw['stop'])})"
    if op == "expand_dims":
        return f"expand_dims({args[0]}, axis={kw['axis']})"
    if op == "concat":
        return f"concat({', '.join(args)}, axis={kw['axis']})"
    if op in ("sum", "mean"):
        extra = ""
        if kw.get("axis") is not None:
            axis = kw["axis"]
            if isinstance(axis, tuple):
                raise ValueError("multi-axis reductions have no answer spelling")
            extra += f", axis={axis}"
        if kw.get("keepdims"):
            extra += ", keepdims=True"
        return f"{op}({args[0]}{extra})"
    if op in ("softmax", "log_softmax"):
        return f"{op}({args[0]}, axis={kw['axis']})"
    rule = RULES[op]
    if rule.family == "elementwise":
        params = rule.extra["scalar"].params
        extra = "".join(f", {float(kw[p])!r}" for p in params)
        return f"{op}({args[0]}{extra})"
    if op == "outer":
        return f"outer({args[0]}, {args[1]})"
    raise ValueError(f"no answer spelling for operation {op!r}")
