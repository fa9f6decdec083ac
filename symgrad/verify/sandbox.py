"""Run untrusted code in a separate, contained process.

Layers, each closing an escape the others leave open:

* a wall-clock limit (the parent kills the run; ``sleep`` never trips a CPU
  limit) and a CPU limit (RLIMIT_CPU);
* memory (RLIMIT_AS), file size (RLIMIT_FSIZE) and process count (RLIMIT_NPROC);
* its own network and PID namespaces (``unshare --net --pid --fork
  --kill-child``) where the machine allows it: no network, and every process
  the submission starts, an orphan that called setsid included, dies with it;
* an unprivileged user (``nobody``) when the grader runs as root;
* a throw-away working directory holding only the submission and its inputs;
  the reference values never leave the parent;
* results come back as plain ``.npy`` arrays read with ``allow_pickle=False``
  and are compared in the parent; what the submission prints, its exit status
  and its own opinion of its results are ignored.

:func:`layers` reports which of these are active on this machine.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RUNNER = Path(__file__).with_name("_runner.py")
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


def _user():
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def layers() -> dict:
    """Which containment layers are active here: name -> True / False."""
    return {
        "wall-clock limit": True,
        "CPU limit": True,
        "memory, file-size and process-count limits": True,
        "network and PID namespaces (unshare)": _namespaces(),
        "unprivileged user (nobody)": _user() is not None,
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


def _command(workdir: Path) -> list[str]:
    base = [sys.executable, "-I", str(workdir / "_runner.py"), str(workdir)]
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
    ``arrays``: name -> numpy array, handed over as .npy files; ``torch``: the
    interface passes torch tensors (torch is loaded before the limits);  ``hide``:
    folders covered with an empty tmpfs inside the sandbox (the submissions
    folder, the reports), where a mount namespace is available. A call that
    hangs or kills the process is recorded as an error and the run resumes
    with the calls after it in a fresh sandbox.
    """
    limits = limits or Limits()
    calls = [c if "steps" in c else function_call(c["id"], c["func"], c["args"], c.get("keys")) for c in calls]
    result = RunResult()
    pending = [c["id"] for c in calls]
    while pending:
        done, crashed = _one_run(submission, calls, arrays, limits, set(c["id"] for c in calls) - set(pending),
                                 result, trace, hide, torch)
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


def _one_run(submission, calls, arrays, limits, skip, result, trace=(), hide=(), torch=False):
    work = Path(tempfile.mkdtemp(prefix="symgrad-sandbox-"))
    try:
        sub = work / "submission"
        if Path(submission).is_dir():
            shutil.copytree(submission, sub, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
            entry = _entry(Path(submission))
        else:
            sub.mkdir()
            entry = Path(submission).name
            shutil.copyfile(submission, sub / entry)
        (work / "out").mkdir()
        names = {}
        for i, (key, value) in enumerate(arrays.items()):
            fname = f"in{i}.npy"
            np.save(work / fname, np.asarray(value, dtype=np.float64), allow_pickle=False)
            names[key] = fname
        shutil.copyfile(RUNNER, work / "_runner.py")
        user = _user()
        job = {"entry": entry, "calls": calls, "arrays": names, "skip": sorted(skip),
               # the CPU limit is a backstop: calls are timed one by one by the parent
               "cpu_seconds": limits.cpu_seconds * 4 + _startup(torch), "torch": torch, "memory_bytes": limits.memory_bytes,
               "file_bytes": limits.file_bytes, "processes": limits.processes, "user": user,
               "trace": list(trace), "hide": [str(Path(h).resolve()) for h in hide] if _mount_namespace() else []}
        (work / "job.json").write_text(json.dumps(job))
        if user:
            for path in [work, *work.rglob("*")]:
                os.chown(path, *user)
        proc = subprocess.Popen(_command(work), cwd=work, env=_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            status = _watch(proc, work / "out", limits, _startup(torch))
        finally:
            _kill(proc)
        return _collect(work, calls, skip, status, limits, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _startup(torch: bool) -> float:
    return STARTUP + (TORCH_STARTUP if torch else 0.0)


def _watch(proc, out: Path, limits: Limits, startup: float = STARTUP):
    """Wait for the run; None when one call (or loading) exceeded the wall-clock limit.

    The limit is per call: the clock restarts whenever the runner writes a
    file (a call started or finished), so a slow machine does not blame a
    call for the time the calls before it took. Loading gets STARTUP extra.
    """
    seen, deadline = -1, time.monotonic() + limits.wall_seconds + startup
    while True:
        status = proc.poll()
        if status is not None:
            return status
        try:
            count = sum(1 for _ in os.scandir(out))
        except OSError:
            count = seen
        now = time.monotonic()
        if count != seen:
            if seen >= 0 or count > 0:
                deadline = max(deadline if count == 0 else 0, now + limits.wall_seconds)
            seen = count
        if now > deadline:
            return None
        time.sleep(0.02)


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


def _load(path: Path):
    try:
        with open(path, "rb") as fh:
            array = np.load(fh, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return None, f"its result could not be read as a plain array ({exc})"
    if array.dtype != np.float64:
        return None, f"its result has dtype {array.dtype}, not float64"
    return array, None


def _collect(work: Path, calls, skip, status, limits, result):
    out = work / "out"
    imp = out / "import.err"
    if imp.exists():
        result.import_error = imp.read_text(errors="replace")[:500]
    done, crashed = set(), None
    for call in calls:
        cid = call["id"]
        if cid in skip:
            continue
        calls_file = out / f"{cid}.calls"
        if calls_file.exists():
            try:
                names = json.loads(calls_file.read_text()[:10000])
                if isinstance(names, list):
                    result.calls.setdefault(call["func"], set()).update(str(n) for n in names)
            except ValueError:
                pass
        failed = (out / f"{cid}.err").exists()
        for key in saved_keys(call):
            f = out / (f"{cid}.{key}.npy" if key else f"{cid}.npy")
            if f.exists():
                array, err = _load(f)
                if err:
                    result.errors[cid] = err
                    failed = True
                    break
                result.values[f"{cid}.{key}" if key else cid] = array
            elif not failed:
                break
        else:
            done.add(cid)
        if failed:
            if cid not in result.errors:
                result.errors[cid] = (out / f"{cid}.err").read_text(errors="replace")[:500]
            done.add(cid)
            continue
        if cid in done:
            continue
        if (out / f"{cid}.started").exists() and crashed is None:
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
