"""One submission's run, judged function by function against the plan's cases.

Verdicts, in the order a student needs them:

* ``correct``: every case the course requires matches;
* ``not implemented``: the function is a stub (its body only ``pass``, ``...``,
  a docstring, ``return None`` or ``raise NotImplementedError``), raised
  NotImplementedError, or returned None;
* ``not judged``: it failed only because another interface function it runs
  after (or calls) crashed or is not implemented; the report says which;
* ``crashed``: its own code raised, or the process died in it (the student's
  own traceback lines, never the harness's, are kept);
* ``wrong``: a counterexample and, where the mistake catalogue explains it, a
  diagnosis;
* ``missing``: not defined;
* ``grader error``: judging it failed inside symgrad; a short id names the
  failure (the same bug has the same id in every report) and its traceback goes
  to the instructor's log. The other functions are judged as usual.

Cases marked ``strict`` check more than the course requires (gradients added
with ``+=``): they decide the verdict only with ``strict``; otherwise a failure
is a note.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..evaluate import EvalContext
from ..points import close as _close
from . import env as envmod
from .answer import diagnose
from .mistakes import MESSAGES

STATUSES = ("correct", "wrong", "crashed", "missing", "not implemented", "not judged", "grader error")
TRACE_MARK = "\x1etraceback\x1e\n"    # the runner appends the submission's own frames after it
_FAILED = ("crashed", "not implemented", "missing", "grader error")
_LOG_LOCK = threading.Lock()
log = logging.getLogger("symgrad.grader")


@dataclass
class FunctionResult:
    name: str
    status: str                      # one of STATUSES
    message: str = ""
    counterexample: dict | None = None
    diagnosis: list = field(default_factory=list)
    calls_not_correct: list = field(default_factory=list)
    notes: list = field(default_factory=list)        # [{"note", "mistake"?}]: beyond the course's contract
    traceback: list = field(default_factory=list)    # the submission's own frames of the first error
    error_id: str = ""                               # a grader error's id

    def as_json(self) -> dict:
        out = {"function": self.name, "verdict": self.status, "message": self.message,
               "counterexample": self.counterexample, "diagnosis": self.diagnosis,
               "calls_not_correct": self.calls_not_correct, "notes": self.notes, "traceback": self.traceback}
        if self.error_id:
            out["error_id"] = self.error_id
        return out


def split_error(text: str) -> tuple[str, list]:
    """(message, the submission's traceback lines) of a call's error text."""
    message, mark, trace = text.rpartition(TRACE_MARK) if TRACE_MARK in text else (text, "", "")
    return message[:500], [line[:240] for line in trace.splitlines() if line.strip()][-24:]


def grader_error(name: str, exc: BaseException, error_log=None) -> FunctionResult:
    """A per-function "grader error": a short id stable across submissions, the traceback logged."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else "?"
    error_id = hashlib.sha1(f"{name}|{type(exc).__name__}|{where}".encode()).hexdigest()[:8]
    text = f"grader error {error_id} judging {name}:\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    with _LOG_LOCK:
        try:
            if error_log is None:
                raise OSError
            fd = os.open(error_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "a") as fh:
                fh.write(text + "\n")
        except OSError:
            print(text, file=sys.stderr)
    return FunctionResult(name, "grader error", f"symgrad failed judging this function (grader error {error_id}; "
                                                "the instructor's log has the details); the other functions are "
                                                "judged as usual", error_id=error_id)


def judge_run(plan, run, *, strict: bool = False, stubs: dict | None = None, error_log=None) -> list:
    """Every interface function of the plan judged on one run; no step's failure loses another's verdict."""
    stubs = stubs or {}
    results = []
    for name in plan.functions:
        cases = [c for c in plan.cases if c.function == name]
        try:
            results.append(judge(name, cases, run, plan.rtol, strict=strict, stub=stubs.get(name)))
        except Exception as exc:  # noqa: BLE001 - a grader bug costs one line, never the report
            results.append(grader_error(name, exc, error_log))
    for step in (_not_judged, _blame_callees):
        for r in results:
            if step is _not_judged and stubs.get(r.name):
                continue     # a stub is "not implemented" whatever else fails
            try:
                step(r, results, run, plan)
            except Exception as exc:  # noqa: BLE001
                results[results.index(r)] = grader_error(r.name, exc, error_log)
    return results


def _missing(name: str, error: str) -> bool:
    """The error says that this function (or its class) is not defined."""
    if "LookupError" not in error or "is not defined" not in error:
        return False
    undefined = error.split("LookupError: ", 1)[1].split(" is not defined")[0]
    return name == undefined or name.startswith(undefined + ".")


def _not_implemented(error: str) -> str | None:
    """Why an error says the function itself is not written yet, or None."""
    if error.startswith("NotImplementedError"):
        return "it raises NotImplementedError"
    if error.startswith("TypeError: returned NoneType"):
        return "it returns None"
    return None


def _got(run, case, key):
    got = run.values[f"{case.cid}.{key}" if key else case.cid]
    want = case.want[key]
    if got.shape != np.shape(want) and got.size == np.size(want) and np.ndim(want) <= 1:
        got = got.reshape(np.shape(want))  # a column vector for a vector is not a mistake here
    if case.as_set:
        got = np.sort(got)
    return got


def _fmt(v):
    a = np.asarray(v, dtype=float)
    return a.tolist() if a.ndim else float(a)


def _errors(cases, run) -> list:
    out = []
    for c in cases:
        if not all((f"{c.cid}.{k}" if k else c.cid) in run.values for k in c.want):
            out.append((c, run.errors.get(c.cid, "it returned nothing")))
    return out


def _wrong(cases, run, rtol) -> list:
    out = []
    for c in cases:
        for key in c.want:
            if not _close(_got(run, c, key), c.want[key], rtol):
                out.append((c, key))
                break
    return out


def judge(name: str, cases: list, run, rtol: float, *, strict: bool = False, stub: str | None = None):
    """One function's verdict from its cases (strict ones count only with ``strict``)."""
    if not cases:
        return FunctionResult(name, "missing", "no test input exercises it")
    extra = [c for c in cases if c.strict and not strict]
    cases = [c for c in cases if not c.strict or strict]
    errors = _errors(cases, run)
    if errors and len(errors) == len(cases) and all(_missing(name, e) for _, e in errors):
        return FunctionResult(name, "missing", f"{name} is not defined in the submission")
    if stub and (errors or _wrong(cases, run, rtol)):
        return FunctionResult(name, "not implemented", f"not implemented: {stub}")
    if errors:
        first, text = errors[0]
        message, trace = split_error(text)
        why = _not_implemented(message)
        if why and all(_not_implemented(split_error(e)[0]) for _, e in errors):
            return FunctionResult(name, "not implemented", f"not implemented: {why}")
        return FunctionResult(name, "crashed", f"{message} (in {len(errors)} of {len(cases)} calls; first at "
                                               f"{first.cid})", traceback=trace)
    wrong = _wrong(cases, run, rtol)
    result = FunctionResult(name, "correct", f"matches at all {len(cases)} test inputs") if not wrong else \
        _wrong_result(name, cases, wrong, run, rtol)
    if extra:
        result.notes += _strict_notes(extra, run, rtol)
    return result


def _wrong_result(name, cases, wrong, run, rtol) -> FunctionResult:
    case, key = wrong[0]
    ce = {"inputs": {n: _fmt(v) for n, v in case.shown.items()}, "expected": _fmt(case.want[key]),
          "got": _fmt(_got(run, case, key))}
    if key:
        ce["key"] = key
    if case.setting:
        ce["setting"] = case.setting
    result = FunctionResult(name, "wrong", f"differs at {len(wrong)} of {len(cases)} test inputs", ce)
    result.diagnosis = _diagnosis(cases, wrong, run, rtol)
    if all(c.on_kink for c, _ in wrong) and result.diagnosis and result.diagnosis[0]["mistake"] == "kink_convention":
        where = f"the kink x = {ce['inputs']['x']:g}" if case.kind == "activation" else \
            "inputs that put a ReLU exactly on its kink"
        result.message += f" (only at {where})"
    return result


def _strict_notes(extra, run, rtol) -> list:
    """Notes for the cases beyond the course's contract that fail (they count only with --strict)."""
    errors = _errors(extra, run)
    wrong = [] if errors else _wrong(extra, run, rtol)
    if not errors and not wrong:
        return []
    setting = extra[0].setting or "a stricter check"
    if errors:
        return [{"note": f"{setting}: {split_error(errors[0][1])[0]} (the course does not require this; "
                         "it counts with --strict)"}]
    if all(c.baseline for c, _ in wrong) and all(_assigned(run, c, rtol) for c, _ in wrong):
        return [{"note": f"{setting}: {MESSAGES['not_accumulated']} The course does not require this; it "
                         "counts with --strict.", "mistake": "not_accumulated"}]
    return [{"note": f"{setting}: the values differ (the course does not require this; it counts with --strict)"}]


def _assigned(run, case, rtol) -> bool:
    """Every wrong value of the case is what it should add, as if assigned over what was there."""
    outcomes = []
    for key, want in case.want.items():
        got = _got(run, case, key)
        if _close(got, want, rtol):
            continue
        outcomes.append(key in case.baseline and _close(got, want - case.baseline[key], rtol))
    return bool(outcomes) and all(outcomes)


def _mistake(mid: str) -> list:
    return [{"mistake": mid, "message": MESSAGES[mid]}]


def _diagnosis(cases, wrong, run, rtol) -> list:
    """Why: a kink convention, gradients assigned instead of added, or a catalogued mistake.
    Only gradients are diagnosed (a wrong loss value next to them is a counterexample only)."""
    if all(c.on_kink for c, _ in wrong) and cases[0].kind in ("activation", "gradient"):
        return _mistake("kink_convention")
    if all(c.baseline for c, _ in wrong) and all(_assigned(run, c, rtol) for c, _ in wrong):
        return _mistake("not_accumulated")
    if cases[0].kind != "gradient":
        return []
    plain = [(c, k) for c, k in wrong if not c.baseline and not c.on_kink and k in c.wrt]   # a plain call, smooth
    if not plain or plain[0][0].derivation is None:
        return []
    case, key = plain[0]
    usable = [c for c in cases if not c.baseline and not c.on_kink and c.derivation is not None and key in c.wrt]
    values = [_got(run, c, key) for c in usable]
    try:
        return diagnose(case.derivation, case.wrt[key], values, [c.point for c in usable],
                        EvalContext(envmod.test_sizes(case.derivation)), rtol=rtol)
    except StopIteration:
        return []


def _prefix(error: str) -> str | None:
    """The interface function an error happened in, when the runner named one ("in MLP.forward: ...")."""
    if error.startswith("in ") and ": " in error:
        return error[3:].split(": ", 1)[0]
    return None


def _raised_in(text: str) -> str | None:
    """The submission's function whose own frame raised (the innermost of its frames), or None."""
    frames = [line for line in split_error(text)[1] if line.startswith("  File ")]
    return frames[-1].rpartition(" in ")[2] if frames else None


def _not_judged(r, results, run, plan) -> None:
    """A crash, or a NotImplementedError raised inside another function it calls (skipgram
    given a stub loss), that is another function's failure: that function named, "not judged"."""
    status = {x.name: x.status for x in results}
    cases = [c for c in plan.cases if c.function == r.name and c.cid in run.errors]
    if r.status == "not implemented":
        own = r.name.rpartition(".")[2]
        if not cases or any(_raised_in(run.errors[c.cid]) in (own, None) for c in cases):
            return
    elif r.status != "crashed":
        return
    owners = {_prefix(split_error(run.errors[c.cid])[0]) for c in cases}
    blamed = next(iter(owners)) if len(owners) == 1 else None
    if blamed not in status or blamed == r.name or status[blamed] not in _FAILED:
        before = [g for c in cases for g in c.after if status.get(g) in _FAILED]
        blamed = before[0] if before else None
    if blamed is not None:
        r.status = "not judged"
        r.message = f"not judged: {blamed} {status[blamed]}"
        r.traceback = []


def _blame_callees(r, results, run, plan) -> None:
    """Say which of the other interface functions a wrong one calls (traced in the
    sandbox, or built on by the plan: a graph's node classes) that are wrong themselves."""
    if r.status in ("correct", "not judged", "grader error"):
        return
    status = {x.name: x.status for x in results}
    called = set(run.calls.get(r.name, ())) | set((plan.uses or {}).get(r.name, ()))
    bad = sorted(c for c in called if status.get(c, "correct") != "correct")
    r.calls_not_correct = bad
    if bad:
        r.message += f"; it calls {', '.join(bad)}, which {'is' if len(bad) == 1 else 'are'} not correct"
