"""Exceptions raised on bad input.

Every error symgrad reports to a user is a :class:`SymgradError`. Its message is
one line that names what is wrong and where (file, node, expression, shapes), so
the command line can print it verbatim and exit with status 2.
"""

from __future__ import annotations


class SymgradError(Exception):
    """Base class of all user-facing errors.

    Args:
        message: What is wrong and, where it helps, how to fix it.
        source: The file (or other origin, such as ``--answer``) the input came from.
        node: The spec entry (node, ``loss``, ``params``...) the problem is in.
        expr: The offending expression text.
    """

    def __init__(self, message: str, *, source: str | None = None,
                 node: str | None = None, expr: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.node = node
        self.expr = expr

    def located(self, *, source: str | None = None, node: str | None = None,
                expr: str | None = None) -> "SymgradError":
        """Fill in location fields that are still unknown; returns self."""
        self.source = self.source or source
        self.node = self.node or node
        self.expr = self.expr or expr
        return self

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.node:
            parts.append(f"node '{self.node}'")
        if self.expr is not None:
            shown = self.expr if len(self.expr) <= 80 else self.expr[:77] + "..."
            parts.append(f"'{shown}'")
        where = ": ".join(parts)
        text = f"{where}: {self.message}" if where else self.message
        from .escape import one_line   # (escape.py raises SpecError: imported here, not at the top)
        # always one line, and what a user wrote is shown, never obeyed by the terminal
        return one_line(" ".join(text.split()))


class ParseError(SymgradError):
    """An expression string does not follow the expression grammar."""


class SpecError(SymgradError):
    """A spec is malformed: bad TOML, missing table, invalid name..."""


class ShapeError(SymgradError):
    """Shapes do not fit an operation."""


class DerivationError(SymgradError):
    """Something cannot be differentiated as asked."""
