"""The rule table. Importing this package declares every operation once.

Families: :mod:`.arith` (broadcasting arithmetic), :mod:`.linalg` (``@``,
transpose, outer), :mod:`.reduce` (sum, mean, softmax), :mod:`.structure`
(concat, ones), :mod:`.elementwise` (functions from scalar definitions), and
:mod:`.composites` (losses and helpers written in the spec language itself).
"""

from .core import CALL, RULES, SPEC, Printed, Rule, apply, to_sympy  # noqa: F401
from . import arith, linalg, reduce, structure, elementwise, indexing, extrema, internal  # noqa: F401  (fill the table)
from . import variance  # noqa: F401
from .arith import sum_to  # noqa: F401
from .composites import COMPOSITES  # noqa: F401


def callable_functions() -> list[str]:
    """Function names the spec language accepts."""
    out = {r.spelling for r in RULES if r.syntax == CALL and r.language == SPEC}
    return sorted(out | set(COMPOSITES))
