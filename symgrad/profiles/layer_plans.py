"""Test-plan pieces shared by the class-per-layer courses (cmu_hw1p1, uva_dl1).

A layer's cases come from its layer spec's derivation at random points and at
kink points: the forward value and every adjoint (the gradients its backward
must return or store) are the derivation's values there.
"""

from __future__ import annotations

import numpy as np

from .. import names as naming
from ..evaluate import EvalContext
from ..verify import env as envmod
from . import calls
from .plan import Case, Plan


class Points:
    """A layer derivation's test points: ``count`` random ones, then its kink points."""

    def __init__(self, d, count: int, seed: int, leaves=None, fix=None):
        """leaves: (rng, ctx) -> leaves, to draw them in the course's own domain (probabilities,
        labels), with no kink points; fix: leaves -> leaves, applied to every drawn point."""
        self.d = d
        if leaves is None:
            pts, self.ctx = envmod.random_points(d, count, seed)
            self.points = pts + envmod.kink_points(d, self.ctx)
            if fix is not None:
                with np.errstate(all="ignore"):
                    self.points = [envmod.Point(envmod.fill(d, fix(p.leaves(d)), self.ctx), p.kink)
                                   for p in self.points]
        else:
            self.ctx = EvalContext(envmod.test_sizes(d))
            rng = np.random.default_rng(seed)
            self.points = []
            for _ in range(count):
                with np.errstate(all="ignore"):
                    self.points.append(envmod.Point(envmod.fill(d, leaves(rng, self.ctx), self.ctx)))

    def __iter__(self):
        return iter(enumerate(self.points))


class Layer:
    """Builds one call's steps over plan arrays named ``<prefix>.<name>``."""

    def __init__(self, out: Plan, prefix: str, values: dict):
        self.out, self.prefix, self.values = out, prefix, values

    def array(self, name: str, value=None, kind: str = "array"):
        """A plan array holding the point's ``name`` (or ``value``), handed over as ``kind``."""
        key = f"{self.prefix}.{name}"
        self.out.arrays[key] = np.asarray(self.values[name] if value is None else value)
        return calls.Input(kind, key)

    def labels(self, name: str, into: str) -> tuple:
        """Steps that put the point's ``name`` in slot ``into`` as an int64 array (plan arrays
        travel as float64): held by a leaf node, read back, then ``astype("int64")``."""
        return (calls.Leaf(f"{into}.leaf", self.array(name)), getattr_step(f"{into}.leaf", "out", f"{into}.float"),
                calls.Call("astype", (calls.Const("int64"),), on=f"{into}.float", into=into))

    def shown(self, *names) -> dict:
        return {n: self.values[n] for n in names}


def gradient_case(function: str, cid: str, d, point, wrt: dict, shown: dict, **kw) -> Case:
    """A backward case: saved key -> the adjoint of the spec name ``wrt[key]`` at the point."""
    want = {key: point.values[naming.adjoint(name)] for key, name in wrt.items()}
    return Case(function, cid, want, shown, kind="gradient", on_kink=point.kink, derivation=d, point=point,
                wrt=dict(wrt), **kw)


def getattr_step(obj: str, attr: str, into: str) -> calls.Call:
    """``into = obj.attr`` (a list of layers, a dict of parameters) as a call the runner can make."""
    return calls.Call("__getattribute__", (calls.Const(attr),), on=obj, into=into)


def getitem_step(obj: str, key, into: str) -> calls.Call:
    """``into = obj[key]``."""
    return calls.Call("__getitem__", (calls.Const(key),), on=obj, into=into)
