"""The sandbox runner's call scripts, written with typed pieces.

A course's test plan asks the runner (``symgrad/verify/_runner.py``, whose
docstring is the reference for the format) to run calls: each a short script
of steps over named slots, with arguments taken from the plan's arrays. The
runner reads plain data (it crosses a process boundary as JSON, never code);
the frozen dataclasses here build that data, so a planner writes
``Call("forward", [tensor("p0.x")], on="net", into="y_hat")`` instead of a
nested list, and ``wire()`` returns exactly the lists and dicts the runner
reads.

Arguments: :func:`scalar`, :func:`array`, :func:`integer`, :func:`tensor` (a
plan array handed over as a float, a copy, an int, a torch tensor),
:class:`Const`, :class:`Slot`, :class:`DictArg`. Saved values: :class:`Slot`
(the slot's whole value), :class:`Attr`, :class:`Item`, :class:`Index`,
:class:`Key`, :class:`Members`. Steps: :class:`Call`, :class:`Leaf`,
:class:`SetAttr`, :class:`SetItem`, :class:`Save`. A whole call:
:class:`Script`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# -- arguments ---------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """A plan array handed to the submission as ``kind``: scalar (a float), array
    (a copy), int, or tensor (a torch tensor of ``dtype``)."""

    kind: str
    name: str
    dtype: str | None = None

    def wire(self) -> list:
        return [self.kind, self.name] if self.dtype is None else [self.kind, self.name, self.dtype]


def scalar(name: str) -> Input:
    return Input("scalar", name)


def array(name: str) -> Input:
    return Input("array", name)


def integer(name: str) -> Input:
    return Input("int", name)


def tensor(name: str, dtype: str = "float32") -> Input:
    return Input("tensor", name, dtype)


@dataclass(frozen=True)
class Const:
    """A plain JSON value (a size, an activation's name)."""

    value: Any

    def wire(self) -> list:
        return ["const", self.value]


@dataclass(frozen=True)
class Slot:
    """What an earlier step kept under this name; saved, its whole value."""

    name: str

    def wire(self) -> list:
        return ["slot", self.name]


@dataclass(frozen=True)
class DictArg:
    """A dict of arguments (problem set 3's ``variable_dict``)."""

    entries: dict

    def wire(self) -> list:
        return ["dict", {key: value.wire() for key, value in self.entries.items()}]


# -- saved values ----------------------------------------------------------------


@dataclass(frozen=True)
class Attr:
    """``slot.attr``."""

    slot: str
    attr: str

    def wire(self) -> list:
        return ["attr", self.slot, self.attr]


@dataclass(frozen=True)
class Item:
    """``slot.attr[key]`` (a dict attribute: ``net.grads["dJdW1"]``)."""

    slot: str
    attr: str
    key: str

    def wire(self) -> list:
        return ["item", self.slot, self.attr, self.key]


@dataclass(frozen=True)
class Index:
    """``slot[i]`` of a returned tuple."""

    slot: str
    i: int

    def wire(self) -> list:
        return ["index", self.slot, self.i]


@dataclass(frozen=True)
class Key:
    """``slot[key]`` of a returned dict."""

    slot: str
    key: str

    def wire(self) -> list:
        return ["key", self.slot, self.key]


@dataclass(frozen=True)
class Members:
    """Which of ``slots`` the list in ``slot`` holds (by identity), as their positions."""

    slot: str
    slots: tuple

    def wire(self) -> list:
        return ["members", self.slot, list(self.slots)]


# -- steps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """``into = on.name(*args, **kwargs)``; the submission's top-level ``name``
    when ``on`` is None; the result is dropped when ``into`` is None."""

    name: str
    args: tuple = ()
    kwargs: dict | None = None
    on: str | None = None
    into: str | None = None

    def wire(self) -> list:
        kwargs = {key: value.wire() for key, value in (self.kwargs or {}).items()}
        return ["call", self.into, self.on, self.name, [a.wire() for a in self.args], kwargs]


@dataclass(frozen=True)
class Leaf:
    """A plain leaf node holding ``value`` in the slot (node-class interfaces)."""

    slot: str
    value: Any

    def wire(self) -> list:
        return ["leaf", self.slot, self.value.wire()]


@dataclass(frozen=True)
class SetAttr:
    """``slot.attr = value``."""

    slot: str
    attr: str
    value: Any

    def wire(self) -> list:
        return ["setattr", self.slot, self.attr, self.value.wire()]


@dataclass(frozen=True)
class SetItem:
    """``slot.attr[key] = value``."""

    slot: str
    attr: str
    key: str
    value: Any

    def wire(self) -> list:
        return ["setitem", self.slot, self.attr, self.key, self.value.wire()]


@dataclass(frozen=True)
class Save:
    """Log ``what`` as ``<call id>.<key>`` (as the call id itself when key is "")."""

    key: str
    what: Any

    def wire(self) -> list:
        return ["save", self.key, self.what.wire()]


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
