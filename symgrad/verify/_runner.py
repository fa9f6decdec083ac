"""Runs inside the sandbox: a fork server that runs submissions one at a time.

Executed as a script (``python -I _runner.py SERVERDIR``), never imported by
symgrad itself. Once, at start: it reads ``server.json`` and the input
``.npy`` files from SERVERDIR, covers the grader's folders (own mount
namespace), and loads what submissions may need (numpy, torch for a torch
interface). Then, for every request line on stdin (a working directory, the
submission's entry file, calls to skip) it forks a child that applies the
resource limits, drops to an unprivileged user when it runs as root, imports
the submission and runs the calls, writing ``out/log`` in the working
directory. The server times each call by watching the log grow (a wall-clock
limit per call), kills the child -- and, as PID 1 of its own PID namespace,
every process the child left behind -- and answers one status line on stdout.
Each submission starts from the same clean, pre-loaded process image, so none
sees another's state, and no Python start-up is paid per submission.

A call is a short script of steps, plain data (no code is ever sent):

* ``["call", dest, obj, name, args, kwargs]``: ``obj.name(*args, **kwargs)``,
  or the submission's top-level ``name`` when obj is None; the result is kept
  in the slot ``dest`` (when not None);
* ``["leaf", dest, arg]``: a plain leaf node (``out``, ``d_out``,
  ``node_name``) holding a value, for node-class interfaces;
* ``["setattr", obj, attr, arg]`` and ``["setitem", obj, attr, key, arg]``;
* ``["save", key, what]``: append a value to the log as ``<id>[.<key>]``, where
  what is ``["slot", s]``, ``["attr", s, attr]``, ``["item", s, attr, key]``
  (``s.attr[key]``), ``["index", s, i]`` (``s[i]`` of a tuple) or
  ``["members", s, [slots]]`` (which of those slots the list ``s`` holds).

Arguments are ``["scalar"|"array"|"int"|"tensor", input name]``,
``["const", value]``, ``["slot", s]`` or ``["dict", {key: arg}]``.
The log is a sequence of records ``TAG NAME NBYTES\n`` + NBYTES bytes: ``S``
(a call started), ``V`` (a saved value, as .npy bytes), ``E`` (a call's
error), ``C`` (other interface functions a call used), ``I`` (the file could
not be imported), ``D`` (done). The parent trusts none of it beyond reading
plain arrays back.
"""

import io
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time


_SAVE = None
_TENSOR = None      # torch.Tensor, kept before the submission can patch torch
_TO_NUMPY = None
PRELOAD = ("math", "random", "itertools", "functools", "collections", "copy", "typing", "re", "time",
           "warnings", "numbers", "fractions", "decimal", "statistics", "operator", "string", "dataclasses",
           "numpy.linalg", "numpy.random", "subprocess", "signal", "shutil", "tempfile", "socket", "pathlib")


def _vm_size():
    """This process's address space in bytes (0 when /proc is not there)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limits(job):
    cpu = max(1, int(job["cpu_seconds"]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    # The memory budget is on top of what the harness itself has mapped
    # (numpy, torch): it is what the submission may allocate.
    mem = int(job["memory_bytes"]) + _vm_size()
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    size = int(job["file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(job["processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _hide(job, serverdir):
    """Cover the grader's folders with empty read-only tmpfs mounts (own mount namespace only)."""
    for path in job.get("hide", []):
        if not os.path.isdir(path) or os.path.commonpath([path, serverdir]) in (path, serverdir):
            continue
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k,mode=0555,ro", "tmpfs", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _drop_privileges(request):
    if os.geteuid() != 0 or not request.get("user"):
        return
    uid, gid = int(request["user"][0]), int(request["user"][1])
    if uid <= 0 or gid <= 0:
        raise SystemExit("refusing to run a submission as root")
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.geteuid() == 0:
        raise SystemExit("could not drop root")


def _preload(job):
    """Import what the submission may use while the installation is readable."""
    import importlib
    global _SAVE, _TENSOR, _TO_NUMPY
    import numpy as np
    _SAVE = np.save  # kept before the submission can patch numpy
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    if job.get("torch"):
        import torch
        torch.set_num_threads(1)
        _TENSOR = torch.Tensor
        detach, cpu, numpy = torch.Tensor.detach, torch.Tensor.cpu, torch.Tensor.numpy
        _TO_NUMPY = lambda t: numpy(cpu(detach(t)))  # noqa: E731
    return np


class Leaf:
    """A value node of a computation graph: ``out`` set from outside."""

    def __init__(self, value, node_name):
        self.node_name = node_name
        self.out = value
        self.d_out = None

    def forward(self):
        return self.out

    def backward(self):
        return self.d_out

    def get_predecessors(self):
        return []


def _as_array(value, np):
    if isinstance(value, bool) or value is None:
        raise TypeError(f"returned {type(value).__name__}, not a number or an array")
    if _TENSOR is not None and type(value) is _TENSOR:
        value = _TO_NUMPY(value)
    if not isinstance(value, (int, float, np.ndarray, np.generic, list, tuple)):
        raise TypeError(f"returned a {type(value).__name__}, not a number or an array")
    return np.array(value, dtype=np.float64)


def _entry(container, key, said):
    """container[key] of a dict, or a message naming what it was instead (said: "returned", "grads is")."""
    if not isinstance(container, dict):
        raise TypeError(f"{said} a {type(container).__name__}, not a dict")
    if key not in container:
        owner = "the returned dict" if said == "returned" else said.rsplit(" ", 1)[0]
        raise KeyError(f"{owner} has no key {key!r}")
    return container[key]


class Log:
    """The child's results, appended record by record (each one write)."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def record(self, tag, name, payload=b""):
        os.write(self.fd, f"{tag} {name} {len(payload)}\n".encode() + payload)

    def value(self, name, array):
        buf = io.BytesIO()
        _SAVE(buf, array, allow_pickle=False)
        self.record("V", name, buf.getvalue())


class Call:
    """One call's script, run against the submission's module."""

    def __init__(self, module, inputs, np, torch):
        self.module, self.inputs, self.np, self.torch = module, inputs, np, torch
        self.slots = {}
        self.where = None   # the name being called when a step raises

    def arg(self, spec):
        kind, value = spec[0], spec[1]
        if kind == "scalar":
            return float(self.inputs[value])
        if kind == "array":
            return self.inputs[value].copy()
        if kind == "int":
            return int(self.inputs[value])
        if kind == "tensor":
            return self.torch.from_numpy(self.inputs[value].astype(spec[2] if len(spec) > 2 else "float32"))
        if kind == "const":
            return value
        if kind == "slot":
            return self.slots[value]
        if kind == "dict":
            return {k: self.arg(v) for k, v in value.items()}
        raise ValueError(kind)

    def value(self, what):
        kind, slot = what[0], what[1]
        obj = self.slots[slot]
        if kind == "slot":
            return _as_array(obj, self.np)
        if kind == "attr":
            return _as_array(getattr(obj, what[2]), self.np)
        if kind == "item":
            return _as_array(_entry(getattr(obj, what[2]), what[3], f"{what[2]} is"), self.np)
        if kind == "index":
            if not isinstance(obj, (tuple, list)) or len(obj) <= what[2]:
                raise TypeError(f"returned a {type(obj).__name__}, not a tuple of at least {what[2] + 1} values")
            return _as_array(obj[what[2]], self.np)
        if kind == "key":
            return _as_array(_entry(obj, what[2], "returned"), self.np)
        if kind == "members":
            if not isinstance(obj, (list, tuple)):
                raise TypeError(f"returned a {type(obj).__name__}, not a list")
            leaves = [self.slots[s] for s in what[2]]
            return self.np.array([next((i for i, leaf in enumerate(leaves) if leaf is item), -1) for item in obj],
                                 dtype=self.np.float64)
        raise ValueError(kind)

    def run(self, steps, log, cid):
        for step in steps:
            op = step[0]
            if op == "call":
                _, dest, obj, name, args, kwargs = step
                label = name if obj is None else f"{type(self.slots[obj]).__name__}.{name}"
                self.where = label
                owner = self.module if obj is None else self.slots[obj]
                fn = getattr(owner, name, None) if obj is not None else owner.__dict__.get(name)
                if not callable(fn):
                    raise LookupError(f"{label} is not defined")
                result = fn(*[self.arg(a) for a in args], **{k: self.arg(a) for k, a in kwargs.items()})
                if dest is not None:
                    self.slots[dest] = result
            elif op == "leaf":
                self.slots[step[1]] = Leaf(self.arg(step[2]), step[1])
            elif op == "setattr":
                setattr(self.slots[step[1]], step[2], self.arg(step[3]))
            elif op == "setitem":
                container = getattr(self.slots[step[1]], step[2])
                container[step[3]] = self.arg(step[4])
            elif op == "save":
                log.value(cid if not step[1] else f"{cid}.{step[1]}", self.value(step[2]))
            else:
                raise ValueError(op)


def run_submission(job, request, inputs, np, torch):
    """In the child: limits, unprivileged user, import, every call; never returns."""
    import importlib.util
    workdir = request["workdir"]
    os.chdir(workdir)
    _limits(job)
    os.umask(0o077)
    _drop_privileges(request)
    log = Log(os.path.join(workdir, "out", "log"))
    sys.path.insert(0, os.path.join(workdir, "submission"))
    sys.argv = [request["entry"]]
    try:
        spec = importlib.util.spec_from_file_location(
            "submission", os.path.join(workdir, "submission", request["entry"]))
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: B902 - anything the submission raises at import
        log.record("I", "-", f"{type(exc).__name__}: {exc}"[:2000].encode())
        os._exit(0)
    called = set()

    def traced(name, fn):
        def wrapper(*args, **kwargs):
            called.add(name)
            return fn(*args, **kwargs)
        wrapper.__name__ = getattr(fn, "__name__", name)
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper

    for name in job.get("trace", []):
        fn = module.__dict__.get(name)
        if callable(fn) and not isinstance(fn, type):
            module.__dict__[name] = traced(name, fn)
    skip = set(request.get("skip", []))
    for call in job["calls"]:
        cid = call["id"]
        if cid in skip:
            continue
        log.record("S", cid)
        called.clear()
        script = Call(module, inputs, np, torch)
        try:
            script.run(call["steps"], log, cid)
        except BaseException as exc:  # noqa: B902 - SystemExit and KeyboardInterrupt are results too
            where = "" if script.where in (None, call["func"]) else f"in {script.where}: "
            log.record("E", cid, f"{where}{type(exc).__name__}: {exc}"[:2000].encode())
        log.record("C", cid, json.dumps(sorted(called - {call["func"]})).encode())
    log.record("D", "-")
    os._exit(0)


def _child(job, request, inputs, np, torch):
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)   # the protocol pipes are the server's, never the submission's
        os.closerange(3, 4096)
        run_submission(job, request, inputs, np, torch)
    finally:
        os._exit(70)


def _log_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _wait(pid, log_path, wall, startup):
    """The child's status: exit code, -signal, or None when a call ran past the wall-clock limit."""
    deadline, seen = time.monotonic() + wall + startup, -1
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            now = time.monotonic()
            size = _log_size(log_path)
            if size != seen:
                if seen >= 0 or size > 0:
                    deadline = max(deadline if size <= 0 else 0, now + wall)
                seen = size
            if now > deadline:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], 0.02)
            else:
                time.sleep(0.005)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _clean_up(pid):
    """Kill the child and everything it started; reap them."""
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)   # every other process of this PID namespace
        except ProcessLookupError:
            pass
    else:
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not done:
            if os.getpid() != 1:
                return
            time.sleep(0.001)


def serve(serverdir):
    with open(os.path.join(serverdir, "server.json")) as fh:
        job = json.load(fh)
    if job.get("hide"):
        _hide(job, serverdir)
    # Loaded before any child drops privileges: the Python installation may
    # not be readable by the unprivileged user (e.g. under /root/.pyenv).
    np = _preload(job)
    torch = sys.modules.get("torch")
    inputs = {key: np.load(os.path.join(serverdir, fname), allow_pickle=False)
              for key, fname in job["arrays"].items()}
    import importlib.util  # noqa: F401 - loaded for the children
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(job, request, inputs, np, torch)
        status = _wait(pid, os.path.join(request["workdir"], "out", "log"), float(job["wall_seconds"]),
                       float(job["startup"]))
        _clean_up(pid)
        out.write(json.dumps({"status": status}) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
