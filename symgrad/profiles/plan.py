"""A course's test plan: the calls the sandbox runs and what each must produce.

A course module's planner (``Course.plan``) turns a derivation into a
:class:`Plan`: the call scripts (built with :mod:`.calls`), the arrays they
read, and :class:`Case` s: for each call, the values each interface function
must have produced, computed from the derivation. :mod:`symgrad.verify.code`
runs the calls in the sandbox and judges the results against the cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RTOL = 1e-7


@dataclass
class Case:
    """What one call must have produced for one interface function.

    Attributes:
        function: The interface function judged (``MLP.backward``).
        cid: The call whose saved values are read.
        want: Saved key -> expected array.
        shown: Inputs printed in a counterexample.
        kind: ``value``, ``activation`` (element-wise, kink diagnosis) or
            ``gradient`` (kink and mistake-catalogue diagnosis).
        on_kink: The inputs put some kinked function exactly on its kink.
        derivation, point, wrt: For the catalogue: the derivation, its test
            point, and which gradient (by name) each saved key is.
        baseline: Saved key -> what was there before the call; a result equal
            to ``want - baseline`` means the gradient was assigned, not added.
        as_set: Compare as sets (a list of predecessors).
        setting: What the call did beyond a plain call, said in a counterexample.
        strict: The case checks a property beyond the course's contract (gradients
            added with ``+=`` where the homework does not ask for it): a failure is a
            note, and counts only with ``--strict``.
        after: Interface functions the call runs before this one (a method's
            forward before its backward): when one of them crashed, this one is
            "not judged", not "crashed".
    """

    function: str
    cid: str
    want: dict
    shown: dict
    kind: str = "value"
    on_kink: bool = False
    derivation: object = None
    point: object = None
    wrt: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    as_set: bool = False
    setting: str = ""
    strict: bool = False
    after: tuple = ()


@dataclass
class Plan:
    """Everything the checker needs to run and judge one course's interface.

    Attributes:
        functions: Interface function names, in report order.
        calls: The runner's call scripts, as plain data (``Script.wire()``).
        arrays: Input name -> array, read by the calls' arguments.
        cases: The expectations, several per function.
        trace: Top-level functions whose calls of each other are recorded.
        rtol: Relative tolerance of every comparison.
        uses: Function -> interface functions it is built on (a graph's node classes).
        packages: What the submission is handed and may import (the course's
            ``packages``; filled in by :func:`symgrad.verify.code.make_plan`).
        preload: Further modules loaded once before any submission (the course's ``preload``).
    """

    functions: list
    calls: list
    arrays: dict
    cases: list
    trace: tuple = ()
    rtol: float = RTOL
    uses: dict = field(default_factory=dict)
    packages: tuple = ("numpy",)
    preload: tuple = ()

    @property
    def torch(self) -> bool:
        """The submission gets torch tensors (the sandbox preloads torch)."""
        return "torch" in self.packages

    def add(self, script, case=None) -> None:
        """One call (a :class:`~.calls.Script`) and what it must produce."""
        self.calls.append(script.wire())
        if case is not None:
            self.cases.append(case)


def point_arrays(arrays: dict, k: int, values: dict, names) -> None:
    """Test point k's values of ``names`` as plan arrays ``p<k>.<name>``."""
    for name in names:
        arrays[f"p{k}.{name}"] = values[name]
