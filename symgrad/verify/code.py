"""Students' code, function by function, against the derivation.

A submission written to a course interface (a profile) is run in the sandbox
at random points away from kinks and at points on the kinks; each function's
results are compared in this process with the derivation's values. Per
function: correct, wrong (a counterexample and, where the mistake catalogue
explains it, the diagnosis), crashed (the exception or what killed it) or
missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import profiles
from ..errors import SymgradError
from ..escape import one_line
from ..evaluate import EvalContext
from ..points import close as _close
from ..profiles.plan import Plan
from . import env as envmod
from .answer import diagnose
from .mistakes import MESSAGES
from .sandbox import Limits, Sandbox

POINTS = 12


def make_plan(d, profile: str, points: int = POINTS, seed: int = 0) -> Plan:
    """The calls and expectations of course ``profile`` for the spec's derivation ``d``."""
    return profiles.get(profile).make_plan(d, points, seed)


def profile_functions(d, profile: str) -> list[str]:
    """The interface functions a report covers, in order."""
    return make_plan(d, profile, points=1).functions


@dataclass
class FunctionResult:
    name: str
    status: str                      # correct | wrong | crashed | missing
    message: str = ""
    counterexample: dict | None = None
    diagnosis: list = field(default_factory=list)
    calls_not_correct: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {"function": self.name, "verdict": self.status, "message": self.message,
                "counterexample": self.counterexample, "diagnosis": self.diagnosis,
                "calls_not_correct": self.calls_not_correct}


@dataclass
class CodeReport:
    submission: str
    profile: str
    functions: list

    @property
    def exit_status(self) -> int:
        return 0 if all(f.status == "correct" for f in self.functions) else 1

    def counts(self) -> dict:
        out = {"correct": 0, "wrong": 0, "crashed": 0, "missing": 0}
        for f in self.functions:
            out[f.status] += 1
        return out

    def as_json(self) -> dict:
        return {"submission": self.submission, "profile": self.profile, "summary": self.counts(),
                "functions": [f.as_json() for f in self.functions]}


class Checker:
    """One profile's plan for one spec, and the sandbox that runs submissions against it.

    Built once and used for any number of submissions (``symgrad grade``
    keeps one per worker); a context manager, closing the sandbox.
    """

    def __init__(self, spec, profile: str, *, time_limit: float = 10.0, memory_mb: int = 1024,
                 points: int = POINTS, seed: int = 0, limits: Limits | None = None, hide: tuple = (), plan=None,
                 packages: tuple = ()):
        self.profile = profile
        self.plan = plan or make_plan(envmod.load_derivation(spec), profile, points, seed)
        need_packages(profile, self.plan.packages)
        self.limits = limits or Limits(wall_seconds=time_limit, cpu_seconds=max(1, int(time_limit)),
                                       memory_bytes=int(memory_mb) << 20)
        self.hide = tuple(hide)
        self.packages = tuple(packages)   # importable besides the profile's (symgrad.verify.jail.allowed_packages)
        self.sandbox = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None

    def check(self, path) -> CodeReport:
        """Run a submission (a .py file, a folder, or a notebook as text) and judge every function."""
        path = Path(path)
        if not path.exists():
            raise SymgradError(f"{path}: no such file or folder")
        if self.sandbox is None:
            plan = self.plan
            self.sandbox = Sandbox(plan.calls, plan.arrays, self.limits, plan.trace,
                                   self.hide + (path.resolve().parent,), plan.torch,
                                   tuple(plan.packages) + self.packages,   # the course's list, then the instructor's
                                   entry=plan.entry)
        if path.is_file() and path.suffix in NOTEBOOK_SUFFIXES:
            import tempfile
            import time
            code = read_notebook(path, deadline=time.monotonic() + self.limits.wall_seconds)
            with tempfile.TemporaryDirectory() as tmp:
                extracted = Path(tmp) / "solution.py"
                extracted.write_text(code)
                run = self.sandbox.run(extracted)
        else:
            run = self.sandbox.run(path)
        results = [_judge(name, [c for c in self.plan.cases if c.function == name], run, self.plan.rtol)
                   for name in self.plan.functions]
        _blame_callees(results, run, self.plan.uses)
        return CodeReport(str(path), self.profile, results)


def check_file(spec, path, profile: str, **options) -> CodeReport:
    """Run one submission and judge every function of the profile (options: see :class:`Checker`)."""
    if not Path(path).exists():
        raise SymgradError(f"{path}: no such file or folder")
    with Checker(spec, profile, **options) as checker:
        return checker.check(path)


def need_packages(profile: str, packages) -> None:
    """SymgradError naming the first of the course's packages that is not installed here."""
    import importlib.util
    for name in packages:
        if importlib.util.find_spec(name) is None:
            raise SymgradError(f"the {profile} profile needs {name} to grade a submission, and {name} is not "
                               f"installed here (pip install {name})")


def _blame_callees(results, run, uses=None) -> None:
    """Say which of the other interface functions a wrong one calls (traced in the
    sandbox, or built on by the plan: a graph's node classes) that are wrong themselves."""
    status = {r.name: r.status for r in results}
    for r in results:
        if r.status == "correct":
            continue
        called = set(run.calls.get(r.name, ())) | set((uses or {}).get(r.name, ()))
        bad = sorted(c for c in called if status.get(c, "correct") != "correct")
        r.calls_not_correct = bad
        if bad:
            r.message += f"; it calls {', '.join(bad)}, which {'is' if len(bad) == 1 else 'are'} not correct"


def _fmt(v):
    a = np.asarray(v, dtype=float)
    return a.tolist() if a.ndim else float(a)


def _missing(name: str, error: str) -> bool:
    """The error says that this function (or its class) is not defined."""
    if "LookupError" not in error or "is not defined" not in error:
        return False
    undefined = error.split("LookupError: ", 1)[1].split(" is not defined")[0]
    return name == undefined or name.startswith(undefined + ".")


def _got(run, case, key):
    got = run.values[f"{case.cid}.{key}" if key else case.cid]
    want = case.want[key]
    if got.shape != np.shape(want) and got.size == np.size(want) and np.ndim(want) <= 1:
        got = got.reshape(np.shape(want))  # a column vector for a vector is not a mistake here
    if case.as_set:
        got = np.sort(got)
    return got


def _judge(name: str, cases: list, run, rtol: float) -> FunctionResult:
    if not cases:
        return FunctionResult(name, "missing", "no test input exercises it")
    errors = []
    for c in cases:
        if not all((f"{c.cid}.{k}" if k else c.cid) in run.values for k in c.want):
            errors.append((c, run.errors.get(c.cid, "it returned nothing")))
    if errors and len(errors) == len(cases) and all(_missing(name, e) for _, e in errors):
        return FunctionResult(name, "missing", f"{name} is not defined in the submission")
    if errors:
        first, text = errors[0]
        return FunctionResult(name, "crashed", f"{text} (in {len(errors)} of {len(cases)} calls; first at {first.cid})")
    wrong = []
    for c in cases:
        for key in c.want:
            if not _close(_got(run, c, key), c.want[key], rtol):
                wrong.append((c, key))
                break
    if not wrong:
        return FunctionResult(name, "correct", f"matches at all {len(cases)} test inputs")
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
    """Why: a kink convention, gradients assigned instead of added, or a catalogued mistake."""
    if all(c.on_kink for c, _ in wrong) and cases[0].kind in ("activation", "gradient"):
        return _mistake("kink_convention")
    if all(c.baseline for c, _ in wrong) and all(_assigned(run, c, rtol) for c, _ in wrong):
        return _mistake("not_accumulated")
    if cases[0].kind != "gradient":
        return []
    plain = [(c, k) for c, k in wrong if not c.baseline and not c.on_kink]   # a plain call at a smooth point
    if not plain or plain[0][0].derivation is None:
        return []
    case, key = plain[0]
    usable = [c for c in cases if not c.baseline and not c.on_kink and c.derivation is not None]
    values = [_got(run, c, key) for c in usable]
    try:
        return diagnose(case.derivation, case.wrt[key], values, [c.point for c in usable],
                        EvalContext(envmod.test_sizes(case.derivation)), rtol=rtol)
    except StopIteration:
        return []


def _short(value) -> str:
    """A value for the terminal: 6 significant digits, long arrays elided (JSON keeps them whole)."""
    text = np.array2string(np.asarray(value, dtype=float), precision=6, separator=", ", threshold=12,
                           edgeitems=2, floatmode="maxprec")
    return " ".join(text.split())


def print_report(report: CodeReport) -> None:
    """The report on a terminal. A submission wrote its file name and its messages
    (an exception's text), so they go through :func:`symgrad.escape.one_line`: an
    escape sequence in them cannot redraw the counts above."""
    print(f"{one_line(report.submission)} ({report.profile}): "
          + ", ".join(f"{v} {k}" for k, v in report.counts().items()))
    width = max([22] + [len(f.name) for f in report.functions])
    for f in report.functions:
        print(f"  {one_line(f.name):<{width}} {f.status:<8} {one_line(f.message)}")
        if f.counterexample:
            ce = f.counterexample
            print("      at " + ", ".join(f"{one_line(k)} = {_short(v)}" for k, v in ce["inputs"].items()))
            if ce.get("setting"):
                print(f"      ({one_line(ce['setting'])})")
            key = f" [{ce['key']}]" if "key" in ce else ""
            print(f"      expected{key} {_short(ce['expected'])}")
            print(f"      got{key}      {_short(ce['got'])}")
        for item in f.diagnosis:
            print(f"      diagnosis [{item['mistake']}]: {one_line(item['message'])}")


NOTEBOOK_SUFFIXES = (".txt", ".md")
#: A notebook exported as text is read whole and parsed here, in the grader's
#: process, before any sandbox: larger ones are refused.
MAX_NOTEBOOK_BYTES = 4 << 20


def read_notebook(path, deadline: float | None = None) -> str:
    """The function definitions of a notebook file (see :func:`notebook_functions`),
    refused when the file is larger than :data:`MAX_NOTEBOOK_BYTES`."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SymgradError(f"{one_line(str(path), 200)}: notebook is {size} bytes; the limit is {MAX_NOTEBOOK_BYTES}")
    return notebook_functions(path.read_text(errors="replace"), deadline=deadline, source=str(path))


def _segment(lines: list, node) -> str:
    """The source of a top-level statement, from lines split once per block
    (``ast.get_source_segment`` splits the whole block again on every call:
    quadratic in the number of definitions). Offsets are in UTF-8 bytes."""
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset:node.end_col_offset].decode(errors="replace")
    head = lines[first].encode()[node.col_offset:].decode(errors="replace")
    tail = lines[last].encode()[:node.end_col_offset].decode(errors="replace")
    return "\n".join([head] + lines[first + 1:last] + [tail])


def notebook_functions(text: str, deadline: float | None = None, source: str = "notebook") -> str:
    """The function definitions (and numpy imports) of a notebook exported as text.

    Code blocks are the fenced ``` sections. Each is parsed with :mod:`ast`
    (never run here); top-level ``def`` statements and ``import numpy``
    statements are kept, demonstration code at the top level is dropped, as
    a notebook autograder extracts solution cells. Blocks that do not parse
    (or nest too deeply for the parser) are skipped. Linear in the text;
    past ``deadline`` (a ``time.monotonic()`` value: the submission's time
    limit covers its extraction too) it stops with a SymgradError.
    """
    import ast
    import time

    def in_time():
        if deadline is not None and time.monotonic() > deadline:
            raise SymgradError(f"{one_line(source, 200)}: extracting the notebook's functions took longer "
                               "than the time limit")

    blocks, inside, current = [], False, []
    for line in text.splitlines():   # every line break Python's parser knows, and more: blocks hold only \n
        if line.strip().startswith("```"):
            if inside:
                blocks.append(current)
                current = []
            inside = not inside
            continue
        if inside:
            current.append(line)
    kept = []
    for lines in blocks:
        in_time()
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError):   # NUL bytes, nesting: not code
            continue
        for node in tree.body:
            numpy_import = isinstance(node, ast.Import) and all(a.name == "numpy" for a in node.names) or \
                isinstance(node, ast.ImportFrom) and node.module == "numpy"
            if isinstance(node, ast.FunctionDef) or numpy_import:
                kept.append(_segment(lines, node))
    in_time()
    return "\n\n".join(kept) + "\n"
