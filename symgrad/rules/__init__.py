"""The rule table. Importing this package declares every operation once.

Families: :mod:`.arith` (broadcasting arithmetic), :mod:`.linalg` (``@``,
transpose, outer), :mod:`.reduce` (sum, mean, softmax), :mod:`.structure`
(concat, ones), :mod:`.elementwise` (functions from scalar definitions), and
:mod:`.composites` (losses and helpers written in the spec language itself).
"""

from .core import RULES, Printed, Rule, apply  # noqa: F401
from . import arith, linalg, reduce, structure, elementwise, internal  # noqa: F401  (fill the table)
from .arith import sum_to  # noqa: F401
from .composites import COMPOSITES  # noqa: F401
