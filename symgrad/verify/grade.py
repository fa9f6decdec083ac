"""Grade a folder of submissions: one file or folder each, in parallel.

Each worker thread keeps one :class:`symgrad.verify.code.Checker` (the
profile's plan, computed once, and a sandbox fork server) for the whole run.
Results go to ``grades.json`` (per submission, per function: verdict,
counterexample, diagnosis) and ``grades.csv`` (one row per submission and
function; every cell through :func:`symgrad.escape.csv_cell`: no cell is a
spreadsheet formula, no control character splits a row), rewritten atomically
after every submission and at the end; SIGTERM and SIGINT stop the run, kill
every sandbox and write what is finished (exit 130). A re-run skips
submissions already in ``grades.json`` unless ``regrade`` is set. One run at a
time writes a report folder: a second ``grade`` into the same folder is
refused (exit 2) while the first holds ``.symgrad-grade.lock`` there. A report
that is a symbolic link is refused before grading starts. A failure while
grading one submission is recorded as that submission's error and the others
go on.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from ..errors import SymgradError
from ..escape import csv_cell, one_line
from ..io import check_links, write_atomic
from .code import Checker, make_plan
from .env import load_derivation

REPORT_JSON = "grades.json"
REPORT_CSV = "grades.csv"
LOCK = ".symgrad-grade.lock"   # in the report folder, held by the run writing there
ERROR_LOG = "grader-errors.log"  # a grader error's traceback, for the instructor (made only when one happens)


def lock_reports(out: Path) -> int:
    """An exclusive lock on the report folder for this run (an fd; :func:`unlock_reports` ends it).

    The lock file is removed at the end; a run that took it meanwhile checks that the file it locked is
    still the one at the path, and takes the new one otherwise.

    Raises:
        SymgradError: another grade run writes there now.
    """
    check_links(out / LOCK, out)
    while True:
        try:
            fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SymgradError(f"{out}: cannot lock the report folder ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SymgradError(f"{out}: another 'symgrad grade' is writing its reports there now; wait for "
                               "it to finish or choose another -o") from None
        try:
            if os.stat(out / LOCK, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def unlock_reports(out: Path, fd: int) -> None:
    try:
        os.unlink(out / LOCK)
    except OSError:
        pass
    os.close(fd)


class _Stop:
    """SIGTERM raises KeyboardInterrupt in the main thread (as SIGINT does) while grading."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def submissions(folder: Path) -> list[Path]:
    """Every submission in a folder: a .py/.txt/.md file or a sub-folder each."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "_")) or p.name in (REPORT_JSON, REPORT_CSV):
            continue
        if p.is_dir() or p.suffix in (".py", ".txt", ".md"):
            out.append(p)
    return out


def _csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def row(cells):   # every cell inert in a spreadsheet: no formula, no bare CR
        w.writerow([csv_cell(c) for c in cells])

    row(["submission", "function", "verdict", "message", "diagnosis"])
    for name, sub in sorted(report["submissions"].items()):
        if "error" in sub:
            row([name, "", "error", sub["error"], ""])
            continue
        for f in sub["functions"]:
            row([name, f["function"], f["verdict"], f["message"],
                 " ".join(x["mistake"] for x in f["diagnosis"])])
    return buf.getvalue()


def _save(out: Path, report: dict) -> None:
    write_atomic(out / REPORT_JSON, json.dumps(report, indent=1, sort_keys=True) + "\n", root=out)
    write_atomic(out / REPORT_CSV, _csv(report), root=out)


def grade_folder(folder, spec, profile: str, *, jobs: int = 4, time_limit: float = 10.0, memory_mb: int = 1024,
                 output=None, regrade: bool = False, stream=None, packages: tuple = (), strict: bool = False) -> int:
    """Grade every submission in ``folder``; returns 0 (all graded) or 1 (some could not be).
    ``packages``: distributions submissions may import besides the profile's (numpy, torch);
    ``strict``: what the course does not require counts too (see :class:`~.code.Checker`).
    A grader error's traceback goes to ``grader-errors.log`` in the report folder (made only then)."""
    stream = sys.stderr if stream is None else stream   # the stream of now, not of import time
    folder = Path(folder)
    if not folder.is_dir():
        raise SymgradError(f"{folder}: not a folder")
    out = Path(output) if output else folder
    for report_file in (REPORT_JSON, REPORT_CSV):   # refused before grading, not at the first save
        check_links(out / report_file, out)
    d = load_derivation(spec)   # a bad spec is refused before anything is made or written
    plan = make_plan(d, profile)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SymgradError(f"{out}: cannot make the report folder ({exc.strerror})") from None
    lock = lock_reports(out)
    try:
        return _grade_locked(folder, d, plan, profile, jobs, time_limit, memory_mb, out, regrade, stream, packages,
                             strict)
    finally:
        unlock_reports(out, lock)


def _grade_locked(folder, d, plan, profile, jobs, time_limit, memory_mb, out, regrade, stream, packages,
                  strict=False) -> int:
    functions = plan.functions
    report = {"spec": d.spec.name, "profile": profile, "submissions": {}}
    if strict:
        report["strict"] = True
    existing = out / REPORT_JSON
    if existing.exists() and not regrade:
        try:
            old = json.loads(existing.read_text())
            if old.get("spec") == d.spec.name and old.get("profile") == profile and \
                    bool(old.get("strict")) == strict:
                report["submissions"] = old.get("submissions", {})
        except (OSError, ValueError):
            pass
    todo = [p for p in submissions(folder) if p.name not in report["submissions"]]
    skipped = len(submissions(folder)) - len(todo)
    if skipped:
        print(f"skipping {skipped} submission(s) already graded (use --regrade to grade them again)", file=stream)

    local, checkers = threading.local(), []

    def one(path: Path):
        try:
            checker = getattr(local, "checker", None)
            if checker is None:   # one sandbox (a fork server) per worker thread, for the whole run
                checker = local.checker = Checker(d, profile, time_limit=time_limit, memory_mb=memory_mb,
                                                  plan=plan, packages=packages, strict=strict,
                                                  error_log=out / ERROR_LOG)
                checkers.append(checker)
            return path.name, checker.check(path).as_json()
        except Exception as exc:  # noqa: BLE001 - one bad submission must not stop the others
            return path.name, {"error": f"{type(exc).__name__}: {exc}"}

    try:
        with _Stop():
            _grade_all(todo, one, max(1, jobs), report, out, stream, checkers)
    except KeyboardInterrupt:
        print(f"\nstopped: {len(report['submissions'])} finished result(s) kept in {one_line(out / REPORT_JSON)}",
              file=stream)
        raise
    finally:
        for checker in checkers:
            checker.close()
        _save(out, report)
    _summary(report, functions)
    print(f"wrote {one_line(out / REPORT_CSV)} and {one_line(out / REPORT_JSON)}")
    return 1 if any("error" in s for s in report["submissions"].values()) else 0


class _Throttle:
    """When to rewrite the reports while grading. Each rewrite is the whole report, so rewriting after
    every submission made a run quadratic (measured: 61 of 100 s over 200 pset3 files). A finished
    result is written within a second, or later when rewriting itself is slow (it takes at most a
    tenth of the time); SIGTERM and SIGINT write what is finished, and the end always writes. A
    SIGKILL loses at most the last interval's results, which a re-run grades again."""

    def __init__(self, interval: float = 1.0, share: float = 0.1):
        self.interval, self.share = interval, share
        self.last, self.cost = time.monotonic(), 0.0
        self.dirty = False

    def wait(self) -> float | None:
        """Seconds until a rewrite is due (None: nothing to write)."""
        if not self.dirty:
            return None
        return max(0.0, self.last + max(self.interval, self.cost / self.share) - time.monotonic())

    def save(self, out: Path, report: dict) -> None:
        self.dirty = True
        if self.wait() > 0:
            return
        start = time.monotonic()
        _save(out, report)
        self.last = time.monotonic()
        self.cost, self.dirty = self.last - start, False


def _grade_all(todo, one, jobs, report, out, stream, checkers) -> None:
    total, done = len(todo), 0
    throttle = _Throttle()
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        pending = {pool.submit(one, p) for p in todo}
        while pending:
            finished, pending = wait(pending, timeout=throttle.wait(), return_when=FIRST_COMPLETED)
            for fut in finished:
                name, result = fut.result()
                report["submissions"][name] = result
                done += 1
                width = 30
                bar = "#" * (width * done // max(total, 1))
                print(f"\r[{bar:<{width}}] {done}/{total} {one_line(name, 40):<40}", end="", file=stream,
                      flush=True)
            if finished or throttle.dirty:
                throttle.save(out, report)   # written now, or once its interval has passed
    except BaseException:   # interrupted: nothing more starts, and the sandboxes running now are killed
        pool.shutdown(wait=False, cancel_futures=True)
        for checker in list(checkers):
            checker.close()
        raise
    pool.shutdown(wait=True)
    if total:
        print(file=stream)


def _summary(report: dict, functions: list) -> None:
    rows = []
    for name, sub in sorted(report["submissions"].items()):
        if "error" in sub:
            rows.append([one_line(name), "error", "", "", "", one_line(sub["error"], 60)])
            continue
        c = sub["summary"]
        others = ", ".join(f"{c[k]} {k}" for k in ("not implemented", "not judged", "grader error") if c.get(k))
        note = "; ".join([others] * bool(others) + [str(n) for n in sub.get("notes", [])])
        rows.append([one_line(name), str(c["correct"]), str(c["wrong"]), str(c["crashed"]), str(c["missing"]),
                     one_line(note, 80)])
    header = ["submission", "correct", "wrong", "crashed", "missing", "note"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    per_function = {f: sum(1 for s in report["submissions"].values() if "functions" in s
                           for g in s["functions"] if g["function"] == f and g["verdict"] == "correct")
                    for f in functions}
    n = len(report["submissions"])
    print("correct per function: " + ", ".join(f"{f} {k}/{n}" for f, k in per_function.items()))
