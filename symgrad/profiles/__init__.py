"""Courses: a derivation in the interface a course already grades, and the plan
that grades students' code written to it.

Everything symgrad knows about one course lives in one module here, which
defines ``COURSE``, a :class:`Course`: its renderer (a template under
``templates/api/`` and the function that hands it plain data), its test plan
(the calls the sandbox makes and the values they must produce) and what a
submission needs at grading time (its packages). Adding a course is one
module, one template, and one line in :data:`COURSES`.

The package keeps the name the command line uses (``symgrad profile COURSE``,
``--profile COURSE``): a course's *profile* is its interface. Its plumbing:
:mod:`.common` prints a derivation's passes for any renderer, :mod:`.plan` and
:mod:`.calls` are what a planner builds; :mod:`symgrad.verify.code` runs plans.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import SpecError, SymgradError

#: Course modules, by the name the command line uses. A course module is any
#: importable module defining ``COURSE`` (a test registers one of its own).
COURSES = {
    "pset3": "symgrad.profiles.pset3",
    "mlp": "symgrad.profiles.mlp",
    "nodes": "symgrad.profiles.nodes",
    "makemore_backprop": "symgrad.profiles.makemore_backprop",
    "cmu_hw1p1": "symgrad.profiles.cmu_hw1p1",
    "uva_dl1": "symgrad.profiles.uva_dl1",
    "cs231n": "symgrad.profiles.cs231n",
    "cs224n_word2vec": "symgrad.profiles.cs224n_word2vec",
}


@dataclass(frozen=True)
class Course:
    """One course interface: how to write it and how to grade code written to it.

    Attributes:
        name: The course's name on the command line.
        doc: One line for ``symgrad profile --help`` and ``--profile``'s help.
        filename: The file it writes (``pset3.py``).
        template: Its template, under templates/ (or ``template_dir``).
        context: (spec or None) -> the data the template places.
        default_spec: The bundled spec it renders unless told otherwise, or
            None when the course builds its own specs (``--spec`` is refused).
        plan: (derivation, points, seed) -> :class:`~.plan.Plan`: the calls
            that exercise a submission and the values they must produce; None
            when code written to this course cannot be checked.
        packages: What a submission is handed and may import at grading time
            (numpy always; torch where the interface takes tensors).
        preload: Modules the course's starter imports though the interface does not
            pass them (pset3's torch and matplotlib): loaded once in the sandbox's
            fork server so that a submission importing them pays nothing.
        template_dir: A folder searched for ``template`` before symgrad's
            own templates/ (a course kept outside symgrad), or None.
        version: Which edition of the course the plan checks, in words (its
            classes and functions are exactly that edition's); "" when there is one.
        variants: Bundled specs of the course's other editions with other sizes
            (pset3: ``pset3_fa24``); a submission that fails against the chosen spec
            but fits one of these is told so (``did you mean --spec pset3_fa24?``).
        files: For a course that writes several files (a package): its
            (relative path, template) pairs, written instead of
            (``filename``, ``template``); empty for a one-file course.
        entry: For a package-shaped course: (file name, text) of the module the
            grader adds beside a submission folder, whose top-level names the
            plan's calls use; None for a one-file course.
    """

    name: str
    doc: str
    filename: str
    template: str
    context: Callable
    default_spec: str | None = None
    plan: Callable | None = None
    packages: tuple = ("numpy",)
    preload: tuple = ()
    template_dir: Path | None = None
    version: str = ""
    variants: tuple = ()
    files: tuple = ()
    entry: tuple | None = None

    def make_plan(self, d, points: int, seed: int):
        """The course's :class:`~.plan.Plan` for derivation ``d``, carrying the course's packages."""
        if self.plan is None:
            can = [name for name in names() if get(name).plan is not None]
            raise SymgradError(f"profile {self.name!r} cannot check code; these can: {', '.join(can)}")
        plan = self.plan(d, points, seed)
        plan.packages = tuple(self.packages)
        plan.preload = tuple(self.preload)
        return plan


def names() -> list[str]:
    return list(COURSES)


def get(name: str) -> Course:
    """The course called ``name``; SpecError naming the known ones otherwise."""
    if name not in COURSES:
        raise SpecError(f"unknown profile {name!r}; known profiles: {', '.join(COURSES)}")
    return importlib.import_module(COURSES[name]).COURSE


def render(name: str, spec=None) -> tuple[str, str]:
    """(file name, text) of one-file course ``name``'s interface for ``spec`` (its default when None)."""
    if get(name).files:
        raise SymgradError(f"profile {name!r} writes several files; use render_files")
    return next(iter(render_files(name, spec).items()))


def render_files(name: str, spec=None) -> dict[str, str]:
    """{relative path: text} of course ``name``'s interface for ``spec`` (its default when None)."""
    course = get(name)
    if spec is not None and course.default_spec is None:
        raise SpecError(f"profile {name!r} builds its own specs and takes no --spec")
    data = course.context(spec if spec is not None else course.default_spec)
    pairs = course.files or ((course.filename, course.template),)
    return {path: _template(course, template).render(**data) for path, template in pairs}


def _template(course: Course, name: str):
    import jinja2

    from ..emit.templates import environment
    env = environment()
    if course.template_dir is not None:
        env = env.overlay(loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(course.template_dir)),
                                                      env.loader]))
    return env.get_template(name)
