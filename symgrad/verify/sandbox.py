"""Run untrusted code in a separate, contained process.

Layers, each closing an escape the others leave open (:func:`layers` says
which are active here; the README's table names the test showing each):

* a wall-clock limit per call on the server's own clock, counted from the
  end of the previous call (at most one acknowledgement per call counts, so
  the whole run is bounded whatever the submission writes), and a CPU limit;
* whole-submission memory and process-count limits (cgroup v2, else v1
  memory + pids), on top of the per-process rlimits (address space, file
  size, process count), which stay in every case;
* a jail (root only): new mount, PID, network, IPC and UTS namespaces; a
  minimal root holding the system libraries, the Python standard library and
  the allowed packages read-only, the submission read-only, private tmpfs for
  /tmp, /dev/shm and its work folder, /proc of its own PID namespace and
  /dev/{null,zero,urandom,random}; every process it starts dies with it, and
  the server dies with the grader (PR_SET_PDEATHSIG);
* an unprivileged uid held by this sandbox alone on the whole machine
  (:class:`symgrad.verify.jail.Identity`, an flock per uid);
* results come back as plain ``.npy`` arrays of one log read as a regular
  file (:mod:`symgrad.verify.results`) and compared in the parent.

Submissions run as children forked from one server per worker
(:class:`Sandbox`, ``_runner.py``), which has loaded Python, numpy (and
torch) once: every child starts from the same clean image, and the server,
PID 1 of its namespace, kills whatever a child left behind before the next.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import select
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import jail
from .results import MAX_LOG_BYTES, BadLog, _collect, _load, read_log, saved_keys  # noqa: F401 - re-exported

RUNNER = Path(__file__).with_name("_runner.py")
MAX_SUBMISSION_FILES = 2000       # a folder submission: files copied at most ...
MAX_SUBMISSION_BYTES = 64 * 2**20  # ... and bytes


class BadSubmission(Exception):
    """A submission the grader will not copy (a link, too many files): its message is the report's."""


def _copy_submission(src: Path, dst: Path) -> None:
    """Copy a submission without following any link, within MAX_SUBMISSION_FILES / _BYTES.

    Raises:
        BadSubmission: a symbolic link, a FIFO or device, or too much data (nothing is read through it).
    """
    files, total = 0, 0

    def copy_file(path: Path, target: Path):
        nonlocal files, total
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise BadSubmission(f"{path.name}: cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise BadSubmission(f"{path.name}: not a regular file")
        with os.fdopen(fd, "rb") as fh:
            files += 1
            if files > MAX_SUBMISSION_FILES:
                raise BadSubmission(f"more than {MAX_SUBMISSION_FILES} files")
            data = fh.read(MAX_SUBMISSION_BYTES - total + 1)
            total += len(data)
            if total > MAX_SUBMISSION_BYTES:
                raise BadSubmission(f"more than {MAX_SUBMISSION_BYTES // 2**20} MiB")
        target.write_bytes(data)

    def walk(folder: Path, target: Path):
        target.mkdir()
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name == "__pycache__":
                continue
            if entry.is_symlink():
                raise BadSubmission(f"{entry.name} is a symbolic link; the grader does not follow links "
                                    "(copy the file into the submission instead)")
            if entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), target / entry.name)
            else:
                copy_file(Path(entry.path), target / entry.name)

    if src.is_symlink():
        raise BadSubmission(f"{src.name} is a symbolic link; the grader does not follow links")
    if src.is_dir():
        walk(src, dst)
    else:
        dst.mkdir()
        copy_file(src, dst / src.name)


HARNESS_MEMORY = 128 << 20   # the cgroup's allowance for the harness's own pages copied on write
STARTUP = 5.0  # seconds for the interpreter, numpy and the submission to load
TORCH_STARTUP = 20.0  # more when the interface needs torch


@dataclass
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    file_bytes: int = 8 << 20
    processes: int = 64


USER_LAYER = "unprivileged user (a uid of its own on this machine)"
NOBODY_LAYER = "unprivileged user (nobody, shared by every run)"   # where fresh uids are not accepted
JAIL_LAYER = "jail: minimal root, own mount/PID/network/IPC namespaces"
CGROUP_LAYER = "whole-submission memory and process limits (cgroup {})"
UID_BASE = jail.UID_BASE


@functools.lru_cache(maxsize=None)
def _fresh_uids() -> bool:
    """True when this machine accepts uids beyond its accounts (a user namespace may map only 0-65535)."""
    fd, probe = tempfile.mkstemp(prefix="symgrad-uid-probe-")
    os.close(fd)
    try:
        os.chown(probe, UID_BASE, UID_BASE)
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


@functools.lru_cache(maxsize=None)
def _nobody():
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _user_switch() -> str | None:
    """How runs leave root: "fresh" (a uid of their own), "nobody", or None (not root, or no way)."""
    if os.geteuid() != 0:
        return None
    if _fresh_uids():
        return "fresh"
    return "nobody" if _nobody() is not None else None


@functools.lru_cache(maxsize=None)
def _cgroup_kind():
    """"v2", "v1" or None: which whole-submission limits a sandbox here gets (probed once)."""
    if os.geteuid() != 0:
        return None
    try:
        probe = jail.Cgroup(f"symgrad-probe-{os.getpid()}", 1 << 30, 64)
    except OSError:
        return None
    probe.remove()
    return probe.kind


def layers() -> dict:
    """Which containment layers are active here: name -> True / False."""
    kind = _cgroup_kind()
    return {
        "wall-clock limit (the server's clock, per call)": True,
        "CPU limit": True,
        "per-process memory, file-size and process-count limits (rlimits)": True,
        CGROUP_LAYER.format(kind or "v2 or v1"): kind is not None,
        JAIL_LAYER: jail.jail_available(),
        USER_LAYER: _user_switch() == "fresh",
        NOBODY_LAYER: _user_switch() == "nobody",
        "dies with the grader (PR_SET_PDEATHSIG)": True,
        "results as .npy without pickle, read as a regular file, compared in the parent": True,
    }


@dataclass
class RunResult:
    """What came back from one call: values (arrays by key) or an error text."""

    values: dict = field(default_factory=dict)   # call id (or id.key) -> array
    errors: dict = field(default_factory=dict)   # call id -> message
    import_error: str | None = None
    calls: dict = field(default_factory=dict)    # function -> other traced functions it called


def _command(serverdir: Path) -> list[str]:
    return [sys.executable, "-I", str(serverdir / "_runner.py"), str(serverdir)]


def _env() -> dict:
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    keep.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/nonexistent"})
    return keep


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()


def function_call(cid: str, func: str, args: list, keys=None) -> dict:
    """A call of the submission's top-level function ``func``; its result is
    saved whole, or by ``keys`` when it returns a dict."""
    steps = [["call", "result", None, func, args, {}]]
    if keys:
        steps += [["save", key, ["key", "result", key]] for key in keys]
    else:
        steps.append(["save", "", ["slot", "result"]])
    return {"id": cid, "func": func, "steps": steps}


def run_calls(submission: Path, calls: list, arrays: dict, limits: Limits | None = None,
              trace: tuple = (), hide: tuple = (), torch: bool = False, packages: tuple = ()) -> RunResult:
    """Run ``calls`` against a submission (a .py file, or a folder with one entry file).

    ``calls``: [{"id", "func", "steps": [...]}] (see ``_runner.py`` for the
    steps; :func:`function_call` builds the common one), or the short form
    {"id", "func", "args": [[kind, value]...], "keys": [...]?};
    ``arrays``: name -> numpy array; ``torch``: the interface passes torch
    tensors (torch is loaded before the limits); ``hide``: kept for callers,
    no longer needed (the jail shows none of the grader's folders);
    ``packages``: distributions the submission may import besides numpy
    (and torch). A call that hangs or
    kills the process is recorded as an error and the run resumes with the
    calls after it in a fresh child. For many submissions, keep one
    :class:`Sandbox` open instead.
    """
    with Sandbox(calls, arrays, limits, trace, hide, torch, packages) as box:
        return box.run(submission)


class Sandbox:
    """A fork server (``_runner.py``) in its own namespaces, ready to run submissions.

    Started once with the calls and their inputs; :meth:`run` hands it one
    submission at a time. Not thread-safe: one per worker.
    """

    def __init__(self, calls: list, arrays: dict, limits: Limits | None = None, trace: tuple = (),
                 hide: tuple = (), torch: bool = False, packages: tuple = (), entry: str = ""):
        self.limits = limits or Limits()
        self.entry = entry      # a course's entry module for submission folders (Plan.entry), or ""
        self.calls = [c if "steps" in c else function_call(c["id"], c["func"], c["args"], c.get("keys"))
                      for c in calls]
        self.arrays, self.trace, self.torch = arrays, tuple(trace), torch
        self.packages = jail.allowed_packages(torch, packages)
        self.proc = self.identity = self.cgroup = None
        self.dir = None
        try:
            if _user_switch() == "fresh":
                jail.remove_stale()
                self.identity = jail.Identity()
            self.user = (self.identity.uid,) * 2 if self.identity else _nobody() if _user_switch() else None
            self.prefix = jail.work_prefix(self.identity.uid) if self.identity else "symgrad-"
            self.dir = Path(tempfile.mkdtemp(prefix=self.prefix + "server-"))
            if self.identity and _cgroup_kind():
                self.cgroup = jail.Cgroup(f"symgrad-{self.identity.uid}",
                                          self.limits.memory_bytes + HARNESS_MEMORY, self.limits.processes)
            self._write_job()
        except BaseException:
            self.close()
            raise

    def _write_job(self) -> None:
        names = {}
        for i, (key, value) in enumerate(self.arrays.items()):
            names[key] = f"in{i}.npy"
            np.save(self.dir / names[key], np.asarray(value, dtype=np.float64), allow_pickle=False)
        shutil.copyfile(RUNNER, self.dir / "_runner.py")
        startup = _startup(self.torch)
        job = {"calls": self.calls, "arrays": names, "trace": list(self.trace), "torch": self.torch,
               "wall_seconds": self.limits.wall_seconds, "startup": STARTUP,
               "cgroups": self.cgroup.procs if self.cgroup else [],
               # the CPU limit is a backstop: calls are timed one by one by the server
               "cpu_seconds": self.limits.cpu_seconds * 4 + startup, "memory_bytes": self.limits.memory_bytes,
               "file_bytes": self.limits.file_bytes, "processes": self.limits.processes}
        if jail.jail_available():
            job.update(jail.view(self.packages), root=str(self.dir / "root"))
            (self.dir / "root").mkdir()
        (self.dir / "server.json").write_text(json.dumps(job))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _start(self) -> None:
        self.proc = subprocess.Popen(_command(self.dir), cwd=self.dir, env=_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        if self._reply(_startup(self.torch) + 30.0) != "ready":
            self._stop()
            from ..errors import SymgradError
            raise SymgradError("the sandbox could not start (python, numpy"
                               + (", torch" if self.torch else "") + " must load within its limits)")

    def _reply(self, timeout: float) -> str | None:
        """One line from the server, or None when it died or said nothing in time."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return line.decode(errors="replace").strip() if line else None

    def _stop(self) -> None:
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            _kill(self.proc)
            self.proc = None

    def close(self) -> None:
        self._stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.identity is not None:
            self.identity.release()
            self.identity = None

    def run(self, submission) -> RunResult:
        result = RunResult()
        calls = self.calls
        pending = [c["id"] for c in calls]
        while pending:
            skip = set(c["id"] for c in calls) - set(pending)
            done, crashed = self._one(Path(submission), skip, result)
            if result.import_error is not None:
                for cid in pending:
                    result.errors.setdefault(cid, f"the file could not be loaded: {result.import_error}")
                break
            progressed = [cid for cid in pending if cid in done]
            pending = [cid for cid in pending if cid not in done]
            if crashed and crashed in pending:
                # the function that took the process down is not called again
                func = next(c["func"] for c in calls if c["id"] == crashed)
                for c in calls:
                    if c["func"] == func and c["id"] in pending:
                        pending.remove(c["id"])
                        result.errors.setdefault(c["id"], result.errors[crashed])
            elif not progressed:
                for cid in pending:
                    result.errors.setdefault(cid, "the submission stopped before this call ran")
                break
        return result

    def _one(self, submission: Path, skip: set, result: RunResult):
        work = Path(tempfile.mkdtemp(prefix=self.prefix))
        try:
            sub = work / "submission"
            try:
                _copy_submission(submission, sub)
            except BadSubmission as exc:
                result.import_error = f"the submission was not copied: {exc}"
                return set(), None
            if submission.is_dir() and self.entry:
                (sub / ENTRY).write_text(self.entry)
                entry = ENTRY
            else:
                entry = _entry(submission) if submission.is_dir() else submission.name
            (work / "out").mkdir()
            user = self.user
            if user:
                for path in [work, *work.rglob("*")]:
                    os.chown(path, *user)
                work.chmod(0o700)
            if self.proc is None or self.proc.poll() is not None:
                self._stop()
                self._start()
            request = json.dumps({"workdir": str(work), "entry": entry, "skip": sorted(skip), "user": user}) + "\n"
            try:
                self.proc.stdin.write(request.encode())
                self.proc.stdin.flush()
                reply = self._reply(self.limits.wall_seconds * (len(self.calls) + 1) + STARTUP + 30.0)
            except OSError:
                reply = None
            if reply is None:   # the server itself died or stalled: start a fresh one next time
                self._stop()
                status = None
            else:
                status = json.loads(reply)["status"]
            return _collect(work / "out" / "log", self.calls, skip, status, self.limits, result)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _startup(torch: bool) -> float:
    return STARTUP + (TORCH_STARTUP if torch else 0.0)


ENTRY = "_symgrad_entry.py"   # a course's entry module, written beside a submission folder's files


def _entry(folder: Path) -> str:
    files = sorted(p.name for p in folder.glob("*.py"))
    for preferred in ("solution.py", "submission.py", "main.py"):
        if preferred in files:
            return preferred
    if len(files) == 1:
        return files[0]
    from ..errors import SymgradError
    raise SymgradError(f"{folder}: cannot tell which .py file is the submission "
                       f"(found {', '.join(files) or 'none'}; name it solution.py)")


