"""The one Jinja environment every emitter uses."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2


def templates_root() -> Path:
    """templates/ inside an installed wheel, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("symgrad's templates/ folder is missing from this installation")


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
