"""The one Jinja environment every emitter uses.

Untrusted text (a spec's description, a file name: :class:`symgrad.escape.Untrusted`)
is printed only through one of the escaping filters below, named after its
output context; printing it bare raises :class:`UnescapedText` when the
template renders. Templates have no autoescaping beyond that: they print code
and formulas that symgrad built from validated identifiers.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from .. import escape

#: Filters a template applies to untrusted text, one per output context.
ESCAPE_FILTERS = {
    "py_string": escape.py_string, "py_comment": escape.py_comment, "py_docstring": escape.py_docstring,
    "line_comment": escape.line_comment, "html_comment": escape.html_comment, "html_text": escape.html_text,
    "tex_text": escape.tex_text,
    "markdown_text": escape.markdown_text, "dot_string": escape.dot_string,
}


class UnescapedText(RuntimeError):
    """A template printed untrusted text without an escaping filter (a bug in symgrad)."""


def _finalize(value):
    if isinstance(value, escape.Untrusted):
        raise UnescapedText(f"a template printed untrusted text {escape.one_line(value, 40)!r} without one of "
                            f"the filters {', '.join(ESCAPE_FILTERS)}")
    return value


def templates_root() -> Path:
    """templates/ inside an installed wheel, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("symgrad's templates/ folder is missing from this installation")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False, finalize=_finalize)
    env.filters.update(ESCAPE_FILTERS)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
