"""Is this formula for dL/d<name> right? Parse, shape, equality, counterexample, diagnosis.

The verdict comes in the order a student needs it: does the answer parse
(:class:`~symgrad.errors.ParseError` names the token and column); does it have
the right shape; is it equal to the true adjoint -- first numerically at many
random points away from kinks, then at points placed on the kinks, then, in a
child process under a time limit, proven entry by entry with sympy at the
small test sizes; if not, a counterexample and the catalogued mistakes whose
variant the answer equals at every test point.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from ..derive import Derivation
from ..errors import ShapeError, SymgradError
from ..evaluate import EvalContext, evaluate
from ..points import RTOL, Point, close, finite, is_zero, kink_points, random_points, symbolic_leaves
from ..ir import Expr, as_sympy, show_shape
from . import env as envmod
from .mistakes import MESSAGES, semi_expanded, variants

POINTS = 24
TIME_LIMIT = 10.0


class AnswerError(SymgradError):
    """The answer cannot be used (it does not parse, or names nothing known)."""


@dataclass
class Verdict:
    """The outcome of verifying one answer; ``as_json`` has the documented fields."""

    verdict: str                 # correct | incorrect | undetermined | unusable
    method: str | None = None    # symbolic | numeric
    expected_shape: str | None = None
    answer_shape: str | None = None
    counterexample: dict | None = None
    diagnosis: list = field(default_factory=list)
    message: str = ""
    read_as: str | None = None   # the answer in the expression language, as it was read

    @property
    def exit_status(self) -> int:
        return {"correct": 0, "incorrect": 1}.get(self.verdict, 2)

    def as_json(self) -> dict:
        return {"read_as": self.read_as, "verdict": self.verdict, "method": self.method,
                "expected_shape": self.expected_shape, "answer_shape": self.answer_shape,
                "counterexample": self.counterexample,
                "diagnosis": self.diagnosis, "message": self.message}


def _listed(a):
    a = np.asarray(a, dtype=float)
    return a.tolist() if a.ndim else float(a)


def counterexample(d: Derivation, point: Point, expected, got) -> dict:
    return {"inputs": {k: _listed(v) for k, v in point.leaves(d).items()},
            "expected": _listed(expected), "got": _listed(got)}


def diagnose(d: Derivation, name: str, answer_values: list, points: list, ctx, rtol: float = RTOL) -> list[dict]:
    """Catalogued mistakes whose variant equals the answer at every point."""
    found: list[str] = []
    shape = next(a.shape for a in answer_values if a is not None)
    base, index = split_wrt(name)
    for v in variants(d, base):
        if v.mistake in found:
            continue
        expr = v.expr if index is None else _entry_or_none(v.expr, index)
        if expr is None or tuple(ctx.shape(expr.shape)) != tuple(shape):
            continue
        if all(a is None or close(a, envmod.value_of(expr, p, ctx), rtol) for a, p in zip(answer_values, points)):
            found += [m for m in v.mistake.split("+") if m not in found]
    if not found:
        found = ["unknown"]
    return [{"mistake": m, "message": MESSAGES[m]} for m in found]


def _symbolic_equal(d: Derivation, truth: Expr, answer: Expr, sizes: dict, conn) -> None:
    """Child process: prove answer == truth entry by entry; sends True / False, or
    None when sympy itself fails (an overflow deep in evalf): undecided, and no
    traceback of the child's on the user's terminal."""
    try:
        _prove(d, truth, answer, sizes, conn)
    except BaseException:  # noqa: BLE001 - any failure of sympy's means "not decided"
        conn.send(None)


def _prove(d: Derivation, truth_expr: Expr, answer: Expr, sizes: dict, conn) -> None:
    ctx = EvalContext(sizes, symbolic=True)
    values = d.values(with_kinds(d, symbolic_leaves(d, ctx)), ctx)
    truth = np.asarray(evaluate(truth_expr, values, ctx), dtype=object)
    got = np.asarray(evaluate(answer, values, ctx), dtype=object)
    ok = truth.shape == got.shape and all(is_zero(as_sympy(t) - as_sympy(g))
                                          for t, g in zip(truth.ravel(), got.ravel()))
    conn.send(bool(ok))


def with_kinds(d: Derivation, leaves: dict) -> dict:
    """Symbolic leaves under their inputs' kinds: the last entry of each row of a
    onehot or simplex input is 1 minus the others (its rows sum to 1)."""
    for name, kind in d.spec.kinds.items():
        a = leaves.get(name)
        if kind.kind in ("onehot", "simplex") and a is not None and a.ndim >= 1:
            a = a.copy()
            for idx in np.ndindex(*a.shape[:-1]):
                a[idx + (-1,)] = 1 - sum(a[idx + (slice(None, -1),)])
            leaves[name] = a
    return leaves


def prove_equal(d: Derivation, name: str, answer: Expr, sizes: dict, time_limit: float) -> bool | None:
    """True / False when sympy decides within the time limit, None otherwise."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_symbolic_equal, args=(d, truth_of(d, name), answer, sizes, child), daemon=True)
    proc.start()
    child.close()
    try:
        if parent.poll(max(time_limit, 0.0)):
            return parent.recv()
        return None
    except EOFError:
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1)


def verify_expr(d: Derivation, name: str, answer: Expr, *, time_limit: float = TIME_LIMIT,
                seed: int = 0, points: int = POINTS) -> Verdict:
    """Compare an answer (IR) with the adjoint of ``name``."""
    start = time.monotonic()
    expected_shape = wrt_shape(d, name)
    out = Verdict("incorrect", expected_shape=show_shape(expected_shape), answer_shape=show_shape(answer.shape))
    truth = truth_of(d, name)
    pts, ctx = random_points(d, points, seed)
    got = [envmod.value_of(answer, p, ctx) for p in pts]
    want = [envmod.value_of(truth, p, ctx) for p in pts]
    if tuple(answer.shape) != expected_shape:
        out.message = (f"the answer has shape {show_shape(answer.shape)} but dL/d{name} has the shape of "
                       f"{name}, {show_shape(expected_shape) if expected_shape else 'a scalar'}")
        out.method = "numeric"
        out.counterexample = counterexample(d, pts[0], want[0], got[0])
        out.diagnosis = _diagnose_reshaped(d, name, got, want, pts, ctx)
        return out
    usable = [i for i in range(len(pts)) if finite(got[i]) and finite(want[i])]
    bad = [i for i in usable if not close(got[i], want[i])]
    if bad:
        i = bad[0]
        out.method = "numeric"
        out.counterexample = counterexample(d, pts[i], want[i], got[i])
        out.diagnosis = diagnose(d, name, got, pts, ctx)
        out.message = (f"the answer differs from dL/d{name} at {len(bad)} of {len(usable)} random points "
                       f"(sizes {_sizes(ctx)})")
        for label in rows_sum_to_one(d, answer, truth, pts, ctx):
            out.message += (f"; it is equal when each row of {label} sums to 1: declare {label} as onehot or "
                            f"simplex ({label} = {{ shape = [...], kind = \"onehot\" }})")
        return out
    kinks = kink_points(d, ctx)
    for p in kinks:
        g, w = envmod.value_of(answer, p, ctx), envmod.value_of(truth, p, ctx)
        if finite(g) and finite(w) and not close(g, w):
            out.method = "numeric"
            out.counterexample = counterexample(d, p, w, g)
            out.diagnosis = [{"mistake": "kink_convention", "message": MESSAGES["kink_convention"]}]
            out.message = (f"the answer equals dL/d{name} away from kinks but differs where an activation "
                           "sits exactly on its kink")
            return out
    proven = prove_equal(d, name, answer, ctx.sizes, time_limit - (time.monotonic() - start))
    if proven:
        out.verdict, out.method = "correct", "symbolic"
        out.message = f"proven equal to dL/d{name} entry by entry at sizes {_sizes(ctx)}"
        return out
    if len(usable) < max(3, len(pts) // 2):
        out.verdict, out.method = "undetermined", None
        out.message = ("the values are not finite at most test points and sympy did not decide within "
                       f"{time_limit:g} s")
        return out
    out.verdict, out.method = "correct", "numeric"
    why = "sympy could not simplify the difference to 0" if proven is False else \
        f"sympy did not decide within {time_limit:g} s"
    out.message = (f"equal to dL/d{name} at {len(usable)} random points and {len(kinks)} kink points "
                   f"(sizes {_sizes(ctx)}); {why}")
    return out


def _diagnose_reshaped(d: Derivation, name: str, got: list, want: list, pts: list, ctx) -> list[dict]:
    """The mistakes of an answer of another shape. As it is first (a transposed column is
    ``layout_transposed``); when nothing is named and the shapes differ only by dimensions of size 1
    ((D, 1) for (D,)), its values are judged in the gradient's shape: a right answer written as a
    column is ``shape_only``, a wrong one still gets its mistake."""
    def squeezed(a):
        return tuple(n for n in np.shape(a) if n != 1)
    as_given = diagnose(d, name, got, pts, ctx)   # a transposed column is layout_transposed, said first
    if as_given[0]["mistake"] != "unknown" or \
            not all(g is not None and squeezed(g) == squeezed(w) for g, w in zip(got, want)):
        return as_given
    flat = [np.reshape(g, np.shape(w)) for g, w in zip(got, want)]
    pairs = [(f, w) for f, w in zip(flat, want) if finite(f) and finite(w)]
    if pairs and all(close(f, w) for f, w in pairs):
        return [{"mistake": "shape_only", "message": MESSAGES["shape_only"]}]
    return diagnose(d, name, flat, pts, ctx)


def rows_sum_to_one(d: Derivation, answer: Expr, truth: Expr, pts: list, ctx) -> list[str]:
    """Inputs of real kind under which the answer would be right were their rows
    on the simplex: the answer assumes a domain the spec does not state."""
    from ..points import draw_kind
    from ..kinds import InputKind
    out = []
    rng = np.random.default_rng(7)
    for label, var in d.graph.inputs.items():
        if d.spec.kinds.get(label, InputKind()).kind != "real" or not var.shape:
            continue
        ok = True
        for p in pts[:6]:
            leaves = p.leaves(d)
            leaves[label] = draw_kind(rng, ctx.shape(var.shape), InputKind("simplex"), ctx)
            with np.errstate(all="ignore"):
                q = Point(d.values(leaves, ctx))
            if not close(envmod.value_of(answer, q, ctx), envmod.value_of(truth, q, ctx)):
                ok = False
                break
        if ok:
            out.append(label)
    return out


def _sizes(ctx) -> str:
    return ", ".join(f"{k}={v}" for k, v in ctx.sizes.items()) or "as declared"


def check_wrt(d: Derivation, name: str) -> None:
    """Raise AnswerError unless ``name`` has a gradient: a parameter or node, or one entry of one
    (``W1[0,2]``, sizes fixed)."""
    from .entries import EntryError, check_index
    base, index = split_wrt(name)
    if base not in d.contributions:
        known = ", ".join(list(d.graph.params) + [t for t in d.order if t not in d.graph.params])
        raise AnswerError(f"--wrt {name!r}: not a parameter or node with a gradient (or an entry of one, "
                          f"e.g. W1[0,2]); choose one of {known}")
    if index is not None:
        try:
            check_index(base, tuple(d.graph.variables()[base].shape), index)
        except EntryError as exc:
            raise AnswerError(f"--wrt {exc}") from None


def split_wrt(name: str) -> tuple[str, tuple | None]:
    """``"W1[0,2]"`` -> ("W1", (0, 2)); ``"W1"`` -> ("W1", None)."""
    from .entries import read_entry
    entry = read_entry(name)
    return (name, None) if entry is None else entry


def wrt_shape(d: Derivation, name: str) -> tuple:
    """The shape of dL/d``name``: the variable's, or () for one entry."""
    base, index = split_wrt(name)
    return () if index is not None else tuple(d.graph.variables()[base].shape)


def truth_of(d: Derivation, name: str) -> Expr:
    """dL/d``name`` as IR: the adjoint, or its entry (:func:`symgrad.verify.entries.entry_of`)."""
    from .entries import entry_of
    base, index = split_wrt(name)
    return d.adjoint_var(base) if index is None else entry_of(d.adjoint_var(base), index)


def _entry_or_none(e: Expr, index: tuple):
    from .entries import entry_of
    try:
        return entry_of(e, index) if e.ndim == len(index) else None
    except SymgradError:
        return None


def verify_tree(d: Derivation, name: str, tree, **kw) -> Verdict:
    """Lower a parse tree (from the expression parser or the LaTeX reader) and verify it."""
    check_wrt(d, name)
    try:
        answer = envmod.lower_answer(d, tree)
    except ShapeError as exc:
        out = Verdict("incorrect", method=None, expected_shape=show_shape(wrt_shape(d, name)),
                      diagnosis=[{"mistake": "unknown", "message": MESSAGES["unknown"]}],
                      message=f"the answer's own shapes do not fit: {exc.message}")
        from .treetext import read_as
        out.read_as = read_as(tree)
        return _repaired(d, name, tree, out, kw.get("seed", 0))
    out = verify_expr(d, name, answer, **kw)
    if out.verdict == "incorrect" and [m["mistake"] for m in out.diagnosis] == ["unknown"]:
        out = _repaired(d, name, tree, out, kw.get("seed", 0))
    from ..parse import Name, walk
    from .treetext import read_as
    # entries (W2[0,1]) read back as written, not as the slices they lower to
    entries = any(isinstance(n, Name) and "[" in n.id for n in walk(tree))
    out.read_as = read_as(tree) if entries else _read_as(answer)
    return out


SHOWN_NODES = 400   # an expression whose text would unfold more operations is not written out


def _unfolded(e: Expr, memo: dict) -> int:
    """How many operations ``e`` has written as text (shared subexpressions repeated)."""
    key = id(e)
    if key not in memo:
        memo[key] = 1 + sum(_unfolded(a, memo) for a in getattr(e, "args", ()))
    return memo[key]


def _read_as(answer: Expr) -> str | None:
    """The answer-language text of ``answer``; None when it has none or would be too long."""
    from .exprtext import to_text
    if _unfolded(answer, {}) > SHOWN_NODES:
        return None
    try:
        return to_text(answer)
    except ValueError:
        return None


def _repaired(d: Derivation, name: str, tree, out: Verdict, seed: int) -> Verdict:
    """``out`` with the mistakes named that small edits of the answer undo (:mod:`.repair`)."""
    from .repair import POINTS as REPAIR_POINTS
    from .repair import Search, mean_counts, repairs
    pts, ctx = random_points(d, REPAIR_POINTS, seed)
    truth = truth_of(d, name)
    want_shape = wrt_shape(d, name)
    base, index = split_wrt(name)
    search = Search(want_shape, pts, ctx, [envmod.value_of(truth, p, ctx) for p in pts],
                    lambda t: envmod.lower_answer(d, t), envmod.value_of, mean_counts(d, ctx))
    exprs = [(v.mistake, v.expr if index is None else _entry_or_none(v.expr, index)) for v in variants(d, base)]
    search.variants = [(tuple(m.split("+")), [envmod.value_of(e, p, ctx) for p in pts])
                       for m, e in exprs if e is not None and tuple(e.shape) == want_shape]
    found, gave_up = repairs(search, tree)
    if found:
        out.diagnosis = []
        for mistakes, expr, factor in found[:3]:
            shown = _read_as(expr) or "the edited answer"
            if factor:
                shown = f"{factor} * ({shown})"
            how = "fits; what is still wrong in it is named beside" if factor is None else "fits and is correct"
            also = f" ({', '.join(mistakes)})" if len(mistakes) > 1 and factor is not None else ""
            for m in mistakes:
                if all(item["mistake"] != m for item in out.diagnosis):
                    out.diagnosis.append({"mistake": m, "message": f"{MESSAGES[m]} Repaired{also}: {shown} {how}."})
    elif gave_up:
        out.message += ("; the search for an edit that makes it correct stopped at its bound "
                        f"({_bound()}) without finding one")
    return out


def _bound() -> str:
    from .repair import MAX_CANDIDATES, MAX_SECONDS
    return f"{MAX_CANDIDATES} edited answers or {MAX_SECONDS:g} s"


def verify_answer(spec, name: str, text: str, **kw) -> Verdict:
    """Verify an answer in the spec expression language.

    Raises:
        SymgradError: the answer does not parse or uses unknown names (unusable).
    """
    from .entries import parse_answer
    d = envmod.load_derivation(spec)
    return verify_tree(d, name, parse_answer(text), **kw)


def truth_text(d: Derivation, name: str) -> str:
    from .exprtext import to_text
    return to_text(semi_expanded(d, name))
