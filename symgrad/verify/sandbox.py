"""Run untrusted code in a separate, contained process.

Layers, each closing an escape the others leave open:

* a wall-clock limit per call (the server kills the child; ``sleep`` never
  trips a CPU limit) and a CPU limit (RLIMIT_CPU);
* memory (RLIMIT_AS), file size (RLIMIT_FSIZE) and process count (RLIMIT_NPROC);
* its own network and PID namespaces (``unshare --net --pid --fork
  --kill-child``) where the machine allows it: no network, and every process
  the submission starts, an orphan that called setsid included, dies with it;
* an unprivileged user when the grader runs as root: a fresh uid for every
  run (no passwd entry, no files anywhere), so one submission can neither
  read another's working directory nor share its process-count limit;
* a throw-away working directory holding only the submission; the
  reference values never leave the parent;
* results come back as plain ``.npy`` arrays read with ``allow_pickle=False``
  and are compared in the parent; what the submission prints, its exit status
  and its own opinion of its results are ignored.

:func:`layers` reports which of these are active on this machine.

Submissions run as children forked from one server per worker
(:class:`Sandbox`, ``_runner.py``), which has loaded Python, numpy (and
torch) once: every child starts from the same clean image, and the server,
PID 1 of its namespace, kills whatever a child left behind before the next.
"""

from __future__ import annotations

import functools
import io
import json
import os
import itertools
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import select
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RUNNER = Path(__file__).with_name("_runner.py")
MAX_LOG_BYTES = 256 * 2**20       # a run's results log; more is a bad result, not a grader out of memory
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
STARTUP = 5.0  # seconds for the interpreter, numpy and the submission to load
TORCH_STARTUP = 20.0  # more when the interface needs torch


@dataclass
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    file_bytes: int = 8 << 20
    processes: int = 64


@functools.lru_cache(maxsize=None)
def _namespaces() -> bool:
    tool = shutil.which("unshare")
    if not tool:
        return False
    try:
        done = subprocess.run([tool, "--net", "--pid", "--fork", "--kill-child", "true"],
                              capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


USER_LAYER = "unprivileged user (a fresh uid per run)"
NOBODY_LAYER = "unprivileged user (nobody, shared by every run)"   # where fresh uids are not accepted
UID_BASE, UID_SPAN = 620_000, 30_000     # far above the uids of real accounts
_uids = itertools.count()
_uid_lock = threading.Lock()


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


def _next_user():
    """(uid, gid) for the next run, or None when this process cannot switch users."""
    mode = _user_switch()
    if mode != "fresh":
        return _nobody() if mode == "nobody" else None
    with _uid_lock:
        uid = UID_BASE + next(_uids) % UID_SPAN
    return uid, uid


def layers() -> dict:
    """Which containment layers are active here: name -> True / False."""
    return {
        "wall-clock limit": True,
        "CPU limit": True,
        "memory, file-size and process-count limits": True,
        "network and PID namespaces (unshare)": _namespaces(),
        USER_LAYER: _user_switch() == "fresh",
        NOBODY_LAYER: _user_switch() == "nobody",
        "grader's folders hidden (mount namespace)": _namespaces() and _mount_namespace(),
        "throw-away working directory": True,
        "results as .npy without pickle, compared in the parent": True,
    }


@dataclass
class RunResult:
    """What came back from one call: values (arrays by key) or an error text."""

    values: dict = field(default_factory=dict)   # call id (or id.key) -> array
    errors: dict = field(default_factory=dict)   # call id -> message
    import_error: str | None = None
    calls: dict = field(default_factory=dict)    # function -> other traced functions it called


def _command(serverdir: Path) -> list[str]:
    base = [sys.executable, "-I", str(serverdir / "_runner.py"), str(serverdir)]
    if _namespaces():
        mount = ["--mount"] if _mount_namespace() else []
        return [shutil.which("unshare"), "--net", "--pid", *mount, "--fork", "--kill-child"] + base
    return base


@functools.lru_cache(maxsize=None)
def _mount_namespace() -> bool:
    """True when the runner can cover folders with tmpfs in its own mount namespace."""
    tool, mount = shutil.which("unshare"), shutil.which("mount")
    if not tool or not mount or os.geteuid() != 0:
        return False
    probe = tempfile.mkdtemp(prefix="symgrad-probe-")
    try:
        done = subprocess.run([tool, "--mount", "--fork", mount, "-t", "tmpfs", "-o", "size=4k", "tmpfs", probe],
                              capture_output=True, timeout=10)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        os.rmdir(probe)


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


def saved_keys(call: dict) -> list:
    """The keys a call saves ("" for its one unnamed value)."""
    return [step[1] for step in call["steps"] if step[0] == "save"]


def run_calls(submission: Path, calls: list, arrays: dict, limits: Limits | None = None,
              trace: tuple = (), hide: tuple = (), torch: bool = False) -> RunResult:
    """Run ``calls`` against a submission (a .py file, or a folder with one entry file).

    ``calls``: [{"id", "func", "steps": [...]}] (see ``_runner.py`` for the
    steps; :func:`function_call` builds the common one), or the short form
    {"id", "func", "args": [[kind, value]...], "keys": [...]?};
    ``arrays``: name -> numpy array; ``torch``: the interface passes torch
    tensors (torch is loaded before the limits); ``hide``: folders covered
    with an empty tmpfs inside the sandbox (the submissions folder, the
    reports), where a mount namespace is available. A call that hangs or
    kills the process is recorded as an error and the run resumes with the
    calls after it in a fresh child. For many submissions, keep one
    :class:`Sandbox` open instead.
    """
    with Sandbox(calls, arrays, limits, trace, hide, torch) as box:
        return box.run(submission)


class Sandbox:
    """A fork server (``_runner.py``) in its own namespaces, ready to run submissions.

    Started once with the calls and their inputs; :meth:`run` hands it one
    submission at a time. Not thread-safe: one per worker.
    """

    def __init__(self, calls: list, arrays: dict, limits: Limits | None = None, trace: tuple = (),
                 hide: tuple = (), torch: bool = False):
        self.limits = limits or Limits()
        self.calls = [c if "steps" in c else function_call(c["id"], c["func"], c["args"], c.get("keys"))
                      for c in calls]
        self.arrays, self.trace, self.torch = arrays, tuple(trace), torch
        self.hide = [str(Path(h).resolve()) for h in hide] if _mount_namespace() else []
        self.dir = Path(tempfile.mkdtemp(prefix="symgrad-server-"))
        self.proc = None
        try:
            self._write_job()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _write_job(self) -> None:
        names = {}
        for i, (key, value) in enumerate(self.arrays.items()):
            names[key] = f"in{i}.npy"
            np.save(self.dir / names[key], np.asarray(value, dtype=np.float64), allow_pickle=False)
        shutil.copyfile(RUNNER, self.dir / "_runner.py")
        startup = _startup(self.torch)
        job = {"calls": self.calls, "arrays": names, "trace": list(self.trace), "torch": self.torch,
               "hide": self.hide, "wall_seconds": self.limits.wall_seconds, "startup": STARTUP,
               # the CPU limit is a backstop: calls are timed one by one by the server
               "cpu_seconds": self.limits.cpu_seconds * 4 + startup, "memory_bytes": self.limits.memory_bytes,
               "file_bytes": self.limits.file_bytes, "processes": self.limits.processes}
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
        shutil.rmtree(self.dir, ignore_errors=True)

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
        work = Path(tempfile.mkdtemp(prefix="symgrad-sandbox-"))
        try:
            sub = work / "submission"
            try:
                _copy_submission(submission, sub)
            except BadSubmission as exc:
                result.import_error = f"the submission was not copied: {exc}"
                return set(), None
            entry = _entry(submission) if submission.is_dir() else submission.name
            (work / "out").mkdir()
            user = _next_user()
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


_NPY_FLOAT64 = re.compile(r"\{'descr': '<f8', 'fortran_order': False, 'shape': \(((?:\d+, ?)*\d*)\), \} *\n")


def _fast_float64(data: bytes):
    """The array of a version-1 .npy of little-endian float64 in C order, the only kind the
    runner writes (its header read by a pattern, not evaluated); None for anything else."""
    if data[:8] != b"\x93NUMPY\x01\x00" or len(data) < 10:
        return None
    end = 10 + int.from_bytes(data[8:10], "little")
    match = _NPY_FLOAT64.fullmatch(data[10:end].decode("latin-1"))
    if not match:
        return None
    shape = tuple(int(n) for n in match.group(1).replace(" ", "").split(",") if n)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(data) != end + 8 * count:
        return None
    return np.frombuffer(data, dtype="<f8", count=count, offset=end).reshape(shape).copy()


def _load(source):
    """A plain float64 array from .npy bytes (or a file), never unpickled; else (None, why)."""
    if isinstance(source, (bytes, bytearray)):
        array = _fast_float64(bytes(source))
        if array is not None:
            return array, None
    try:
        with (io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")) as fh:
            array = np.load(fh, allow_pickle=False)
    except Exception as exc:   # a crafted header: any failure of the reader is a bad result, never ours
        return None, f"its result could not be read as a plain array ({type(exc).__name__}: {str(exc)[:200]})"
    if not isinstance(array, np.ndarray):
        return None, "its result is not a plain array"
    if array.dtype != np.float64:
        return None, f"its result has dtype {array.dtype}, not float64"
    return array, None


class BadLog(Exception):
    """The results log is not a regular file of sane size (the submission put a FIFO, a link... there)."""


def _read_regular(path: Path, cap: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``cap`` bytes, opened without following
    a link and without blocking on a FIFO; b"" when it does not exist.

    Raises:
        BadLog: anything else.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise BadLog(f"its results log could not be opened ({exc.strerror}; a symbolic link?)") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadLog("its results log is not a regular file (a FIFO, device or folder put in its place)")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise BadLog(f"its results log is larger than {cap // 2**20} MiB")
    return data


def read_log(path: Path) -> list:
    """(tag, name, payload) records of a child's log; a truncated last record is dropped.

    Raises:
        BadLog: the log is not a regular file of at most MAX_LOG_BYTES.
    """
    data = _read_regular(path, MAX_LOG_BYTES)
    records, pos = [], 0
    while pos < len(data):
        end = data.find(b"\n", pos, pos + 400)
        if end < 0:
            break
        parts = data[pos:end].decode(errors="replace").split(" ")
        if len(parts) != 3 or not parts[2].isdigit():
            break
        size = int(parts[2])
        payload = data[end + 1:end + 1 + size]
        if len(payload) < size:
            break
        records.append((parts[0], parts[1], payload))
        pos = end + 1 + size
    return records


def _collect(log: Path, calls, skip, status, limits, result):
    try:
        records = read_log(log)
    except BadLog as exc:
        done = {c["id"] for c in calls if c["id"] not in skip}
        for cid in done:
            result.errors.setdefault(cid, f"bad result: {exc}")
        return done, None
    return _collect_records(records, calls, skip, status, limits, result)


def _collect_records(records, calls, skip, status, limits, result):
    """Values and errors of a run into ``result``; (calls done, the call that took the child down)."""
    values, errors, started = {}, {}, set()
    for tag, name, payload in records:
        if tag == "I":
            result.import_error = payload.decode(errors="replace")[:500]
        elif tag == "S":
            started.add(name)
        elif tag == "V":
            values[name] = payload
        elif tag == "E":
            errors[name] = payload.decode(errors="replace")[:500]
        elif tag == "C":
            func = next((c["func"] for c in calls if c["id"] == name), None)
            try:
                names = json.loads(payload.decode(errors="replace")[:10000])
            except ValueError:
                names = None
            if func and isinstance(names, list):
                result.calls.setdefault(func, set()).update(str(n) for n in names)
    done, crashed = set(), None
    for call in calls:
        cid = call["id"]
        if cid in skip:
            continue
        failed = cid in errors
        complete = True
        for key in saved_keys(call):
            name = f"{cid}.{key}" if key else cid
            if name in values:
                array, err = _load(values[name])
                if err:
                    result.errors[cid] = err
                    failed = True
                    break
                result.values[name] = array
            else:
                complete = False
        if failed:
            result.errors.setdefault(cid, errors.get(cid, ""))
            done.add(cid)
        elif complete:
            done.add(cid)
        elif cid in started and crashed is None:
            crashed = cid
            if status is None:
                why = f"did not finish within the wall-clock limit of {limits.wall_seconds:g} s"
            elif status < 0:
                why = f"the process was killed by signal {signal.Signals(-status).name} " \
                      "(CPU or memory limit?)"
            else:
                why = f"the process ended (exit status {status}) during this call"
            result.errors[cid] = why
    return done, crashed
