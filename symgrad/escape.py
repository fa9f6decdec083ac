"""The one place untrusted text is made safe for each kind of output.

Untrusted text is everything symgrad did not write itself: a spec's
description, display names, file names, an answer, a submission's file names
and messages. It reaches an output only through the function here for that
output's context:

=====================  ==========================================================
``py_string``          a Python string literal (its value is the text)
``py_comment``         the rest of a ``#`` comment line
``py_docstring``       the inside of a ``\"\"\"...\"\"\"`` docstring (its value is the text)
``line_comment``       the rest of a TeX ``%`` or DOT ``//`` comment line
``html_comment``       the inside of ``<!-- -->``
``html_text``          HTML text or a quoted attribute value (the web page, notebook verdicts)
``tex_text``           LaTeX text mode (a description, a title)
``check_display_name`` LaTeX math mode: a display name, checked against a small subset
``markdown_text``      Markdown prose (rendered by Jupyter or a site: no HTML)
``dot_string``         a double-quoted graphviz DOT string
``csv_cell``           a cell of a CSV report (no spreadsheet formula)
``terminal``           anything printed on a terminal (no control sequences)
=====================  ==========================================================

Templates print user fields only through these (as Jinja filters of the same
names); a string of type :class:`Untrusted` printed without one of them is an
error at render time (symgrad/emit/templates.py), so a forgotten filter fails
every test that renders the template, not silently in a user's file.
"""

from __future__ import annotations

import re
import unicodedata


class DisplayNameError(ValueError):
    """A display name outside the math subset (:mod:`symgrad.spec` reports it as a SpecError)."""

    def __init__(self, message: str, field: str, source: str | None):
        super().__init__(message)
        self.field = field
        self.source = source


class Untrusted(str):
    """A str from outside symgrad (a spec field, a file name). Printing one in a
    template without an escaping filter raises; every filter here returns a plain str."""

    __slots__ = ()


def _is_control(ch: str) -> bool:
    """Characters that must never reach an output raw: C0/C1 controls, format
    characters (bidi overrides, zero-width), line and paragraph separators."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def _escape_controls(text: str, keep: str = "") -> str:
    return "".join(ch if ch in keep or not _is_control(ch) else _visible(ch) for ch in str(text))


def terminal(text, limit: int | None = None) -> str:
    """Text safe to print on a terminal: escape sequences, carriage returns,
    backspaces and bidi controls become visible escapes (``\\x1b``), so what is
    shown is what the text holds. Newlines are kept; ``limit`` cuts long text."""
    out = _escape_controls(text, keep="\n")
    if limit is not None and len(out) > limit:
        out = out[:max(0, limit - 3)] + "..."
    return out


def one_line(text, limit: int | None = None) -> str:
    """:func:`terminal` on one line: newlines escaped too."""
    return terminal(str(text).replace("\n", "\\n"), limit)


def py_string(text) -> str:
    """A Python string literal whose value is ``text`` (pure ASCII, one line)."""
    return ascii(str(text))


def py_comment(text) -> str:
    """Text for the rest of one ``#`` comment line: nothing in it can end the
    line (``\\n``, ``\\r``, form feed, U+2028 ...) or hide code (bidi controls)."""
    return _escape_controls(text)


#: The rest of a line comment in any language whose comment ends only at the
#: line's end: TeX's ``%`` (TeX discards the rest of the line unread), DOT's ``//``.
line_comment = py_comment


def html_comment(text) -> str:
    """Text inside ``<!-- ... -->`` (a Markdown file's header): one line, no ``>``."""
    return py_comment(text).replace(">", "&gt;")


def html_text(text) -> str:
    """HTML text or a double-quoted attribute value: ``& < > " '`` as entities, controls as visible escapes."""
    import html
    return html.escape(_escape_controls(text), quote=True)


def py_docstring(text) -> str:
    """The inside of a triple-quoted docstring whose value is ``text``: every
    backslash and quote is escaped (no ``\"\"\"`` can close it, no ``\\N{`` or
    ``\\x`` escape can break it), control characters become escapes."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return _escape_controls(text, keep="\n")


_TEX_TEXT = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&",
             "#": r"\#", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "$": r"\$",
             "<": "$<$", ">": "$>$", "|": "$|$",   # OT1 fonts print < > | as other glyphs
             "\n": " ", "\t": " "}


def _ascii_fold(ch: str) -> str:
    """A non-ASCII character as ASCII for pdflatex without extra packages:
    accents dropped (é -> e), anything else '?'."""
    folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    return folded if folded and folded.isprintable() else "?"


def tex_text(text) -> str:
    """Plain text for LaTeX text mode: every special character printed as
    itself, never a command; control characters dropped; pure ASCII."""
    out = []
    for ch in str(text):
        if ch in _TEX_TEXT:
            out.append(_TEX_TEXT[ch])
        elif _is_control(ch):
            continue
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("".join(_TEX_TEXT.get(c, c) for c in _ascii_fold(ch)))
    return "".join(out)


_MARKDOWN = set("\\`*_{}[]()#+-.!|<>&~$=:")


def markdown_text(text) -> str:
    """Prose for Markdown: every markup character backslash-escaped (no links,
    no images, no raw HTML), ``<``, ``>`` and ``&`` as entities, one line."""
    out = []
    for ch in str(text):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MARKDOWN:
            out.append("\\" + ch)
        elif ch in "\n\t":
            out.append(" ")
        elif not _is_control(ch):
            out.append(ch)
    return "".join(out)


def dot_string(text) -> str:
    """A double-quoted graphviz string whose label is ``text`` literally
    (graphviz reads ``\\n``, ``\\l``, ``\\N``... in labels, so backslashes are doubled)."""
    body = "".join(ch for ch in str(text) if not _is_control(ch))
    body = body.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{body}"'


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @ |`` gets a
    quote mark in front (no formula, no DDE), control characters (a bare CR
    would split the row in some readers) become visible escapes. Numbers pass."""
    if not isinstance(value, str):
        return value
    text = _escape_controls(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


# ---------------------------------------------------------------------------
# Display names: a checked subset of LaTeX math.

GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa
lambda mu nu xi omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega""".split())

#: Commands that take one argument (braced or a single token) and only change how it looks.
ACCENTS = frozenset("""hat widehat bar overline tilde widetilde vec dot ddot check breve
mathbf boldsymbol bm mathrm mathit mathsf mathtt mathcal mathbb mathfrak operatorname""".split())

#: Commands that stand alone.
SYMBOLS = GREEK | frozenset("""top intercal prime ell imath jmath partial nabla infty star ast
dagger circ cdot times""".split())

#: Spacing commands allowed as they are (``\,`` inside ``^{\,1}``).
_SPACING = frozenset(",;:!")

MAX_DISPLAY_NAME = 120
MAX_DEPTH = 8

_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([A-Za-z0-9])|([_^{}'()\[\]+\-*/=,.| ])|(.)", re.DOTALL)


def check_display_name(text, field: str, source: str | None = None) -> str:
    """``text`` when it is a display name symgrad can put in math mode safely.

    The subset: ASCII letters and digits, ``_ ^ { } ' ( ) [ ] + - * / = , . |``
    and spaces (no ``:``, so no ``javascript:`` link in a Markdown write-up), the
    commands of :data:`ACCENTS` and :data:`SYMBOLS`, and the spacing commands
    ``\\, \\; \\: \\!``. Braces must balance; at most :data:`MAX_DISPLAY_NAME`
    characters and :data:`MAX_DEPTH` levels of braces.

    Raises:
        DisplayNameError: naming ``field`` and the first thing outside the subset.
    """
    def refuse(why: str):
        raise DisplayNameError(f"display name '{one_line(text, 60)}': {why}; a display name may use letters, "
                        "digits, _ ^ { } ' and math commands such as \\hat \\mathbf \\alpha \\top",
                        field, source)

    if not isinstance(text, str):
        refuse("must be a string")
    if not text.strip():
        refuse("is empty")
    if len(text) > MAX_DISPLAY_NAME:
        refuse(f"is longer than {MAX_DISPLAY_NAME} characters")
    depth = 0
    script = None   # the _ or ^ just read: its argument must follow
    for m in _TOKEN.finditer(text):
        command, plain, punct, other = m.groups()
        if script is not None:
            # ^^5c is TeX's hex notation for a backslash (^^5cinput = \input); x__1 and x_} do not compile
            if punct in ("_", "^", "}", "'", " ") or other is not None:
                refuse(f"'{script}' must be followed by a letter, a digit, a command or {{...}}")
            script = None
        if punct in ("_", "^"):
            script = punct
            continue
        if command is not None:
            if command in _SPACING or command in ACCENTS or command in SYMBOLS:
                continue
            if command == "\\":
                refuse("'\\\\' (a line break) is not allowed")
            refuse(f"the command \\{one_line(command, 30)} is not allowed")
        elif punct in ("{", "}"):
            depth += 1 if punct == "{" else -1
            if depth < 0:
                refuse("has a '}' without its '{'")
            if depth > MAX_DEPTH:
                refuse(f"nests braces deeper than {MAX_DEPTH}")
        elif other is not None:
            if other == "%":
                refuse("'%' (a TeX comment) is not allowed")
            if other == "$":
                refuse("'$' is not allowed (the name is already in math mode)")
            if other == "#" or other == "&" or other == "~":
                refuse(f"'{other}' is not allowed")
            if not other.isascii():
                refuse(f"the non-ASCII character {_visible(other) if _is_control(other) else other!r}"
                       " is not allowed (write \\alpha, not α)")
            refuse(f"the character {one_line(other)!r} is not allowed")
    if depth:
        refuse("has a '{' without its '}'")
    if script is not None:
        refuse(f"ends with '{script}'")
    return text
