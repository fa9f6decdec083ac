r"""The TeX layer of the LaTeX answer reader: tokens, and TeX's own
equivalences reduced to one spelling before the grammar sees them.

What is normalised (so the reader knows one form of each):

- math delimiters ``$...$``, ``$$...$$``, ``\(...\)``, ``\[...\]`` and a
  trailing ``\\`` are dropped; an answer written as an equation,
  ``\frac{\partial L}{\partial b_2} = ...``, keeps its right-hand side;
- ``\dfrac`` and ``\tfrac`` are ``\frac``; ``\bm`` and ``\boldsymbol`` are
  ``\mathbf``; font commands (``\mathbf \mathit \mathsf \mathrm \mathcal
  \text``) are dropped (``\mathbf{W}`` and ``W`` name the same thing), except
  ``\mathbf{1}`` (ones, or an indicator) and a word an operation is known by
  (``\mathrm{diag}``, ``\text{ReLU}``: read as ``\operatorname``);
- arguments without braces, as TeX reads them: ``\mathbf y``, ``\hat{\mathbf
  p}``, ``\vec r``, ``\frac12``, ``x_1``, ``W^T``;
- ``\sqrt{v}`` is ``v^{1/2}``; a superscript ending in a transpose,
  ``W^{(2)\top}``, is ``W^{(2)}`` then ``^{\top}``.
"""

from __future__ import annotations

import re

from ..errors import ParseError
from ..parse import MAX_DEPTH, MAX_LENGTH, bad_character, literal_value
from ..rules import RULES
from ..rules.core import SPEC

_NUMBER = r"[0-9]+\.?[0-9]*|\.[0-9]+"   # ASCII digits only; no exponent in LaTeX answers
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+|\\[,;:!> ]|\\quad|\\qquad|~)
  | (?P<cmd>\\[A-Za-z]+|\\[{}|])
  | (?P<number>""" + _NUMBER + r""")
  | (?P<letter>[A-Za-z])
  | (?P<op>>=|<=|[-+*/^_'(){}\[\],:<>=|.])
""", re.VERBOSE)

KNOWN = {r"\frac", r"\dfrac", r"\tfrac", r"\left", r"\right", r"\cdot", r"\odot", r"\circ", r"\otimes", r"\top",
         r"\intercal", r"\operatorname", r"\mathbb", r"\mathbf", r"\boldsymbol", r"\bm", r"\mathrm", r"\text",
         r"\hat", r"\widehat", r"\vec", r"\bar", r"\tilde", r"\partial", r"\nabla", r"\geq", r"\ge", r"\leq", r"\le",
         r"\gt", r"\lt", r"\times", r"\{", r"\}", r"\mathcal", r"\lambda", r"\alpha", r"\beta", r"\gamma",
         r"\delta", r"\epsilon", r"\varepsilon", r"\mu", r"\theta", r"\tau", r"\phi", r"\eta", r"\ell", r"\mathit",
         r"\mathsf", r"\big", r"\Big", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\sqrt", r"\prime"}
SIZES = {r"\big", r"\Big", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr"}
SAME = {r"\dfrac": r"\frac", r"\tfrac": r"\frac", r"\bm": r"\mathbf", r"\boldsymbol": r"\mathbf",
        r"\widehat": r"\hat", r"\varepsilon": r"\epsilon"}
FONTS = {r"\mathbf", r"\mathit", r"\mathsf", r"\mathrm", r"\mathcal", r"\text", r"\mathbb"}
ACCENTS = {r"\hat", r"\vec", r"\bar", r"\tilde", r"\operatorname"}
ARITY = {**{f: 1 for f in FONTS | ACCENTS}, r"\frac": 2, r"\sqrt": 1}
TRANSPOSES = ("T", r"\top", r"\intercal")


def words() -> dict:
    """Reader word (a command, or the word of an \\operatorname) -> the rule it names."""
    return {w: r for r in RULES if r.language == SPEC for w in r.latex_words}


def _strip_delimiters(text: str) -> str:
    """Math delimiters and a trailing line break, blanked (columns stay where they were)."""
    ws = " \t\r\n"   # ASCII only: any other character is refused by name later
    s = text.rstrip(ws)
    for _ in range(2):
        if s.endswith("\\\\"):
            s = s[:-2].rstrip(ws)
    s = s + " " * (len(text) - len(s))
    lead = len(s) - len(s.lstrip(ws))
    core = s.strip(ws)
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if core.startswith(left) and core.endswith(right) and len(core) >= len(left) + len(right):
            start = lead
            end = lead + len(core)
            s = s[:start] + " " * len(left) + s[start + len(left):end - len(right)] + " " * len(right) + s[end:]
            break
    return s


def raw_tokens(text: str) -> list[tuple[str, int]]:
    if not isinstance(text, str):
        raise ParseError(f"LaTeX answer must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"LaTeX answer is {len(text)} characters long; the limit is {MAX_LENGTH}")
    text = _strip_delimiters(text)
    raw, i, commands = [], 0, words()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise bad_character(text, i, "write LaTeX commands in plain ASCII")
        kind, tok = m.lastgroup, m.group()
        if kind == "cmd" and tok not in KNOWN and tok not in commands:
            raise ParseError(f"unknown LaTeX command {tok!r} at column {i + 1}")
        if kind == "number":
            literal_value(tok, i + 1)   # refuses literals the expression parser refuses
        if kind != "ws" and tok not in SIZES:
            raw.append((SAME.get(tok, tok), i + 1))
        i = m.end()
    return raw


class _Normalizer:
    def __init__(self, toks, commands, depth, share=False):
        if depth > MAX_DEPTH:
            raise ParseError(f"LaTeX answer nests deeper than {MAX_DEPTH} levels"
                             + (f" at column {toks[0][1]}" if toks else ""))
        self.toks = toks if share else list(toks)   # shared: a digit split shows in the caller's list
        self.commands = commands
        self.depth = depth

    def argument(self, k: int, who: str, col: int) -> tuple[list, int]:
        """The tokens of the argument at k (braces removed) and the index after it."""
        if k >= len(self.toks):
            raise ParseError(f"{who} needs an argument (column {col})")
        tok, c = self.toks[k]
        if tok == "{":
            depth, j = 0, k
            while j < len(self.toks):
                depth += {"{": 1, "}": -1}.get(self.toks[j][0], 0)
                if depth == 0:
                    return self.toks[k + 1:j], j + 1
                j += 1
            raise ParseError(f"'{{' at column {c} is never closed")
        if re.fullmatch(r"[0-9]{2,}", tok):   # \frac12: TeX takes one digit
            self.toks[k:k + 1] = [(tok[0], c), (tok[1:], c + 1)]
            return [self.toks[k]], k + 1
        if tok in ARITY:
            end = k + 1
            for _ in range(ARITY[tok]):
                _, end = _Normalizer(self.toks, self.commands, self.depth + 1, True).argument(end, tok, c)
            return self.toks[k:end], end
        if tok == "}" or tok == "":
            raise ParseError(f"{who} needs an argument (column {col})")
        return [self.toks[k]], k + 1

    def run(self) -> list:
        out, k = [], 0
        while k < len(self.toks):
            tok, col = self.toks[k]
            if tok in ("^", "_"):
                arg, k = self.argument(k + 1, repr(tok), col)
                out += self.script(tok, normalize(arg, self.commands, self.depth + 1), col)
            elif tok in ARITY:
                args, end = [], k + 1
                for _ in range(ARITY[tok]):
                    arg, end = self.argument(end, tok, col)
                    args.append(normalize(arg, self.commands, self.depth + 1))
                k = end
                out += self.macro(tok, args, col)
            else:
                out.append((tok, col))
                k += 1
        return out

    def script(self, tok, arg, col):
        names = [t for t, _ in arg]
        if tok == "^" and len(names) > 1 and names[-1] in TRANSPOSES:
            return [("^", col), ("{", col)] + arg[:-1] + [("}", col), ("^", col), ("{", col), arg[-1], ("}", col)]
        return [(tok, col), ("{", col)] + arg + [("}", col)]

    def macro(self, tok, args, col):
        braced = [[("{", col)] + a + [("}", col)] for a in args]
        if tok == r"\frac":
            return [(tok, col)] + braced[0] + braced[1]
        if tok == r"\sqrt":
            return braced[0] + [("^", col), ("{", col), ("1", col), ("/", col), ("2", col), ("}", col)]
        arg = args[0]
        text = "".join(t for t, _ in arg)
        if tok in FONTS:
            if set(text) == {"1"} and tok in (r"\mathbf", r"\mathbb", r"\mathrm"):   # \mathrm{1\!\!1} too
                return [(r"\mathbb", col), ("{", col), ("1", col), ("}", col)]
            if tok in (r"\mathrm", r"\text") and len(arg) > 1 and (text.lower() in self.commands
                                                                   or text.lower() == "diag"):
                return [(r"\operatorname", col)] + braced[0]
            return arg if len(arg) == 1 else braced[0]
        return [(tok, col)] + braced[0]


def normalize(toks: list, commands: dict, depth: int = 0) -> list:
    return _Normalizer(toks, commands, depth).run()


def _equation_rhs(toks: list) -> list:
    """``\\frac{\\partial L}{\\partial W} = <answer>``: the answer."""
    depth = 0
    for k, (t, _) in enumerate(toks):
        depth += {"{": 1, "}": -1, "(": 1, ")": -1}.get(t, 0)
        if t == "=" and depth == 0:
            left = [x for x, _ in toks[:k]]
            if r"\partial" in left or r"\nabla" in left:
                return toks[k + 1:]
            raise ParseError(f"an answer is one formula; the '=' at column {toks[k][1]} may only follow "
                             r"the derivative it names (\frac{\partial L}{\partial W} = ...)")
    return toks


def tokenize(text: str) -> list[tuple[str, int]]:
    """(token, column) pairs in the reader's one spelling (see the module docstring)."""
    return normalize(_equation_rhs(raw_tokens(text)), words())
