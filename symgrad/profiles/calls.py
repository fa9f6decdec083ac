"""The sandbox runner's call scripts, written with typed pieces.

A course's test plan asks the runner (``symgrad/verify/_runner.py``, whose
docstring is the reference for the format) to run calls: each a short script
of steps over named slots, with arguments taken from the plan's arrays. The
runner reads plain data (it crosses a process boundary as JSON, never code);
the frozen dataclasses here build that data, so a planner writes
``Call("forward", [tensor("p0.x")], on="net", into="y_hat")`` instead of a
nested list, and ``wire()`` returns exactly the lists and dicts the runner
reads.

Each piece's plain form is its tag followed by its fields in the order they
are declared (nested pieces in their plain form), as the runner reads them.
Arguments: :func:`scalar`, :func:`array`, :func:`integer` (a plan array handed
over as a float, a copy, an int), :class:`Tensor`,
:class:`Const`, :class:`Slot`, :class:`Function`, :class:`DictArg`. Saved values: :class:`Slot`
(the slot's whole value), :class:`Attr`, :class:`Item`, :class:`Index`,
:class:`Key`, :class:`Members`. Steps: :class:`Call`, :class:`Leaf`,
:class:`SetAttr`, :class:`SetItem`, :class:`Save`. A whole call:
:class:`Script`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar


class Piece:
    """``wire()``: [TAG, every field in declaration order], nested pieces wired too."""

    TAG: ClassVar[str]

    def wire(self) -> list:
        return [self.TAG] + [_plain(getattr(self, f.name)) for f in fields(self)]


def _plain(value):
    if isinstance(value, Piece):
        return value.wire()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    return value


# -- arguments ---------------------------------------------------------------------


@dataclass(frozen=True)
class Input(Piece):
    """A plan array handed to the submission as ``kind``: scalar (a float), array (a copy) or int."""

    kind: str
    name: str

    def wire(self) -> list:
        return [self.kind, self.name]


def scalar(name: str) -> Input:
    return Input("scalar", name)


def array(name: str) -> Input:
    return Input("array", name)


def integer(name: str) -> Input:
    return Input("int", name)


@dataclass(frozen=True)
class Tensor(Piece):
    """A plan array handed over as a torch tensor of ``dtype``."""

    TAG = "tensor"
    name: str
    dtype: str = "float32"


tensor = Tensor


@dataclass(frozen=True)
class Const(Piece):
    """A plain JSON value (a size, an activation's name)."""

    TAG = "const"
    value: Any


@dataclass(frozen=True)
class Slot(Piece):
    """What an earlier step kept under this name; saved, its whole value."""

    TAG = "slot"
    name: str


@dataclass(frozen=True)
class Function(Piece):
    """The submission's own top-level function ``name`` itself, passed as an argument (a callback)."""

    TAG = "function"
    name: str


@dataclass(frozen=True)
class DictArg(Piece):
    """A dict of arguments (problem set 3's ``variable_dict``)."""

    TAG = "dict"
    entries: dict


# -- saved values ----------------------------------------------------------------


@dataclass(frozen=True)
class Attr(Piece):
    """``slot.attr``."""

    TAG = "attr"
    slot: str
    attr: str


@dataclass(frozen=True)
class Item(Piece):
    """``slot.attr[key]`` (a dict attribute: ``net.grads["dJdW1"]``)."""

    TAG = "item"
    slot: str
    attr: str
    key: str


@dataclass(frozen=True)
class Index(Piece):
    """``slot[i]`` of a returned tuple."""

    TAG = "index"
    slot: str
    i: int


@dataclass(frozen=True)
class Key(Piece):
    """``slot[key]`` of a returned dict."""

    TAG = "key"
    slot: str
    key: str


@dataclass(frozen=True)
class Members(Piece):
    """Which of ``slots`` the list in ``slot`` holds (by identity), as their positions."""

    TAG = "members"
    slot: str
    slots: tuple


# -- steps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call(Piece):
    """``into = on.name(*args, **kwargs)``; the submission's top-level ``name``
    when ``on`` is None; the result is dropped when ``into`` is None."""

    name: str
    args: tuple = ()
    kwargs: dict | None = None
    on: str | None = None
    into: str | None = None

    def wire(self) -> list:
        return ["call", self.into, self.on, self.name, _plain(tuple(self.args)), _plain(self.kwargs or {})]


@dataclass(frozen=True)
class Leaf(Piece):
    """A plain leaf node holding ``value`` in the slot (node-class interfaces)."""

    TAG = "leaf"
    slot: str
    value: Piece


@dataclass(frozen=True)
class SetAttr(Piece):
    """``slot.attr = value``."""

    TAG = "setattr"
    slot: str
    attr: str
    value: Piece


@dataclass(frozen=True)
class SetItem(Piece):
    """``slot.attr[key] = value``."""

    TAG = "setitem"
    slot: str
    attr: str
    key: str
    value: Piece


@dataclass(frozen=True)
class Save(Piece):
    """Log ``what`` as ``<call id>.<key>`` (as the call id itself when key is "")."""

    TAG = "save"
    key: str
    what: Piece


@dataclass(frozen=True)
class Script:
    """One call: its id, the interface function it exercises, its steps."""

    cid: str
    func: str
    steps: tuple

    def wire(self) -> dict:
        return {"id": self.cid, "func": self.func, "steps": [step.wire() for step in self.steps]}


def function_call(cid: str, func: str, args, keys=None) -> Script:
    """A call of the submission's top-level ``func``; its result saved whole, or
    by ``keys`` when it returns a dict."""
    steps = [Call(func, tuple(args), into="result")]
    if keys:
        steps += [Save(key, Key("result", key)) for key in keys]
    else:
        steps.append(Save("", Slot("result")))
    return Script(cid, func, tuple(steps))
