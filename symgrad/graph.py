"""From a spec to a typed graph: parse every expression, infer every shape.

Each spec entry becomes one or more graph nodes in A-normal form: the entry's
outermost operation keeps the entry's name, and every nested operation gets a
temporary (``H_1`` for the inner ``A @ W1`` of ``H = relu(A @ W1)``); a
transpose of a name stays inline, as numpy writes it. All shape errors are
found here, before anything is derived, and name the file, node, expression
and shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from . import names as naming
from .errors import ShapeError, SpecError, SymgradError
from .ir import Apply, Const, Expr, Var, as_sympy, dim, show_shape, walk
from .parse import BinOp, Call, Name, Num, Subscript, Transpose, UnaryOp, parse
from .rules import COMPOSITES, RULES, apply, callable_functions
from .rules.core import ARRAY, ARRAYS, AXIS, CALL, FLAG, INFIX, NUMBER, POSTFIX_OP, POWER, PREFIX, REQUIRED, SIZES, SPEC
from .sizes import names_in as size_names
from .sizes import read_size
from .subscript import lower_subscript
from .spec import LOSS, Spec, load_spec
from .limits import (MAX_CONSTANT_BITS, MAX_ELEMENTS, MAX_EXPONENT, _bits, check_constant,  # noqa: F401
                     check_elements, elements)


def _operator(syntax: str, spelling: str) -> str:
    """The operation the parser's operator ``spelling`` stands for."""
    return RULES.spelled(syntax, spelling).name


def did_you_mean(name: str, candidates) -> str:
    """' (did you mean 'y_hat'?)' for a near miss (yhat, onehot, Relu), else ''. Underscores and case
    are what students drop or change most, so they are compared without them first."""
    import difflib
    candidates = list(dict.fromkeys(candidates))
    bare = {c.replace("_", "").lower(): c for c in candidates}
    key = name.replace("_", "").lower()
    near = [bare[key]] if key in bare else difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f" (did you mean {near[0]!r}?)" if near and near[0] != name else ""


@dataclass
class GraphNode:
    """One operation with a name: ``name = expr``."""

    name: str
    expr: Expr          # an Apply whose arguments are Vars, Consts or inline ops
    entry: str          # the spec entry it came from (a node name or "loss")
    temp: bool          # True for a sub-expression symgrad named

    @property
    def var(self) -> Var:
        return Var(self.name, self.expr.shape, "node")


@dataclass
class Graph:
    """The typed graph of a spec."""

    spec: Spec
    inputs: dict[str, Var]
    params: dict[str, Var]
    nodes: list[GraphNode]
    sizes: dict[str, tuple]           # size name -> (array name, axis) it is read from
    entry_text: dict[str, str] = field(default_factory=dict)  # entry -> expression text, on one line
    least: dict[str, int] = field(default_factory=dict)       # size name -> its smallest value (a slice x[:4])

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def loss(self) -> Var:
        return self.node(LOSS).var

    def node(self, name: str) -> GraphNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def variables(self) -> dict[str, Var]:
        out = dict(self.inputs)
        out.update(self.params)
        out.update({n.name: n.var for n in self.nodes})
        return out

    def definitions(self) -> dict[str, Expr]:
        return {n.name: n.expr for n in self.nodes}

    def entry_nodes(self) -> list[GraphNode]:
        """The nodes that carry a spec entry's own name (not temporaries)."""
        return [n for n in self.nodes if not n.temp]


class Lowering:
    """Turns one spec into a Graph."""

    LANGUAGE = SPEC   # the functions it may call (see Rule.language)

    def __init__(self, spec: Spec):
        self.spec = spec
        self.sizes: dict[str, tuple] = {}
        self.env: dict[str, Var] = {}
        self.nodes: list[GraphNode] = []
        self.taken: set[str] = set(spec.inputs) | set(spec.params) | set(spec.nodes) | {LOSS}
        self.least: dict[str, int] = {}
        self.entry = ""
        self.text = ""

    def error(self, message, cls=SpecError):
        return cls(message, source=self.spec.source, node=self.entry, expr=self.text)

    # -- declarations ----------------------------------------------------------
    def declare(self, table: dict, role: str) -> dict[str, Var]:
        out = {}
        for name, shape in table.items():
            dims = tuple(read_size(d) if isinstance(d, str) else dim(d) for d in shape)
            for axis, d in enumerate(dims):
                for size in sorted(size_names(d) & self.taken):
                    raise SpecError(f"size name {size!r} is also the name of an array", source=self.spec.source,
                                    node=name)
                if d.is_Symbol:
                    self.sizes.setdefault(d.name, (name, axis))
            var = Var(name, dims, role)
            out[name] = var
            self.env[name] = var
        return out

    # -- expressions -----------------------------------------------------------
    def lower_entry(self, entry: str, text: str) -> None:
        self.entry, self.text = entry, text
        try:
            tree = parse(text)
            expr = self.lower(tree)
            check_elements(expr, MAX_ELEMENTS)
        except SymgradError as exc:
            raise exc.located(source=self.spec.source, node=entry, expr=text) from None
        if isinstance(expr, Var) or not isinstance(expr, Apply) or RULES[expr.op].inline:
            expr = Apply("alias", (expr,), (), expr.shape)
        top = self.cut(expr, entry, top=True)
        node = GraphNode(entry, top, entry, temp=False)
        self.nodes.append(node)
        self.env[entry] = node.var

    def cut(self, expr: Expr, entry: str, top=False) -> Expr:
        """Bind nested operations to temporaries; returns the rebuilt expression."""
        if not isinstance(expr, Apply) or not expr.args:
            return expr
        args = tuple(self.cut(a, entry) for a in expr.args)
        rebuilt = Apply(expr.op, args, expr.attrs, expr.shape)
        if top or RULES[expr.op].inline:
            return rebuilt
        name = self.fresh(entry)
        node = GraphNode(name, rebuilt, entry, temp=True)
        self.nodes.append(node)
        return node.var

    def fresh(self, entry: str) -> str:
        k = 1
        while naming.temporary(entry, k) in self.taken:
            k += 1
        name = naming.temporary(entry, k)
        self.taken.add(name)
        return name

    def at(self, node, message):
        return ShapeError(f"{message} (at column {node.pos})")

    def lower(self, node) -> Expr:
        try:
            out = self._lower(node)
        except ShapeError as exc:
            if "(at column" in exc.message:
                raise
            raise self.at(node, exc.message) from None
        if isinstance(out, Const):
            check_constant(out.value, node.pos)
        return out

    def _lower(self, node) -> Expr:
        if isinstance(node, Num):
            return Const(sp.Rational(node.value.numerator, node.value.denominator))
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, UnaryOp):
            operand = self.lower(node.operand)
            return operand if node.op == "+" else apply(_operator(PREFIX, node.op), operand)
        if isinstance(node, Transpose):
            return apply(_operator(POSTFIX_OP, ".T"), self.lower(node.operand))
        if isinstance(node, BinOp):
            return self.binop(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Subscript):
            return lower_subscript(self, node)
        raise self.error(f"unsupported syntax {type(node).__name__}")

    def name(self, node: Name) -> Expr:
        kind = self.spec.kinds.get(node.id)
        if kind is not None and kind.integer:
            raise SpecError(f"input {node.id!r} (column {node.pos}) holds integers ({kind.describe()}); "
                            "it cannot be used as a real-valued array")
        if node.id in self.env:
            return self.env[node.id]
        if node.id in self.sizes:
            return Const(dim(node.id))
        if node.id in self.spec.nodes or node.id == LOSS:
            raise SpecError(f"name {node.id!r} (column {node.pos}) is used before it is defined; "
                            "nodes may only use earlier nodes")
        if node.id in callable_functions():
            raise SpecError(f"{node.id!r} (column {node.pos}) is a function; call it as {node.id}(...)")
        near = did_you_mean(node.id, [*self.env, *self.sizes])
        raise SpecError(f"undefined name {node.id!r} at column {node.pos}{near}; not an input, parameter, "
                        "earlier node or size")

    def binop(self, node: BinOp) -> Expr:
        left = self.lower(node.left)
        if node.op == "**":
            exponent = self.number(node.right, "the exponent of '**'")
            if abs(exponent) > MAX_EXPONENT:
                raise SpecError(f"exponent {exponent} at column {node.pos} is too large (limit {MAX_EXPONENT})")
            if isinstance(left, Const):
                base = as_sympy(left.value)
                # estimated before the power is computed
                if base.is_Rational and _bits(base) * abs(exponent) > MAX_CONSTANT_BITS:
                    raise SpecError(f"the constant power at column {node.pos} needs more than "
                                    f"{MAX_CONSTANT_BITS} bits (too large or too small to compute with exactly)")
                if base == 0 and exponent < 0:
                    raise SpecError(f"0 to a negative power at column {node.pos} is not finite")
            return apply(_operator(POWER, node.op), left,
                         exponent=sp.Rational(exponent.numerator, exponent.denominator))
        right = self.lower(node.right)
        out = apply(_operator(INFIX, node.op), left, right)
        # an expression of sizes (1/(n-1)) is finite for the sizes it is used at: only a number is refused
        if isinstance(out, Const) and not (out.value.is_finite or out.value.free_symbols):
            raise SpecError(f"constant expression at column {node.pos} is not finite (division by zero?)")
        return out

    def number(self, node, what: str) -> Fraction:
        sign = 1
        while isinstance(node, UnaryOp):
            sign = -sign if node.op == "-" else sign
            node = node.operand
        if isinstance(node, BinOp) and node.op == "/":   # a fraction, as the answer printer writes 1/2
            num, den = self.number(node.left, what), self.number(node.right, what)
            if den == 0:
                raise SpecError(f"{what} divides by zero (column {node.pos})")
            return sign * num / den
        if not isinstance(node, Num):
            raise SpecError(f"{what} must be a plain number (column {node.pos})")
        return sign * node.value

    def call(self, node: Call) -> Expr:
        func = node.func
        if func in COMPOSITES:
            return self.composite(node)
        rule = RULES.spelled(CALL, func, self.LANGUAGE)
        if rule is None:
            raise SpecError(f"unknown function {func!r} at column {node.pos}"
                            f"{did_you_mean(func, callable_functions())}; known functions: "
                            + ", ".join(callable_functions()))
        arrays, given = self.bind(rule, node)
        attrs = {}
        for arg in rule.signature:
            if arg.array:
                continue
            if arg.name in given:
                attrs[arg.name] = self.attr(arg, given[arg.name], node)
            elif arg.default is REQUIRED and rule.extra.get("bound") != arg.name:
                raise SpecError(f"{func} needs {arg.name} (column {node.pos})")
            elif arg.default is not REQUIRED:
                attrs[arg.name] = arg.default
        self.bound(rule, arrays, attrs)
        return apply(rule.name, *arrays, **attrs)

    def bind(self, rule, node: Call) -> tuple[list[Expr], dict]:
        """The call's arrays, lowered, and its other arguments by name (parse nodes),
        matched against the rule's signature."""
        rest, arrays, given = list(node.args), [], {}
        for arg in rule.signature:
            if arg.kind == ARRAYS:
                arrays += [self.lower(a) for a in rest]
                rest = []
            elif arg.kind == SIZES:
                if not rest:
                    raise SpecError(f"{node.func}(...) takes sizes, e.g. {node.func}(n, 1) (column {node.pos})")
                given[arg.name], rest = rest, []
            elif rest and arg.positional:
                value = rest.pop(0)
                if arg.kind == ARRAY:
                    arrays.append(self.array_arg(rule, len(arrays), value, node))
                else:
                    given[arg.name] = value
            elif arg.kind == ARRAY:
                raise SpecError(f"{node.func} takes {rule.takes()} (column {node.pos})")
        if rest:
            raise SpecError(f"{node.func} takes {rule.takes()} (column {node.pos})")
        names = {a.name for a in rule.signature if not a.array and a.kind != SIZES}
        for key, value in node.kwargs:
            if key not in names:
                raise SpecError(f"{node.func} has no keyword {key!r} (column {node.pos})")
            given[key] = value
        return arrays, given

    def array_arg(self, rule, index: int, value, node: Call) -> Expr:
        """Array argument ``index`` of a call; an integer position takes a label or index input by name."""
        if index not in rule.extra.get("integer", ()):
            return self.lower(value)
        kind = self.spec.kinds.get(value.id) if isinstance(value, Name) else None
        if kind is None or not kind.integer:
            raise SpecError(f"{node.func}'s argument {index + 1} must be an input of kind \"label\" or "
                            f"\"index\" (column {node.pos})")
        return self.env[value.id]

    def bound(self, rule, arrays: list, attrs: dict) -> None:
        """Fill the attribute an integer input's classes or size gives (one_hot's classes)."""
        integer = arrays[rule.extra["integer"][0]] if "integer" in rule.extra else None
        name = rule.extra.get("bound")
        if name and attrs.get(name) is None:
            attrs[name] = dim(self.spec.kinds[integer.name].bound)
        if "bound_of" in rule.extra:   # pick: classes = Z's columns; rows: size = C's rows
            index, axis = rule.extra["bound_of"]
            kind = self.spec.kinds[integer.name]
            if dim(kind.bound) != arrays[index].shape[axis]:
                raise ShapeError(f"{integer.name!r} has {kind.describe()}, but {rule.spelling}'s argument "
                                 f"{index + 1} has {arrays[index].shape[axis]} along axis {axis}")

    def attr(self, arg, value, node: Call):
        """One attribute from its parse node, by the argument's kind."""
        if arg.kind == SIZES:
            return tuple(self.size(a) for a in value)
        if arg.kind == FLAG:
            if not isinstance(value, Name) or value.id not in ("True", "False"):
                raise SpecError(f"{arg.name} must be True or False (column {node.pos})")
            return value.id == "True"
        if arg.kind not in (AXIS, NUMBER):
            return self.size(value)
        number = self.number(value, f"{node.func}'s {arg.name}")
        if arg.kind == NUMBER:
            return sp.Rational(number.numerator, number.denominator)
        if number.denominator != 1:
            raise SpecError(f"{arg.name} must be an integer (column {node.pos})")
        return int(number)

    def size(self, node) -> sp.Expr:
        if isinstance(node, BinOp) and node.op in ("*", "+", "-"):   # T*D
            a, b = self.size(node.left), self.size(node.right)
            out = a * b if node.op == "*" else a + b if node.op == "+" else a - b
            if out.is_Integer and not 1 <= out <= 1_000_000:
                raise SpecError(f"size {out} must be a positive integer (column {node.pos})")
            return out
        if isinstance(node, Name):
            if node.id not in self.sizes:
                raise SpecError(f"{node.id!r} (column {node.pos}) is not a size; sizes come from the inputs' "
                                f"shapes: {', '.join(self.sizes) or 'none declared'}")
            return dim(node.id)
        number = self.number(node, "a size")
        if number.denominator != 1 or not 1 <= number <= 1_000_000:
            shown = str(number) if len(str(number)) <= 20 else f"{str(number)[:17]}..."
            raise SpecError(f"size {shown} must be a positive integer (column {node.pos})")
        return sp.Integer(int(number))

    def composite(self, node: Call) -> Expr:
        comp = COMPOSITES[node.func]
        if node.kwargs or len(node.args) != len(comp.params):
            raise SpecError(f"{node.func} takes {len(comp.params)} argument(s): "
                            f"{', '.join(comp.params)} (column {node.pos})")
        values = {p: self.lower(a) for p, a in zip(comp.params, node.args)}
        saved = self.env
        self.env = {**saved, **values}
        try:
            return self.lower(parse(comp.body))
        except ShapeError as exc:
            raise ShapeError(f"in {node.func}(...) at column {node.pos}: {exc.message}") from None
        finally:
            self.env = saved


def build_graph(spec) -> Graph:
    """Parse and shape-check a spec (a Spec, a path or a bundled name).

    Raises:
        SymgradError: the first problem, naming file, node, expression and shapes.
    """
    spec = load_spec(spec)
    low = Lowering(spec)
    inputs = low.declare(spec.inputs, "input")
    params = low.declare(spec.params, "param")
    entry_text = {}
    for entry, text in list(spec.nodes.items()) + [(LOSS, spec.loss)]:
        low.lower_entry(entry, text)
        # shown in code comments and labels: the parser let only ASCII tokens and whitespace through,
        # and any whitespace (a newline, a form feed, U+2028) becomes one space
        entry_text[entry] = " ".join(text.split())
    graph = Graph(spec, inputs, params, low.nodes, low.sizes, entry_text, low.least)
    loss = graph.loss
    if loss.shape != ():
        raise SpecError(f"the loss must be a scalar, but it has shape {show_shape(loss.shape)}; "
                        "reduce it with sum(...) or mean(...)", source=spec.source, node=LOSS, expr=spec.loss)
    used = _ancestors(graph, LOSS)
    for name in params:
        if name not in used:
            raise SpecError(f"parameter {name!r} does not influence the loss, so it has no gradient",
                            source=spec.source, node=name)
    return graph


def _ancestors(graph: Graph, name: str) -> set[str]:
    defs = graph.definitions()
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in defs:
            stack.extend(v.name for v in walk(defs[current]) if isinstance(v, Var))
    return seen
