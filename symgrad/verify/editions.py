"""A submission written for another edition of the course (other sizes), named.

A course lists the bundled specs of its editions (``Course.variants``: pset3's
1-3-3-1 net of 2023 and 1-4-2-1 net of Fall 2024). When a submission fails
against the chosen spec in a way that smells of sizes (a shape or size in an
error, a value of another shape), it is run once more against each other
edition whose parameter sizes differ; if it does better there, the report says
so: "your W0 has 4 entries; this spec's W0 has 3: did you mean --spec
pset3_fa24?". Nothing is tried for a submission that is correct, or whose
failures say nothing about sizes.
"""

from __future__ import annotations

import re

import numpy as np

from .. import profiles
from ..errors import SymgradError
from ..evaluate import EvalContext
from . import env as envmod

SIZE_WORDS = re.compile(r"shape|size|broadcast|align|dimension|index|reshape|mismatch|operand", re.IGNORECASE)


def _size(d, ctx, name) -> int:
    return int(np.prod(ctx.shape(d.graph.params[name].shape)))


class Editions:
    """The other editions of one course, for one chosen derivation; their checkers made when first needed."""

    def __init__(self, d, profile: str, make_checker):
        self.spec = d.spec.name
        self.make_checker = make_checker
        self.others = []      # (spec name, derivation, parameter, its size here, its size there)
        self.checkers = {}
        for name in profiles.get(profile).variants:
            if name == self.spec:
                continue
            try:
                other = envmod.load_derivation(name)
            except SymgradError:
                continue
            here, there = EvalContext(envmod.test_sizes(d)), EvalContext(envmod.test_sizes(other))
            for p in d.graph.params:
                if p in other.graph.params and _size(d, here, p) != _size(other, there, p):
                    self.others.append((name, other, p, _size(d, here, p), _size(other, there, p)))
                    break

    def close(self) -> None:
        for checker in self.checkers.values():
            checker.close()
        self.checkers.clear()

    def notes(self, path, report, run) -> list:
        """A note naming the edition the submission fits, or nothing."""
        if not self.others or not _about_sizes(report):
            return []
        correct = report.counts()["correct"]
        for name, other, param, here, there in self.others:
            if name not in self.checkers:
                self.checkers[name] = self.make_checker(other)
            again = self.checkers[name].check(path)
            if again.counts()["correct"] > correct:
                return [f"your {param} has {there} entries; this spec's {param} has {here}: "
                        f"did you mean --spec {name}?"]
        return []


def _about_sizes(report) -> bool:
    for f in report.functions:
        if f.status in ("crashed", "not judged") and SIZE_WORDS.search(f.message):
            return True
        ce = f.counterexample
        if f.status == "wrong" and ce and np.shape(ce["expected"]) != np.shape(ce["got"]):
            return True
    return False
