"""Input kinds: what values an input holds (DESIGN.md, "Input kinds").

An input is declared as a shape (real entries) or as a table::

    Y = { shape = ["n", 3], kind = "onehot" }
    y = { shape = ["n"], kind = "label", classes = 3 }
    ix = { shape = ["n", 3], kind = "index", size = 27 }
    A = { shape = ["n", 4], grad = true }

This module reads and validates such a table (:func:`read_input`); drawing a
value of each kind is :mod:`symgrad.points`' job. Integer kinds (``label``,
``index``) are never differentiated.
"""

from __future__ import annotations

from dataclasses import dataclass

#: kind -> what its entries are (shown in error messages and documents)
KINDS = {
    "real": "real entries (the default)",
    "onehot": "each row one-hot along the last axis",
    "simplex": "each row >= 0, summing to 1 along the last axis",
    "binary": "entries 0 or 1",
    "unit": "entries in [0, 1]",
    "positive": "entries > 0",
    "label": "integer class indices 0 .. classes-1",
    "index": "integer row indices 0 .. size-1",
}
INTEGER_KINDS = frozenset({"label", "index"})
#: the integer kinds' bound: kind -> the field that states it
BOUND_FIELD = {"label": "classes", "index": "size"}
FIELDS = ("shape", "kind", "classes", "size", "grad")
MAX_BOUND = 1_000_000


@dataclass(frozen=True)
class InputKind:
    """What an input holds. ``bound`` is ``classes`` (label) or ``size`` (index):
    an int or a size name."""

    kind: str = "real"
    bound: int | str | None = None
    grad: bool = False

    @property
    def integer(self) -> bool:
        return self.kind in INTEGER_KINDS

    def describe(self) -> str:
        if self.integer:
            return f"kind = \"{self.kind}\", {BOUND_FIELD[self.kind]} = {self.bound!r}"
        return f"kind = \"{self.kind}\""


REAL = InputKind()


def read_input(name: str, value, error) -> tuple[object, InputKind]:
    """(shape, kind) of one ``[inputs]`` entry; ``error(message, field)`` builds the exception to raise.

    The shape itself is checked by the caller; here only that a table has one."""
    if not isinstance(value, dict):
        return value, REAL
    unknown = sorted(k for k in value if k not in FIELDS)
    if unknown:
        raise error(f"input {name!r} has unknown field {unknown[0]!r}; an input table holds "
                    f"{', '.join(FIELDS)}", unknown[0])
    if "shape" not in value:
        raise error(f"input {name!r} is a table without 'shape'; write {{ shape = [\"n\", 3], ... }}", "shape")
    kind = value.get("kind", "real")
    if not isinstance(kind, str) or kind not in KINDS:
        raise error(f"input {name!r}: kind = {kind!r} is not one of {', '.join(KINDS)}", "kind")
    grad = value.get("grad", False)
    if not isinstance(grad, bool):
        raise error(f"input {name!r}: grad must be true or false, got {grad!r}", "grad")
    for field_name in ("classes", "size"):
        if field_name in value and BOUND_FIELD.get(kind) != field_name:
            owner = "label" if field_name == "classes" else "index"
            raise error(f"input {name!r}: {field_name!r} belongs to kind = \"{owner}\", not kind = \"{kind}\"",
                        field_name)
    bound = None
    if kind in INTEGER_KINDS:
        field_name = BOUND_FIELD[kind]
        if field_name not in value:
            raise error(f"input {name!r} of kind \"{kind}\" needs {field_name} = <how many>", field_name)
        bound = value[field_name]
        if isinstance(bound, bool) or not isinstance(bound, (int, str)) or (
                isinstance(bound, int) and not 1 <= bound <= MAX_BOUND):
            raise error(f"input {name!r}: {field_name} must be an integer between 1 and {MAX_BOUND} or a "
                        f"size name, got {bound!r}", field_name)
        if grad:
            raise error(f"input {name!r} holds integers (kind = \"{kind}\"), which are never differentiated; "
                        "remove grad = true", "grad")
    shape = value["shape"]
    if kind == "label" and isinstance(shape, (list, tuple)) and not (
            len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise error(f"input {name!r}: labels have shape [\"n\"] or [\"n\", 1], got {list(shape)!r}", "shape")
    if kind in ("onehot", "simplex") and isinstance(shape, (list, tuple)) and not shape:
        raise error(f"input {name!r}: kind = \"{kind}\" needs at least one axis (its last axis sums to 1)",
                    "shape")
    return shape, InputKind(kind, bound, grad)
