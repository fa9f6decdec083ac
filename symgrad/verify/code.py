"""Students' code, function by function, against the derivation.

A submission written to a course interface (a profile) is run in the sandbox
at random points away from kinks and at points on the kinks; each function's
results are compared in this process with the derivation's values. Per
function a verdict (:mod:`.judge`: correct, wrong with a counterexample and a
diagnosis, crashed, missing, not implemented, not judged, grader error), and
for the submission notes (:mod:`.editions`: written for another edition's sizes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import profiles
from ..errors import SymgradError
from ..escape import one_line
from ..profiles.plan import Plan
from ..profiles.staging import staged
from . import env as envmod
from .judge import STATUSES, FunctionResult, judge_run  # noqa: F401  (FunctionResult: the report's rows)
from .sandbox import Limits, Sandbox
from .editions import Editions
from .stubs import stub_functions, submission_source

POINTS = 12


def make_plan(d, profile: str, points: int = POINTS, seed: int = 0) -> Plan:
    """The calls and expectations of course ``profile`` for the spec's derivation ``d``."""
    return profiles.get(profile).make_plan(d, points, seed)


def profile_functions(d, profile: str) -> list[str]:
    """The interface functions a report covers, in order."""
    return make_plan(d, profile, points=1).functions


@dataclass
class CodeReport:
    submission: str
    profile: str
    functions: list
    notes: list = field(default_factory=list)    # about the whole submission (a size mismatch)

    @property
    def exit_status(self) -> int:
        return 0 if all(f.status == "correct" for f in self.functions) else 1

    def counts(self) -> dict:
        out = dict.fromkeys(STATUSES, 0)
        for f in self.functions:
            out[f.status] += 1
        return out

    def as_json(self) -> dict:
        return {"submission": self.submission, "profile": self.profile, "summary": self.counts(),
                "functions": [f.as_json() for f in self.functions], "notes": self.notes}


class Checker:
    """One profile's plan for one spec, and the sandbox that runs submissions against it.

    Built once and used for any number of submissions (``symgrad grade``
    keeps one per worker); a context manager, closing the sandbox.
    """

    def __init__(self, spec, profile: str, *, time_limit: float = 10.0, memory_mb: int = 1024,
                 points: int = POINTS, seed: int = 0, limits: Limits | None = None, hide: tuple = (), plan=None,
                 packages: tuple = (), strict: bool = False, error_log=None, editions: bool = True):
        self.profile = profile
        d = envmod.load_derivation(spec)
        self.plan = plan or make_plan(d, profile, points, seed)
        need_packages(profile, self.plan.packages)
        self.limits = limits or Limits(wall_seconds=time_limit, cpu_seconds=max(1, int(time_limit)),
                                       memory_bytes=int(memory_mb) << 20)
        self.hide = tuple(hide)
        self.packages = tuple(packages)   # importable besides the profile's (symgrad.verify.jail.allowed_packages)
        self.strict = strict              # cases beyond the course's contract count (``--strict``)
        self.error_log = error_log        # where a grader error's traceback goes (stderr when None)
        self.sandbox = None
        self.editions = None
        if editions:   # the course's other editions: a submission written for other sizes is told so
            self.editions = Editions(d, profile, lambda other: Checker(
                other, profile, limits=self.limits, points=points, seed=seed, packages=packages,
                error_log=error_log, editions=False))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
        if self.editions is not None:
            self.editions.close()

    def check(self, path) -> CodeReport:
        """Run a submission (a .py file, a folder, or a notebook as text) and judge every function."""
        path = Path(path)
        if not path.exists():
            raise SymgradError(f"{path}: no such file or folder")
        if self.sandbox is None:
            plan = self.plan
            # the course's packages and preloaded modules, then the instructor's
            self.sandbox = Sandbox(plan.calls, plan.arrays, self.limits, plan.trace,
                                   self.hide + (path.resolve().parent,), plan.torch,
                                   tuple(plan.packages) + tuple(plan.preload) + self.packages)
        if path.is_file() and path.suffix in NOTEBOOK_SUFFIXES:
            import tempfile
            import time
            code = read_notebook(path, deadline=time.monotonic() + self.limits.wall_seconds)
            with tempfile.TemporaryDirectory() as tmp:
                extracted = Path(tmp) / "solution.py"
                extracted.write_text(code)
                run = self.sandbox.run(extracted)
        else:
            code = None
            with staged(path, profiles.get(self.profile).entry) as ready:   # a package: its entry module added
                run = self.sandbox.run(ready)
        stubs = {}
        try:
            if code is None:
                code = submission_source(path, _entry(path) if path.is_dir() else None)
            stubs = stub_functions(code, self.plan.functions)
        except Exception:  # noqa: BLE001 - no stub found is the safe side: the functions are judged as usual
            stubs = {}
        results = judge_run(self.plan, run, strict=self.strict, stubs=stubs, error_log=self.error_log)
        report = CodeReport(str(path), self.profile, results)
        if self.editions is not None:
            try:
                report.notes += self.editions.notes(path, report, run)
            except SymgradError:
                raise
            except Exception:  # noqa: BLE001 - the hint is a help, never a cost to the report
                pass
        return report


def _entry(folder: Path):
    from .sandbox import _entry as entry
    try:
        return entry(folder)
    except SymgradError:
        return None


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
          + ", ".join(f"{v} {k}" for k, v in report.counts().items() if v or k in STATUSES[:4]))
    for note in report.notes:
        print(f"  note: {one_line(note)}")
    width = max([22] + [len(f.name) for f in report.functions])
    for f in report.functions:
        print(f"  {one_line(f.name):<{width}} {f.status:<8} {one_line(f.message)}")
        for line in f.traceback:
            print(f"      | {one_line(line)}")
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
        for item in f.notes:
            tag = f" [{item['mistake']}]" if item.get("mistake") else ""
            print(f"      note{tag}: {one_line(item['note'])}")


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
