r"""A reader for the LaTeX people type for gradient answers, producing the
same tree as :func:`symgrad.parse.parse`. TeX's own equivalences (``$...$``,
unbraced arguments, ``\dfrac``, ``\bm``, fonts...) are reduced to one
spelling first by :mod:`symgrad.verify.latex_tokens`; README "Answers in
LaTeX" lists the accepted forms.

The grammar: ``\frac{a}{b}``, ``^T ^\top`` (transpose), powers (also
``\tanh^2(z)``), ``\cdot`` and juxtaposition (a matrix product; a scalar
factor scales; a column times a transposed column is an outer product;
``\mathbf{1}^\top X`` sums X's rows, ``X\mathbf{1}`` its columns), ``\odot
\circ *``, ``\otimes``, ``\operatorname{diag}(v)`` as a factor, indicators
``\mathbb{1}[z > 0]``, every operation's words in the rule table
(``Rule.latex_words``) with a subscript axis where it takes one and a prime for
a derivative, ``\left[x\right]_{:, a:b}`` (a slice), ``\frac{\partial
L}{\partial X}`` (an adjoint), and the spec's names and display names. An
unknown name is refused by name, with the names the spec accepts; nothing is
evaluated.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..errors import ParseError, SymgradError
from ..parse import MAX_DEPTH, BinOp, Call, Name, Num, Transpose, UnaryOp, check_height, literal_value
from ..rules.core import AXIS
from .entries import entry_name, read_entry
from .exprtext import derivative_tree
from .latex_names import displays, remembering, unknown_name
from .latex_tokens import _NUMBER, tokenize, words

LARGE = {r"\sum"}   # large operators: their argument is the factor that follows, brackets or not
ONES_ROW, ONES_COL = "<ones row>", "<ones column>"   # \mathbf{1}^\top x sums x's rows, x \mathbf{1} its columns


class _Reader:
    def __init__(self, text, d):
        from .env import AnswerLowering
        self.text = text
        self.toks = tokenize(text) + [("", len(text) + 1)]
        self.i = 0
        self.depth = 0
        self.d = d
        self.lowering = remembering(AnswerLowering)(d)
        self.words = words()
        self.displays = displays(d)
        self.warnings: list[str] = []
        self.columns = "*"          # how two column vectors side by side are read: "*" or "outer"
        self.juxtaposed = False     # whether the answer has two column vectors side by side

    # -- helpers -------------------------------------------------------------
    @property
    def tok(self):
        return self.toks[self.i][0]

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok[0]

    def col(self):
        return self.toks[self.i][1]

    def fail(self, what):
        tok = self.tok
        found = "end of input" if tok == "" else repr(tok)
        raise ParseError(f"{what} but found {found} at column {self.col()}")

    def expect(self, tok):
        if self.tok != tok:
            self.fail(f"expected {tok!r}")
        return self.take()

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"LaTeX answer nests deeper than {MAX_DEPTH} levels at column {self.col()}")

    def ndim(self, node) -> int:
        """The rank of a parsed operand (2 when it does not lower): decides what
        juxtaposition means."""
        check_height(node, "LaTeX answer")   # before lowering recurses over it
        try:
            return self.lowering.lower(node).ndim
        except SymgradError:
            return 2

    # -- grammar -------------------------------------------------------------
    def parse(self):
        if self.tok == "":
            raise ParseError("LaTeX answer is empty")
        node = self.expr()
        if self.tok != "":
            self.fail("expected an operator or the end of the answer")
        return node

    def check_ones(self, node):
        for child in getattr(node, "args", ()) + tuple(getattr(node, k, None) for k in ("left", "right", "operand")):
            if isinstance(child, Call) and child.func in (ONES_ROW, ONES_COL):
                raise ParseError(r"write \mathbf{1}^\top right before the array whose rows it sums, or "
                                 r"\mathbf{1} right after the array whose columns it sums")
            if child is not None and not isinstance(child, (str, Num)):
                self.check_ones(child)

    def expr(self):
        self.enter()
        pos = self.col()
        if self.tok in ("-", "+"):
            op = self.take()
            node = self.term()
            node = UnaryOp("-", node, pos) if op == "-" else node
        else:
            node = self.term()
        while self.tok in ("+", "-"):
            op, pos = self.take(), self.col()
            if self.tok in ("-", "+"):
                sign = self.take()
                right = self.term()
                right = UnaryOp("-", right, pos) if sign == "-" else right
            else:
                right = self.term()
            node = BinOp(op, node, right, pos)
        self.depth -= 1
        return node

    NOT_FACTOR = {r"\cdot", r"\odot", r"\circ", r"\otimes", r"\right", r"\times", r"\geq", r"\ge", r"\leq",
                  r"\le", r"\gt", r"\lt", r"\top", r"\intercal"}

    def starts_factor(self):
        t = self.tok   # a bracket, a letter, a number or a command that is not an operator
        return t and (t in ("(", "{") or re.fullmatch(r"[A-Za-z]|[0-9].*|\.[0-9]+", t)
                      or (t.startswith("\\") and t[1:].isalpha() and t not in self.NOT_FACTOR))

    def term(self):
        node = self.factor()
        while True:
            pos = self.col()
            t = self.tok
            if t in (r"\odot", r"\circ", "*"):
                self.take()
                node = BinOp("*", node, self.factor(), pos)
            elif t == "/":
                self.take()
                node = BinOp("/", node, self.factor(), pos)
            elif t == r"\otimes":
                self.take()
                node = Call("outer", (node, self.factor()), (), pos)
            elif t in (r"\cdot", r"\times"):
                self.take()
                node = self.juxt(node, self.factor(), pos)
            elif self.starts_factor():
                node = self.juxt(node, self.factor(), pos)
            else:
                return node

    def juxt(self, a, b, pos):
        if isinstance(a, BinOp) and a.op in ("*", "@") and isinstance(a.right, Call) and a.right.func == ONES_ROW:
            # \frac{1}{n}\mathbf{1}^\top X: the scalar waits while the ones row takes its array
            return BinOp(a.op, a.left, self.juxt(a.right, b, pos), a.pos)
        if isinstance(a, Call) and a.func == ONES_ROW:
            return Call("sum", (b,), (("axis", Num(Fraction(0), "0", pos)),), pos)
        if isinstance(b, Call) and b.func == ONES_COL:
            last = max(self.ndim(a) - 1, 0)
            return Call("sum", (a,), (("axis", Num(Fraction(last), str(last), pos)),), pos)
        if isinstance(a, Call) and a.func == "diag":
            v = a.args[0]
            if self.ndim(b) == 2:
                return BinOp("*", Call("expand_dims", (v,), (("axis", Num(Fraction(1), "1", pos)),), pos), b, pos)
            return BinOp("*", v, b, pos)
        if isinstance(b, Call) and b.func == "diag":
            return BinOp("*", a, b.args[0], pos)
        da, db = self.ndim(a), self.ndim(b)
        if da == 0 or db == 0:
            return BinOp("*", a, b, pos)
        if da == 1 and db == 1 and isinstance(b, Transpose) and not isinstance(a, Transpose):
            return Call("outer", (a, b.operand), (), pos)
        if da == 1 and db == 1 and not isinstance(a, Transpose):
            # two columns side by side, sigma(z)(1 - sigma(z)): no matrix product fits. Element-wise,
            # or (when only that gives the gradient's shape: read_latex decides) outer
            self.juxtaposed = True
            if self.columns == "outer":
                self.warnings.append(f"two column vectors side by side at column {pos} are ambiguous; read as "
                                     r"an outer product u v^\top, the reading that has the gradient's shape "
                                     r"(write u \otimes v or u v^\top to say so)")
                return Call("outer", (a, b), (), pos)
            self.warnings.append(f"two column vectors side by side at column {pos} are ambiguous; read as an "
                                 r"element-wise product (write \odot to say so, u^\top v for an inner product "
                                 r"or u v^\top for an outer one)")
            return BinOp("*", a, b, pos)
        return BinOp("@", a, b, pos)

    def factor(self):
        node = self.atom()
        while self.tok == "^":
            pos = self.col()
            self.take()
            self.expect("{")
            if self.tok in ("T", r"\top", r"\intercal") and self.toks[self.i + 1][0] == "}":
                self.take()
                self.take()
                node = Transpose(node, pos)
                continue
            self.enter()
            exponent = self.expr()
            self.depth -= 1
            self.expect("}")
            node = BinOp("**", node, exponent, pos)
        return node

    def group(self):
        """( expr ) or \\left( expr \\right) or { expr }."""
        if self.tok == r"\left":
            self.take()
            opener = self.take()
            closer = {"(": ")", "[": "]", r"\{": r"\}", "|": "|"}.get(opener)
            if closer is None:
                self.fail("expected a bracket after \\left")
            node = self.expr()
            self.expect(r"\right")
            self.expect(closer)
            return node, opener
        if self.tok in ("(", "{", "["):
            opener = self.take()
            node = self.expr()
            self.expect({"(": ")", "{": "}", "[": "]"}[opener])
            return node, opener
        self.fail("expected '(' or '\\left('")

    def braced_text(self) -> str:
        self.expect("{")
        parts = []
        while self.tok not in ("}", ""):
            parts.append(self.take())
        self.expect("}")
        return "".join(parts)

    def atom(self):
        pos, t = self.col(), self.tok
        if t == "":
            self.fail("expected a number, a name or '('")
        if re.fullmatch(_NUMBER, t):
            self.take()
            return Num(literal_value(t, pos), t, pos)
        name = self.display()
        if name is not None:
            return name
        if t in ("(", "{") or t == r"\left" and self.toks[self.i + 1][0] in ("(", "{", r"\{"):
            node, _ = self.group()
            return self.skip_index(node)
        if t == r"\left" and self.toks[self.i + 1][0] == "[":
            node, _ = self.group()
            return self.maybe_slice(node, pos)
        if t == r"\frac":
            return self.frac(pos)
        # \mathbb{1}, \mathbf{1}, and the package-free \mathrm{1\!\!1} symgrad itself prints
        if t == r"\mathbb" and self.toks[self.i + 1][0] == "{" and self.toks[self.i + 2][0] == "1":
            self.take()
            self.braced_text()
            if self.tok == "^" and self.toks[self.i + 2][0] in ("T", r"\top", r"\intercal"):
                self.i += 4
                return Call(ONES_ROW, (), (), pos)
            if self.tok in ("[", r"\{", "(", r"\left"):
                return self.indicator(pos)
            return Call(ONES_COL, (), (), pos)
        if t in self.words:
            self.take()
            return self.function(self.words[t], pos, large=t in LARGE)
        if t == r"\operatorname":
            self.take()
            word = self.braced_text().lower().replace("\\,", "").replace(",", "")
            if word == "diag":
                arg, _ = self.group()
                return Call("diag", (arg,), (), pos)
            if word in self.words:
                return self.function(self.words[word], pos)
            raise ParseError(f"unknown operator \\operatorname{{{word}}} at column {pos}")
        if re.fullmatch(r"[A-Za-z]", t) or t.startswith("\\"):
            unknown_name(self.toks, self.i, self.displays)
        self.fail("expected a number, a name or '('")

    def skip_index(self, node=None):
        # \left(x\right)_{i}: an index written after a sum's body
        if self.tok == "_" and self.toks[self.i + 1][0] == "{" and self.toks[self.i + 2][0] in ("i", "j", "k"):
            self.take()
            self.braced_text()
        elif self.tok == "_" and self.toks[self.i + 1][0] == "{" and isinstance(node, Name):
            # (W_1)_{0,2}: one entry of a named array (integers, one per axis)
            pos = self.col()
            self.take()
            index = self.braced_text()
            entry = read_entry(f"{node.id}[{index}]")
            if entry is None:
                raise ParseError(f"an entry is written (W_1)_{{0,2}}: integers separated by commas (column {pos})")
            return Name(entry_name(*entry), node.pos)
        return node

    def maybe_slice(self, node, pos):
        if self.tok != "_":
            return node
        self.take()
        self.expect("{")
        axis = 0
        while self.tok == ":" and self.toks[self.i + 1][0] == ",":
            self.take()
            self.take()
            axis += 1
        lo = self.expr()
        self.expect(":")
        hi = self.expr()
        self.expect("}")
        start = BinOp("-", lo, Num(Fraction(1), "1", pos), pos)
        return Call("slice", (node,), (("axis", Num(Fraction(axis), str(axis), pos)), ("start", start),
                                       ("stop", hi)), pos)

    def frac(self, pos):
        self.take()
        self.expect("{")
        if self.tok == r"\partial":
            self.take()
            if self.tok == "L" or self.tok == r"\ell":
                self.take()
            self.expect("}")
            self.expect("{")
            self.expect(r"\partial")
            target = self.display()
            if target is None:
                self.fail("expected a name after \\partial")
            self.expect("}")
            return Name(f"d_{target.id}", pos)
        self.enter()
        num = self.expr()
        self.expect("}")
        self.expect("{")
        den = self.expr()
        self.expect("}")
        self.depth -= 1
        return BinOp("/", num, den, pos)

    def function(self, rule, pos, large=False):
        """A call of ``rule`` after its word: an axis as a subscript (when it takes
        one), a prime (its derivative), then its argument."""
        func, kwargs = rule.spelling, ()
        if self.tok == "_" and any(a.kind == AXIS for a in rule.signature):
            self.take()
            sub = self.braced_text()
            if sub.isdigit():   # \sum_i names an index, not an axis
                kwargs = ((next(a.name for a in rule.signature if a.kind == AXIS), Num(Fraction(sub), sub, pos)),)
        if large and self.tok == "^":   # \sum_{i=1}^{n}: the limits say nothing an answer needs
            self.take()
            self.braced_text()
        power = None
        if self.tok == "^" and not (self.toks[self.i + 2][0] == r"\prime"):   # \tanh^2(z) = (\tanh z)^2
            self.take()
            self.expect("{")
            power = self.expr()
            self.expect("}")
        prime = self.tok == "'"
        if prime:
            self.take()
        if self.tok == "^" and self.toks[self.i + 2][0] == r"\prime":
            raise ParseError(f"write a derivative as {func}' (column {pos})")
        if self.tok in ("(", r"\left", "{") and not large:
            arg, _ = self.group()
        else:
            self.enter()
            arg = self.factor()
            self.depth -= 1
        call = Call(func, (arg,), kwargs, pos)
        derivative = derivative_tree(rule, arg, call, pos) if prime else call
        if derivative is None:
            raise ParseError(f"write the derivative of {func} explicitly (column {pos})")
        return derivative if power is None else BinOp("**", derivative, power, pos)

    def indicator(self, pos):
        if self.tok == r"\left":
            self.take()
        if self.tok not in ("[", r"\{", "("):
            self.fail("expected '[' or '\\{' after the indicator")
        closer = {"[": "]", r"\{": r"\}", "(": ")"}[self.take()]
        left, rel = self.expr(), ">"
        if self.tok in (">", "<", ">=", "<=", r"\geq", r"\ge", r"\leq", r"\le", r"\gt", r"\lt"):
            rel = self.take()
            right = self.expr()
            if not (isinstance(right, Num) and right.value == 0):
                raise ParseError(f"indicators compare with 0, e.g. \\mathbb{{1}}[z > 0] (column {pos})")
        if self.tok == r"\right":
            self.take()
        self.expect(closer)
        # z > 0: step(z); z < 0: step(-z); z >= 0: 1 - step(-z); z <= 0: 1 - step(z)
        flip = rel in ("<", r"\lt", ">=", r"\geq", r"\ge")
        step = Call("step", (UnaryOp("-", left, pos) if flip else left,), (), pos)
        closed = rel in (">=", r"\geq", r"\ge", "<=", r"\leq", r"\le")
        return BinOp("-", Num(Fraction(1), "1", pos), step, pos) if closed else step

    def display(self):
        """The longest display name (or plain name) starting here, as a Name."""
        for tokens, name in self.displays:
            n = len(tokens)
            if tuple(t for t, _ in self.toks[self.i:self.i + n]) == tokens:
                # do not take W of W^{(1)} when W1 is written with a script we do not know
                pos = self.col()
                self.i += n
                return Name(name, pos)
        return None


def parse_latex(text: str, derivation):
    """The tree of :func:`read_latex` alone."""
    return read_latex(text, derivation)[0]


def read_latex(text: str, derivation, expected_shape: tuple | None = None):
    r"""Parse a LaTeX answer for a derivation's names into (a symgrad.parse tree,
    warnings about readings that were a choice).

    Two column vectors side by side (``\sigma(z)(1-\sigma(z))``) are ambiguous: they
    are read element-wise, or as an outer product when only that reading lowers
    to ``expected_shape`` (the gradient's shape, when known); a warning says so.

    Raises:
        ParseError: naming the offending token (or command) and its column.
    """
    reader = _read(text, derivation, "*")
    if reader.juxtaposed and expected_shape is not None and _shape(reader) != tuple(expected_shape):
        other = _read(text, derivation, "outer")
        if _shape(other) == tuple(expected_shape):
            reader = other
    return reader.tree, list(dict.fromkeys(reader.warnings))


def _read(text: str, derivation, columns: str) -> _Reader:
    reader = _Reader(text, derivation)
    reader.columns = columns
    reader.tree = reader.parse()
    check_height(reader.tree, "LaTeX answer")
    reader.check_ones(Call("", (reader.tree,), (), 0))
    return reader


def _shape(reader: _Reader):
    try:
        return tuple(reader.lowering.lower(reader.tree).shape)
    except SymgradError:
        return None
