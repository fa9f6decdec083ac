"""The compiled step's planner, now the package :mod:`symgrad.emit.step` (one module per pass).

Kept so ``from symgrad.emit.numpy_step import step_data`` still works.
"""

from .step import Op, assign_buffers, lower, out_form, render_ops, step_data  # noqa: F401
