"""``symgrad latex --check``: every equality a write-up displays, read back and verified.

Each section builder records the equalities its blocks state as data
(:class:`~.latex_base.Claim`: the array, whether the right-hand side is its
value, its adjoint or one scalar entry of an adjoint, and the right-hand side
exactly as printed). Here each is

* read back with symgrad's own LaTeX reader (:mod:`symgrad.verify.latex`) under
  BOTH usual conventions for a product chain -- the reader's own (``\\odot`` and
  juxtaposition at one level, left to right) and juxtaposition binding more
  tightly than ``\\odot`` -- so a formula that needs a convention to type-check
  (``X^\\top G \\odot D``) fails;
* compared with the derivation at random points, then proven equal entry by
  entry with sympy in a child process under a time limit; where the proof does
  not finish in time the formula counts as checked at random points, and the
  summary says how many were.

Entry-by-entry lines are scalars over named entries (``h_0 (w_2)_0 x_0``) that
the reader has no grammar for: they are checked as the sympy expression the
line prints (every named entry replaced by its value), not re-read.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from ..derive import Derivation
from ..errors import SymgradError
from ..ir import as_sympy
from ..parse import BinOp
from ..verify import latex as reader

#: seconds for one formula's symbolic proof (past it: random points only)
PROOF_LIMIT = 10.0
#: seconds for the whole check (past it: every remaining formula at random points only)
TIME_LIMIT = 600.0


class TightReader(reader._Reader):
    """The LaTeX reader with juxtaposition (a matrix product) binding more tightly than \\odot."""

    def term(self):
        node = self.product()
        while self.tok in (r"\odot", r"\circ"):
            pos = self.col()
            self.take()
            node = BinOp("*", node, self.product(), pos)
        return node

    def product(self):
        node = self.factor()
        while True:
            pos = self.col()
            if self.tok == "/":
                self.take()
                node = BinOp("/", node, self.factor(), pos)
            elif self.tok in (r"\cdot", r"\times"):
                self.take()
                node = self.juxt(node, self.factor(), pos)
            elif self.starts_factor():
                node = self.juxt(node, self.factor(), pos)
            else:
                return node


#: notation the reader has no grammar for (a block matrix, the constant pi); a claim printed
#: with it, or with a function that takes a parameter (LeakyReLU's slope), is checked as the IR it prints
UNREAD = (r"\begin{bmatrix}", r"\pi")


def _unread(tex: str) -> bool:
    from ..rules.elementwise import FUNCTIONS
    marks = UNREAD + tuple(f.latex_name for f in FUNCTIONS.values() if f.params)
    return any(m in tex for m in marks)


CONVENTIONS = (("left to right", reader._Reader), ("juxtaposition before \\odot", TightReader))


@dataclass
class Outcome:
    """One formula's check: ``ok``, how (``symbolic`` or ``numeric``) and why not."""

    section: str
    claim: object
    ok: bool
    method: str | None = None
    message: str = ""


@dataclass
class Report:
    outcomes: list = field(default_factory=list)
    stopped: bool = False     # the overall time limit passed: later formulas at random points only

    @property
    def failure(self) -> Outcome | None:
        return next((o for o in self.outcomes if not o.ok), None)

    def counts(self) -> dict:
        out = {"symbolic": 0, "numeric": 0}
        for o in self.outcomes:
            if o.ok:
                out[o.method] = out.get(o.method, 0) + 1
        return out


def claims_of(writeup) -> list:
    """(section title, claim) for every equality the write-up displays, in document order."""
    return [(s.title, c) for s in writeup.sections for b in s.blocks for c in b.claims]


def _fit_shape(tree, lowered, want):
    """sum_k keeps the summed axis where the array's shape has it (a bias of shape m x 1)."""
    if len(want) == lowered.ndim + 1 and 1 in want:
        from fractions import Fraction

        from ..parse import Call, Num
        return Call("expand_dims", (tree,), (("axis", Num(Fraction(list(want).index(1)), "0", 0)),), 0)
    return tree


def _read(d: Derivation, claim, cls):
    """(tree, IR) of the claim's right-hand side under one convention."""
    from ..verify import env as envmod
    tree = cls(claim.tex, d).parse()
    want = tuple(d.graph.variables()[claim.target].shape) if claim.target in d.graph.variables() else ()
    tree = _fit_shape(tree, reader._Reader(claim.tex, d).lowering.lower(tree), want)
    return tree, envmod.lower_answer(d, tree)


def _prove_child(fn, args, limit: float):
    """fn(*args) in a forked child: True / False, or None when it does not finish within ``limit``."""
    if limit <= 0:
        return None
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run(conn):
        try:
            conn.send(bool(fn(*args)))
        except BaseException:  # noqa: BLE001 -- any failure of sympy's means "not decided"
            conn.send(None)

    proc = ctx.Process(target=run, args=(child,), daemon=True)
    proc.start()
    child.close()
    try:
        return parent.recv() if parent.poll(limit) else None
    except EOFError:
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1)


def _symbolic_values(d: Derivation, sizes: dict):
    from ..evaluate import EvalContext
    from ..points import symbolic_leaves
    from ..verify.answer import with_kinds
    ctx = EvalContext(sizes, symbolic=True)
    return d.values(with_kinds(d, symbolic_leaves(d, ctx)), ctx), ctx


def _value_equal(d: Derivation, key: str, answer, sizes: dict) -> bool:
    from ..evaluate import evaluate
    from ..ir import as_sympy
    from ..points import is_zero
    values, ctx = _symbolic_values(d, sizes)
    truth = np.asarray(values[key], dtype=object)
    got = np.asarray(evaluate(answer, values, ctx), dtype=object)
    return truth.shape == got.shape and all(is_zero(as_sympy(t) - as_sympy(g))
                                            for t, g in zip(truth.ravel(), got.ravel()))


def _check_value(d: Derivation, claim, answer, limit: float) -> tuple[bool, str | None, str]:
    """A node's value: random points, then a proof."""
    from ..ir import show_shape
    from ..points import close, finite, random_points
    from ..verify import env as envmod
    want_shape = tuple(d.graph.variables()[claim.target].shape)
    if tuple(answer.shape) != want_shape:
        return False, None, f"it has shape {show_shape(answer.shape)}, not {show_shape(want_shape)}"
    pts, ctx = random_points(d, 12, 0)
    for p in pts:
        got, want = envmod.value_of(answer, p, ctx), np.asarray(p.values[claim.target], dtype=float)
        if finite(got) and finite(want) and not close(got, want):
            return False, "numeric", f"it differs from {claim.target} at a random point"
    if _prove_child(_value_equal, (d, claim.target, answer, ctx.sizes), limit):
        return True, "symbolic", ""
    return True, "numeric", ""


def _entry_equal(d: Derivation, claim) -> bool:
    """An entry line: the sympy expression it prints, every named entry put in, equals the
    derivation's entry of dL/d<target>."""
    import sympy as sp

    from .. import names as naming
    from ..evaluate import EvalContext
    from ..verify.answer import with_kinds
    idx, expr, where = claim.entry
    ctx = EvalContext({}, symbolic=True)
    leaves = {}
    for sym, (name, i) in where.items():
        if name in d.graph.inputs or name in d.graph.params:
            shape = d.graph.variables()[name].shape
            leaves.setdefault(name, np.empty(tuple(int(s) for s in shape), dtype=object))[i] = sym
    values = d.values(with_kinds(d, leaves), ctx)
    subs = {sym: as_sympy(np.asarray(values[name], dtype=object)[i]) for sym, (name, i) in where.items()
            if sym in expr.free_symbols}
    truth = np.asarray(values[naming.adjoint(claim.target)], dtype=object)[idx]
    return sp.simplify(expr.xreplace(subs) - truth) == 0


def _check_data(d: Derivation, section: str, claim, limit: float) -> Outcome:
    """A claim in notation the reader cannot read: the IR it prints, verified."""
    from ..verify.answer import verify_expr
    if claim.kind == "value":
        ok, method, why = _check_value(d, claim, claim.expr, limit)
    else:
        v = verify_expr(d, claim.target, claim.expr, time_limit=limit)
        ok, method, why = v.verdict == "correct", v.method, v.message
    return Outcome(section, claim, ok, method and method + ", as data", why)


def check_claim(d: Derivation, section: str, claim, limit: float) -> Outcome:
    """Read one claim back under both conventions and verify it."""
    from ..verify.answer import verify_tree
    if claim.kind == "entry":
        ok = _prove_child(_entry_equal, (d, claim), max(limit, 1.0))
        if ok is None:
            return Outcome(section, claim, False, None, "sympy did not decide within the time limit")
        return Outcome(section, claim, ok, "symbolic", "" if ok else "it differs from the derivation's entry")
    if claim.expr is not None and _unread(claim.tex):
        return _check_data(d, section, claim, limit)
    seen = {}
    for label, cls in CONVENTIONS:
        try:
            tree, answer = _read(d, claim, cls)
        except SymgradError as exc:
            return Outcome(section, claim, False, None, f"read {label}, it does not parse or type-check: "
                                                        f"{getattr(exc, 'message', str(exc))}")
        if answer in seen.values():
            continue
        seen[label] = answer
        if claim.kind == "value":
            ok, method, why = _check_value(d, claim, answer, limit)
        else:
            v = verify_tree(d, claim.target, tree, time_limit=limit)
            ok, method, why = v.verdict == "correct", v.method, v.message
        if not ok:
            return Outcome(section, claim, False, method, f"read {label}: {why}")
    return Outcome(section, claim, True, method)


def check_writeup(d: Derivation, writeup, *, time_limit: float = TIME_LIMIT, proof_limit: float = PROOF_LIMIT,
                  progress=None) -> Report:
    """Check every claim of ``writeup`` (built from ``d``); stop at the first failure.

    Args:
        d: The derivation the write-up shows (its textbook view).
        writeup: From :func:`symgrad.emit.latex_sections.build`.
        time_limit: Seconds for the whole check; past it, proofs are skipped and
            the remaining formulas are checked at random points only.
        proof_limit: Seconds for one formula's proof (past it: random points only).
        progress: Called with one line of text per formula (the CLI prints it on stderr).
    """
    report = Report()
    claims = claims_of(writeup)
    start = time.monotonic()
    for k, (section, claim) in enumerate(claims, 1):
        left = time_limit - (time.monotonic() - start)
        if left <= 0:
            report.stopped = True
        out = check_claim(d, section, claim, min(proof_limit, max(left, 0.0)))
        report.outcomes.append(out)
        if progress:
            progress(f"[{k}/{len(claims)}] {section}: {claim.lhs} ... "
                     + (f"ok ({out.method})" if out.ok else "FAILED"))
        if not out.ok:
            break
    return report
