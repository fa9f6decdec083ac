"""A package-shaped submission made ready for the runner.

The runner imports one module of a submission and calls its top-level names.
A course whose students hand in packages (``mytorch/``, ``models/``) names an
entry module (``Course.entry``): the grader copies the submission's folders,
without following links (:func:`symgrad.verify.sandbox._copy_submission`),
and writes the entry module beside them. Top-level files of the submission
are left out, so no file of the student's can take the entry's place.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(path: Path, entry):
    """The folder to run for submission ``path``: ``path`` itself unless the course has an
    entry module and ``path`` is a folder; then a copy of its folders with the entry added."""
    from ..verify.sandbox import BadSubmission, _copy_submission
    if entry is None or not path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="symgrad-stage-") as tmp:
        ready = Path(tmp) / "submission"
        ready.mkdir()
        try:
            for sub in sorted(path.iterdir()):
                if sub.is_dir() and not sub.is_symlink() and sub.name != "__pycache__":
                    _copy_submission(sub, ready / sub.name)
        except BadSubmission:
            yield path      # the runner's own copy refuses it with the same reason
            return
        name, text = entry
        (ready / name).write_text(text)
        yield ready
