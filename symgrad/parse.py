"""symgrad's own expression parser (no eval, exec, sympify or parse_expr).

Grammar, lowest precedence first (numpy semantics, Python precedence)::

    expr     := term (('+' | '-') term)*
    term     := unary (('*' | '/' | '@') unary)*
    unary    := ('-' | '+') unary | power
    power    := postfix ('**' unary)?
    postfix  := atom ('.T' | '[' item (',' item)* ']')*
    atom     := NUMBER | NAME | NAME '(' [arg (',' arg)*] ')' | '(' expr ')'
    arg      := expr | NAME '=' expr
    item     := expr | [expr] ':' [expr]

A subscript (``Z[range(n), y]``, ``C[ix]``, ``x[:, 1:]``) is only parsed here;
:mod:`symgrad.subscript` decides which of pick, rows and slice it means.

The parser only builds a tree of frozen dataclasses; what a name or a function
means is decided later (graph.py), against the spec and the rule table.
Hostile input is refused early, before anything costs more than the text is
long: a length limit, a nesting limit, a limit on the height of the tree (so
nothing downstream recurses deeper than Python allows), ASCII-only names,
digits and white space (``\\d`` and ``\\s`` would take Arabic digits and
U+2028), no dunder names, and number literals of at most 40 characters whose
exponent is within +-300 (so ``1e-9999999`` is refused, not converted to an
exact fraction with ten million digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass, replace
from fractions import Fraction

from .errors import ParseError

MAX_LENGTH = 4000
MAX_DEPTH = 64
MAX_HEIGHT = 100         # operations on the longest path from the root (a chain a+b+c... counts each)
MAX_LITERAL_DIGITS = 40
MAX_LITERAL_EXPONENT = 300


@dataclass(frozen=True)
class Num:
    value: Fraction
    text: str
    pos: int


@dataclass(frozen=True)
class Name:
    id: str
    pos: int


@dataclass(frozen=True)
class UnaryOp:
    op: str
    operand: "Node"
    pos: int


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Node"
    right: "Node"
    pos: int


@dataclass(frozen=True)
class Transpose:
    operand: "Node"
    pos: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    kwargs: tuple  # ((name, Node), ...)
    pos: int


@dataclass(frozen=True)
class Slice:
    """``lo:hi`` inside a subscript; a bound left out is None."""
    lo: "Node | None"
    hi: "Node | None"
    pos: int


@dataclass(frozen=True)
class Subscript:
    """``operand[item, ...]``; each item an expression or a :class:`Slice`."""
    operand: "Node"
    items: tuple
    pos: int


Node = Num | Name | UnaryOp | BinOp | Transpose | Call | Subscript | Slice

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/@(),=.\[\]:])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # number | name | op | end
    text: str
    pos: int   # 1-based column


def bad_character(text: str, i: int, hint: str) -> ParseError:
    """The error for a character no token starts with (non-ASCII ones named by code point)."""
    ch = text[i]
    if not ch.isascii():
        return ParseError(f"non-ASCII character {ch!r} (U+{ord(ch):04X}) at column {i + 1}; {hint}")
    return ParseError(f"unexpected character {ch!r} at column {i + 1}")


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, refusing anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise bad_character(text, i, "names and operators must be plain ASCII")
        kind = m.lastgroup
        if kind == "name" and m.group().startswith("__"):
            raise ParseError(f"name {m.group()!r} at column {i + 1} is not allowed (double underscore)")
        if kind != "ws":
            tokens.append(Token(kind, m.group(), i + 1))
        i = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


_LITERAL = re.compile(r"([0-9]*)\.?([0-9]*)(?:[eE]([+-]?[0-9]+))?")


def literal_value(text: str, pos: int) -> Fraction:
    """The exact value of a number literal (ASCII digits, an optional fraction
    and exponent), refused when it has more than :data:`MAX_LITERAL_DIGITS`
    characters or an exponent beyond :data:`MAX_LITERAL_EXPONENT`: the exact
    value is built only when it is small."""
    if len(text) > MAX_LITERAL_DIGITS:
        raise ParseError(f"number {text[:20]}... at column {pos} has {len(text)} characters "
                         f"(limit {MAX_LITERAL_DIGITS})")
    m = _LITERAL.fullmatch(text)
    if m is None or not (m.group(1) or m.group(2)):
        raise ParseError(f"{text!r} at column {pos} is not a number")
    whole, frac, exp = m.group(1), m.group(2), int(m.group(3) or 0)
    if abs(exp) > MAX_LITERAL_EXPONENT:
        raise ParseError(f"number {text!r} at column {pos} has exponent {exp}; "
                         f"the limit is +-{MAX_LITERAL_EXPONENT}")
    value = Fraction(int(whole + frac or "0"), 10 ** len(frac)) * Fraction(10) ** exp
    if value and not Fraction(1, 10 ** MAX_LITERAL_EXPONENT) <= value <= 10 ** MAX_LITERAL_EXPONENT:
        raise ParseError(f"number {text!r} at column {pos} is out of range "
                         f"(1e-{MAX_LITERAL_EXPONENT} .. 1e{MAX_LITERAL_EXPONENT})")
    return value


def _number(tok: Token) -> Num:
    return Num(literal_value(tok.text, tok.pos), tok.text, tok.pos)


def height(node) -> tuple[int, int]:
    """(operations on the longest path from ``node`` to a leaf, the column of
    that leaf); iterative, so any tree can be measured."""
    best, stack = (0, 1), [(node, 1)]
    while stack:
        n, h = stack.pop()
        if h > best[0]:
            best = (h, getattr(n, "pos", 1))
        stack.extend((child, h + 1) for child in children(n))
    return best


def children(node) -> tuple:
    if isinstance(node, (UnaryOp, Transpose)):
        return (node.operand,)
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args + tuple(v for _, v in node.kwargs)
    if isinstance(node, Subscript):
        return (node.operand,) + node.items
    if isinstance(node, Slice):
        return tuple(b for b in (node.lo, node.hi) if b is not None)
    return ()


def check_height(node, what: str = "expression") -> None:
    """Refuse a tree taller than :data:`MAX_HEIGHT` (every later stage recurses over it)."""
    h, col = height(node)
    if h > MAX_HEIGHT:
        raise ParseError(f"{what} is {h} operations deep, down to column {col} (limit {MAX_HEIGHT}); "
                         "split it into shorter expressions")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers -----------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        if self.tok.text != text:
            self.fail(f"expected {text!r}")
        return self.take()

    def fail(self, what: str):
        tok = self.tok
        found = "end of input" if tok.kind == "end" else repr(tok.text)
        raise ParseError(f"{what} but found {found} at column {tok.pos}")

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nests deeper than {MAX_DEPTH} levels at column {self.tok.pos}")

    # -- grammar -----------------------------------------------------------
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ParseError("expression is empty")
        node = self.expr()
        if self.tok.kind != "end":
            self.fail("expected an operator or the end of the expression")
        return node

    def expr(self) -> Node:
        self.enter()
        node = self.term()
        while self.tok.text in ("+", "-") and self.tok.kind == "op":
            op = self.take()
            node = BinOp(op.text, node, self.term(), op.pos)
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.tok.text in ("*", "/", "@") and self.tok.kind == "op":
            op = self.take()
            node = BinOp(op.text, node, self.unary(), op.pos)
        return node

    def unary(self) -> Node:
        if self.tok.text in ("-", "+") and self.tok.kind == "op":
            op = self.take()
            self.enter()
            node = UnaryOp(op.text, self.unary(), op.pos)
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.tok.text == "**":
            op = self.take()
            self.enter()
            node = BinOp("**", base, self.unary(), op.pos)
            self.depth -= 1
            return node
        return base

    def postfix(self) -> Node:
        node = self.atom()
        while self.tok.text in (".", "["):
            if self.tok.text == "[":
                node = self.subscript(node)
                continue
            dot = self.take()
            if self.tok.kind != "name" or self.tok.text != "T":
                self.fail("only '.T' (transpose) may follow a '.'")
            self.take()
            node = Transpose(node, dot.pos)
        return node

    def subscript(self, operand: Node) -> Subscript:
        self.enter()
        bracket = self.expect("[")
        items = []
        while True:
            items.append(self.item())
            if self.tok.text != ",":
                break
            self.take()
        self.expect("]")
        self.depth -= 1
        return Subscript(operand, tuple(items), bracket.pos)

    def item(self) -> Node:
        pos = self.tok.pos
        lo = None if self.tok.text in (":", ",", "]") else self.expr()
        if self.tok.text != ":":
            if lo is None:
                self.fail("expected an index or a slice")
            return lo
        self.take()
        hi = None if self.tok.text in (",", "]", ":") else self.expr()
        if self.tok.text == ":":
            self.fail("a slice takes no step (step 1 only)")
        return Slice(lo, hi, pos)

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return _number(tok)
        if tok.kind == "name":
            self.take()
            if self.tok.text == "(":
                return self.call(tok)
            return Name(tok.text, tok.pos)
        if tok.text == "(":
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        self.fail("expected a number, a name or '('")

    def call(self, name: Token) -> Call:
        self.enter()
        self.expect("(")
        args, kwargs = [], []
        if self.tok.text != ")":
            while True:
                nxt = self.tokens[self.i + 1]
                if self.tok.kind == "name" and nxt.text == "=":
                    key = self.take()
                    self.take()
                    if any(k == key.text for k, _ in kwargs):
                        raise ParseError(f"keyword {key.text!r} given twice at column {key.pos}")
                    kwargs.append((key.text, self.expr()))
                else:
                    if kwargs:
                        self.fail("a positional argument cannot follow a keyword argument")
                    args.append(self.expr())
                if self.tok.text == ",":
                    self.take()
                    continue
                break
        self.expect(")")
        self.depth -= 1
        return Call(name.text, tuple(args), tuple(kwargs), name.pos)


def parse(text: str) -> Node:
    """Parse an expression string into a tree.

    Raises:
        ParseError: naming the offending token and its column.
    """
    if not isinstance(text, str):
        raise ParseError(f"expression must be a string, got {type(text).__name__}")
    tree = _Parser(text).parse()
    check_height(tree)
    return tree


def walk(node: Node):
    """Every node of a tree, the root first."""
    yield node
    for f in fields(node):
        value = getattr(node, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            v = v[1] if isinstance(v, tuple) else v    # a keyword argument: (name, node)
            if is_dataclass(v):
                yield from walk(v)


def substitute(node: Node, names: dict, pos: int) -> Node:
    """The tree with each Name in ``names`` replaced by its tree; every other node
    placed at column ``pos`` (a template spliced into an answer)."""
    if isinstance(node, Name) and node.id in names:
        return names[node.id]
    change = {"pos": pos}
    for f in fields(node):
        value = getattr(node, f.name)
        if is_dataclass(value):
            change[f.name] = substitute(value, names, pos)
        elif f.name == "args":
            change[f.name] = tuple(substitute(a, names, pos) for a in value)
        elif f.name == "kwargs":
            change[f.name] = tuple((k, substitute(v, names, pos)) for k, v in value)
        elif f.name == "items":
            change[f.name] = tuple(substitute(a, names, pos) for a in value)
    return replace(node, **change)


def names_in(node: Node) -> list[str]:
    """Variable names used by an expression, in order of first appearance."""
    seen: list[str] = []
    for n in walk(node):
        if isinstance(n, Name) and n.id not in seen:
            seen.append(n.id)
    return seen
