"""Course profiles: a derivation in the interface a course already grades.

A profile is a template in ``templates/api/`` plus a small module here that
maps a derivation onto the course's names and signatures and hands the
template plain data. Adding a course means adding one module and one
template, and one line in :data:`MODULES`.

Each profile module defines ``PROFILE``, a :class:`Profile`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from ..errors import SpecError

#: Profile modules, by profile name.
MODULES = {
    "pset3": "symgrad.profiles.pset3",
    "mlp": "symgrad.profiles.mlp",
    "nodes": "symgrad.profiles.nodes",
}


@dataclass(frozen=True)
class Profile:
    """One course interface.

    Attributes:
        name: The profile's name on the command line.
        filename: The file it writes (``pset3.py``).
        template: Its template under templates/.
        default_spec: The bundled spec it renders unless told otherwise, or
            None when the profile builds its own specs (``--spec`` is refused).
        context: (spec or None) -> the data the template places.
        doc: One line for ``symgrad profile --help``.
    """

    name: str
    filename: str
    template: str
    default_spec: str | None
    context: Callable
    doc: str = ""


def names() -> list[str]:
    return list(MODULES)


def get(name: str) -> Profile:
    """The profile called ``name``; SpecError naming the known ones otherwise."""
    if name not in MODULES:
        raise SpecError(f"unknown profile {name!r}; known profiles: {', '.join(MODULES)}")
    return importlib.import_module(MODULES[name]).PROFILE


def render(name: str, spec=None) -> tuple[str, str]:
    """(file name, text) of profile ``name`` for ``spec`` (its default when None)."""
    profile = get(name)
    if spec is not None and profile.default_spec is None:
        raise SpecError(f"profile {name!r} builds its own specs and takes no --spec")
    from ..emit.templates import render as render_template
    data = profile.context(spec if spec is not None else profile.default_spec)
    return profile.filename, render_template(profile.template, **data)
