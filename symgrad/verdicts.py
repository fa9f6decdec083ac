"""One answer checked, as an object: for notebooks (``symgrad.verify(spec, wrt, answer)``)
and for the web page (``symgrad serve``).

:func:`check_answer` reads the answer in LaTeX or in the expression language,
verifies it with :func:`symgrad.verify.answer.verify_tree` and keeps what a
student needs: the verdict, how the answer was read (rendered back from the
parsed tree), the counterexample, the named mistakes, or where parsing
stopped. :class:`AnswerCheck` shows itself as HTML in Jupyter; every string
that came from outside symgrad is escaped by the template's ``html_text``.
"""

from __future__ import annotations

import re
import types
from dataclasses import asdict, dataclass, field

from .errors import ParseError, SymgradError
from .escape import Untrusted

LANGUAGES = ("auto", "latex", "expr")
_COLUMN = re.compile(r"\bcolumn (\d+)")   # where a ParseError's message says parsing stopped


@dataclass
class AnswerCheck:
    """An answer's verdict and what explains it; ``as_json`` for the web page."""

    spec: str
    wrt: str
    answer: str
    language: str                      # latex | expr: how the answer was read
    verdict: str                       # correct | incorrect | undetermined | unusable
    message: str = ""
    method: str | None = None
    expected_shape: str | None = None
    answer_shape: str | None = None
    read_as_latex: str | None = None   # symgrad's LaTeX of the parsed answer (not the student's text)
    read_as_text: str | None = None    # the same in the expression language
    counterexample: dict | None = None
    diagnosis: list = field(default_factory=list)
    error_column: int | None = None    # 1-based column where parsing stopped
    key_latex: str | None = None       # the answer key, when asked for

    def as_json(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:
        return f"<AnswerCheck dL/d{self.wrt}: {self.verdict}>"

    def _repr_html_(self) -> str:
        from .emit.templates import render
        u = Untrusted
        rows = [(u(k), u(_short(v))) for k, v in (self.counterexample or {}).get("inputs", {}).items()]
        ce = None
        if self.counterexample:
            ce = {"inputs": rows, "expected": u(_short(self.counterexample.get("expected"))),
                  "got": u(_short(self.counterexample.get("got")))}
        return render("web/verdict.html.j2", wrt=u(self.wrt), verdict=self.verdict, message=u(self.message),
                      answer=u(self.answer), language=self.language, read_as=u(self.read_as_latex or ""),
                      read_as_text=u(self.read_as_text or ""), counterexample=ce,
                      diagnosis=[(u(d["mistake"]), u(d["message"])) for d in self.diagnosis],
                      column=self.error_column, key=u(self.key_latex or ""))


def _short(value, limit: int = 400) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + f" ... ({len(text)} characters)"


def _column(exc: SymgradError) -> int | None:
    found = _COLUMN.search(str(exc))
    return int(found.group(1)) if found else None


def _order(text: str, language: str) -> tuple:
    """The languages to try, in order: the one asked for, or (auto) the likelier first."""
    if language != "auto":
        return (language,)
    return ("latex", "expr") if "\\" in text or "{" in text else ("expr", "latex")


def _parse(d, text: str, language: str, expected_shape=None):
    """(parse tree, language, warnings) in the first language of :func:`_order` that reads
    the answer; when none does, the first language's ParseError. ``expected_shape``
    resolves LaTeX's ambiguous juxtapositions (:func:`symgrad.verify.latex.read_latex`)."""
    from .verify.entries import parse_answer
    from .verify.latex import read_latex
    readers = {"latex": lambda: read_latex(text, d, expected_shape), "expr": lambda: (parse_answer(text), [])}
    first, *others = _order(text, language)
    try:
        return _with(readers[first](), first)
    except SymgradError as exc:
        for other in others:
            try:
                return _with(readers[other](), other)
            except SymgradError:
                pass
        raise exc from None


def _with(read: tuple, language: str) -> tuple:
    tree, warnings = read
    return tree, language, warnings


def check_answer(spec, wrt: str, answer: str, *, language: str = "auto", time_limit: float = 10.0,
                 show_key: bool = False) -> AnswerCheck:
    """Verify ``answer`` for dL/d``wrt`` of ``spec`` (a path, a bundled name or a Derivation).

    Raises:
        SymgradError: the spec cannot be loaded, or ``wrt`` names no gradient (an answer that
            does not parse is not raised: it is the verdict ``unusable`` with its column).
    """
    from .derive import Derivation
    from .verify.answer import check_wrt, verify_tree, wrt_shape
    from .verify.env import load_derivation
    if language not in LANGUAGES:
        raise SymgradError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
    d = spec if isinstance(spec, Derivation) else load_derivation(spec)
    check_wrt(d, wrt)
    out = AnswerCheck(d.spec.name, wrt, str(answer), _order(str(answer), language)[0], "unusable")
    try:
        tree, out.language, warnings = _parse(d, str(answer), language, wrt_shape(d, wrt))
        _read_as(d, tree, out)
        v = verify_tree(d, wrt, tree, time_limit=time_limit)
    except (ParseError, SymgradError) as exc:
        out.message, out.error_column = str(exc), _column(exc)
        return out
    for name in ("verdict", "message", "method", "expected_shape", "answer_shape", "counterexample", "diagnosis"):
        setattr(out, name, getattr(v, name))
    out.read_as_text = v.read_as or out.read_as_text   # entries as written (W2[0,1]), not as slices
    if warnings:
        out.message += "; note: " + "; ".join(warnings)
    if show_key and out.verdict == "correct":
        out.key_latex = answer_key(d, wrt)
    return out


def read_answer(d, answer: str, language: str = "auto") -> dict:
    """How an answer reads, without verifying it (the page's live preview): the language,
    symgrad's LaTeX and text of it, or the parse error and its column."""
    out = AnswerCheck(d.spec.name, "", str(answer), _order(str(answer), language)[0], "unusable")
    try:
        tree, out.language, warnings = _parse(d, str(answer), language)
        _read_as(d, tree, out)
        if warnings:
            out.message = "note: " + "; ".join(warnings)
    except SymgradError as exc:
        out.message, out.error_column = str(exc), _column(exc)
    return {k: getattr(out, k) for k in ("language", "read_as_latex", "read_as_text", "message", "error_column")}


def _printer(d):
    from .emit.printers import LatexIRPrinter
    return LatexIRPrinter(dict(d.spec.latex))


def _read_as(d, tree, out: AnswerCheck) -> None:
    from .verify.env import lower_answer
    from .verify.exprtext import to_text
    try:
        e = lower_answer(d, tree)
    except SymgradError:
        return   # verify_tree says why (its shapes do not fit)
    out.read_as_latex, out.read_as_text = _printer(d).doprint(e), to_text(e)


def answer_key(d, wrt: str) -> str:
    """The true dL/d``wrt`` in LaTeX, in forward values only."""
    from .verify.mistakes import semi_expanded
    return _printer(d).doprint(semi_expanded(d, wrt))


class _CallableVerify(types.ModuleType):
    """The ``symgrad.verify`` package, also callable: ``symgrad.verify(spec, wrt, answer)``."""

    def __call__(self, spec, wrt: str, answer: str, **options) -> AnswerCheck:
        return check_answer(spec, wrt, answer, **options)


def make_verify_callable(package: types.ModuleType) -> None:
    """Let ``symgrad.verify`` (a package) be called as the notebook facade; its modules stay as they are."""
    package.__class__ = _CallableVerify
