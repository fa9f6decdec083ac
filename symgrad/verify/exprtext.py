"""IR -> text in the answer language (the spec language plus the internal
operations an adjoint needs: ``slice``, ``broadcast_to``, ``expand_dims``).

Used to show expected formulas and to write mistake variants as answers a
student could type. Every operand that is not an atom is parenthesised, so
the text reads back to the same tree. How each operation is written comes
from its rule (``syntax``, ``spelling``, ``signature``).
"""

from __future__ import annotations

from ..ir import Apply, Const, Expr, Var, as_sympy
from ..rules import RULES
from ..rules.core import AXIS, CALL, HIDDEN, INFIX, NUMBER, POSTFIX_OP, POWER, PREFIX, SIZE, SIZES

_OPERATORS = (INFIX, PREFIX, POWER)   # written around their operands: parenthesised inside another


def _atom(text: str, e: Expr) -> str:
    if isinstance(e, Var) or (isinstance(e, Apply) and RULES[e.op].syntax not in _OPERATORS):
        return text
    if isinstance(e, Const) and as_sympy(e.value).is_Integer and e.value >= 0:
        return text
    return f"({text})"


def _dim(d) -> str:
    d = as_sympy(d)
    return str(d) if d.is_Atom else f"({d})"


def _value(op: str, arg, value) -> str:
    """One attribute written as the answer language reads it back."""
    if arg.kind == SIZES:
        return ", ".join(_dim(d) for d in value)
    if arg.kind == SIZE:
        return _dim(value)
    if arg.kind == NUMBER:
        return repr(float(value))
    if arg.kind == AXIS and isinstance(value, tuple):
        raise ValueError(f"{op} over several axes has no answer spelling")
    return str(value)


def _call(rule, args: list[str], kw: dict) -> str:
    parts = list(args)
    for arg in rule.signature:
        if arg.array or arg.name not in kw:
            continue
        value = kw[arg.name]
        if value is arg.default and (value is None or value is False):
            continue   # the default a call leaves out
        text = _value(rule.name, arg, value)
        parts.append(f"{arg.name}={text}" if arg.keyword else text)
    return f"{rule.spelling}({', '.join(parts)})"


def to_text(e: Expr) -> str:
    """The answer-language spelling of an IR expression."""
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Const):
        value = as_sympy(e.value)
        return str(value).replace(" ", "")
    rule = RULES[e.op]
    args = [to_text(a) for a in e.args]
    atoms = [_atom(t, a) for t, a in zip(args, e.args)]
    if rule.syntax == INFIX:
        return f"{atoms[0]} {rule.spelling} {atoms[1]}"
    if rule.syntax == PREFIX:
        return f"{rule.spelling}{atoms[0]}"
    if rule.syntax == POSTFIX_OP:
        return f"{atoms[0]}{rule.spelling}"
    if rule.syntax == POWER:
        (exponent,) = [e.kw[a.name] for a in rule.signature if not a.array]
        return f"{atoms[0]}{rule.spelling}{_atom(str(exponent), Const(exponent))}"
    if rule.syntax == HIDDEN:
        return args[0]
    if rule.syntax == CALL and rule.spelling:
        return _call(rule, args, e.kw)
    raise ValueError(f"no answer spelling for operation {e.op!r}")


def derivative_text(rule) -> str | None:
    """f' of an element-wise rule in the answer language, in ``x`` (the argument)
    and ``r`` (the value f(x)), from its scalar derivative (sigmoid: ``(1 - r) * r``);
    parameters take their defaults. None when there is none to write."""
    from ..errors import SymgradError
    from ..rules.core import REQUIRED
    from ..rules.elementwise import R, X, from_sympy

    scalar = rule.extra.get("scalar")
    if scalar is None or not rule.differentiable(0):
        return None
    params = {a.name: a.default for a in rule.signature if not a.array}
    if any(v is REQUIRED for v in params.values()):
        return None
    bind = {X: Var("x", (), "input"), R: Var("r", (), "node")}
    bind.update({sym: Const(params[sym.name]) for sym in scalar.param_symbols})
    try:
        return to_text(from_sympy(scalar.derivative, bind))
    except (SymgradError, ValueError):
        return None


def derivative_tree(rule, arg, call, pos: int):
    """f'(arg) as a parse tree for the LaTeX reader's ``f'(z)``: the rule's derivative
    in the answer language, its ``x`` and ``r`` replaced by the argument and the
    call; None when it cannot be written in the language (erf' needs sqrt(pi))."""
    from ..graph import callable_functions
    from ..parse import Call, Name, parse, substitute, walk

    text = derivative_text(rule)
    if text is None:
        return None
    tree, known = parse(text), set(callable_functions())
    if any(isinstance(n, Call) and n.func not in known or isinstance(n, Name) and n.id not in ("x", "r")
           for n in walk(tree)):
        return None
    return substitute(tree, {"x": arg, "r": call}, pos)
