"""Runs inside the sandbox: a fork server that runs submissions one at a time.

Executed as a script (``python -I _runner.py SERVERDIR``), never imported by
symgrad itself, and importing nothing of symgrad (the jail has no symgrad in
it). Once, at start: it ties its life to the grader's (PR_SET_PDEATHSIG),
enters new mount, PID, network, IPC and UTS namespaces when told to (root), reads
``server.json`` and the input ``.npy`` files, loads what submissions may
need (numpy, the course's packages: :func:`_preload`), builds the jail's root (:func:`_build_root`)
and joins the run's cgroups (its children are born in them). Then,
for every request line on stdin it forks a child that
enters its own mount namespace with private tmpfs for /tmp, /dev/shm and its
work folder, chroots into the jail, applies the resource limits, drops to the
run's unprivileged uid, imports the submission and runs the calls, writing
``out/log`` and a byte on a pipe after each call. The server times each call
on its own clock from the end of the previous one, counting at most one byte
per call (a submission writing bytes itself gains no more than its calls'
limits), then kills the child -- and, as PID 1 of its own PID namespace, every process the child left behind --
and answers one status line on stdout.

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
``["const", value]``, ``["slot", s]``, ``["dict", {key: arg}]`` or
``["function", name]`` (the submission's own top-level function, passed as a
callback: word2vec's ``skipgram(..., negSamplingLossAndGradient)``).
The log is a sequence of records ``TAG NAME NBYTES\n`` + NBYTES bytes: ``S``
(a call started), ``V`` (a saved value, as .npy bytes), ``E`` (a call's
error), ``C`` (other interface functions a call used), ``I`` (the file could
not be imported), ``D`` (done). The parent trusts none of it beyond reading
plain arrays back.
"""

import ctypes
import io
import json
import linecache
import os
import resource
import select
import signal
import sys
import time


_SAVE = None
_TENSOR = None      # torch.Tensor, kept before the submission can patch torch
_TO_NUMPY = None
PRELOAD = ("math", "random", "itertools", "functools", "collections", "copy", "typing", "re", "time",
           "warnings", "numbers", "fractions", "decimal", "statistics", "operator", "string", "dataclasses",
           "numpy.linalg", "numpy.random", "subprocess", "signal", "shutil", "tempfile", "socket", "pathlib")
#: What a course's starter imports along with a package (``import matplotlib.pyplot as plt``).
PRELOAD_WITH = {"matplotlib": ("matplotlib.pyplot",)}


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


_LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
DEVICES = ("null", "zero", "urandom", "random")


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None):
    def enc(v):
        return v.encode() if v is not None else None
    _check(_LIBC.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _bind(src, target, writable=False, device=False):
    _mount(src, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if device else MS_NODEV) | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def _die_with_parent():
    """SIGKILL when the process that started this one ends (a killed grader leaves nothing running)."""
    _check(_LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")


def _enter_namespaces():
    """New mount, PID, network, IPC and UTS namespaces; returns only in PID 1 of the new one."""
    _check(_LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    pid = os.fork()
    if pid == 0:
        _die_with_parent()
        return
    sys.stdin.close()   # the pipes are PID 1's
    os.close(0)
    os.close(1)
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _target(root, path, is_dir):
    target = root + path
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    return target


def _build_root(job, root):
    """The jail: a tmpfs holding read-only binds of the system libraries and of the grader's Python
    environment (each at its own path), with symgrad and the denied distributions masked, /proc of this
    PID namespace and a /dev of a few devices. Nothing else of the machine is in it."""
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for path in job["system"]:          # /usr, /lib...: a link (merged /usr) is made as a link
        if os.path.islink(path):
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind(path, _target(root, path, True))
    open(root + MASKED, "w").close()
    _bind_environment(job, root, lambda path: True)
    for name in ("tmp", "work", "dev/shm", "proc"):
        os.makedirs(root + "/" + name, exist_ok=True)
    for name in DEVICES:
        _bind("/dev/" + name, _target(root, "/dev/" + name, False), writable=True, device=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=16m,mode=0755")


MASKED = "/.masked"          # an empty file of the jail's root, bound over each denied file
PRIVATE = ("/tmp", "/dev/shm", "/work")   # each child's own tmpfs


def _under(path, folder):
    return path == folder or path.startswith(folder + "/")


def _bind_environment(job, root, where):
    """Bind the Python environment's folders and files (those ``where`` accepts) read-only at their own
    paths, then mask symgrad and the denied distributions in them."""
    for path in job["python"] + job["files"]:   # wherever it lives (a 0700 home too)
        if where(path) and os.path.exists(path):
            _bind(path, _target(root, path, os.path.isdir(path)))
    for path in job["mask"]:
        target = root + path
        if not where(path) or os.path.islink(target) or not os.path.lexists(target):
            continue
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
        else:
            _bind(root + MASKED, target)


def _enter_jail(job, request):
    """In the child: its own mount and IPC namespaces, private tmpfs for /tmp, /dev/shm and /work, its submission
    read-only and its out/ folder bound in, then chroot. Returns the work folder as the child sees it."""
    root, host, size = job["root"], request["workdir"], int(job["memory_bytes"])
    _check(_LIBC.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")   # its own SysV shared memory too
    uid, gid = (int(v) for v in request["user"]) if request.get("user") else (0, 0)
    tmpfs = f"size={size},mode=0700,uid={uid},gid={gid}"
    for name in PRIVATE:
        _mount("tmpfs", root + name, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
    # an environment under one of them (a venv in /tmp) is bound again over the child's own tmpfs
    _bind_environment(job, root, lambda path: any(_under(path, name) for name in PRIVATE))
    for name, writable in (("submission", False), ("out", True)):
        os.mkdir(root + "/work/" + name)
        _bind(os.path.join(host, name), root + "/work/" + name, writable)
    os.chroot(root)
    os.chdir("/work")
    return "/work"


def _join_cgroups(job):
    for procs in job.get("cgroups", []):
        fd = os.open(procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def _set_oom_score(value):
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write(str(value))
    except OSError:   # not root: the kernel's default stays
        pass


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
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")


def _threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _preload(job, serverdir):
    """Import what submissions may use while the installation is readable, before any fork: the harness's
    list, numpy, torch for an interface of tensors, and the course's and instructor's modules
    (``job["preload"]``), so a submission whose first line is ``import torch`` pays nothing for it.
    Safe to fork after: torch runs one intra-op and one inter-op thread, started lazily, and
    ``preloaded.json`` in the server folder records the process's thread count once loaded (1)."""
    import importlib
    global _SAVE, _TENSOR, _TO_NUMPY
    # matplotlib: headless, its font cache built once per machine in a root-only folder
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["MPLCONFIGDIR"] = job.get("mplconfig") or os.path.join(serverdir, "matplotlib")
    import numpy as np
    _SAVE = np.save  # kept before the submission can patch numpy
    loaded, failed = [], []
    for name in PRELOAD + tuple(job.get("preload", ())):
        for module in (name,) + PRELOAD_WITH.get(name, ()):
            try:
                importlib.import_module(module)
                loaded.append(module)
            except Exception:  # noqa: BLE001 - not installed or broken here: the submission will say so
                failed.append(module)
            if module == "torch" and "torch" in sys.modules:
                _one_thread(sys.modules["torch"])
    if job.get("torch"):
        import torch
        _one_thread(torch)
        _TENSOR = torch.Tensor
        detach, cpu, numpy = torch.Tensor.detach, torch.Tensor.cpu, torch.Tensor.numpy
        _TO_NUMPY = lambda t: numpy(cpu(detach(t)))  # noqa: E731
    import gc
    gc.collect()
    gc.freeze()   # children never scan (and so never copy) the preloaded objects
    try:
        _LIBC.malloc_trim(0)   # freed import-time heap back to the system: less for each fork to map
    except AttributeError:
        pass
    with open(os.path.join(serverdir, "preloaded.json"), "w") as fh:
        json.dump({"loaded": loaded, "failed": failed, "threads": _threads()}, fh)
    return np


def _one_thread(torch):
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:   # already set (or the pool already started): it stays as it is
        pass


class Hidden:
    """A finder that says symgrad (and each denied module) is not installed. The jail masks their files; this
    only names the refusal plainly (without the jail it is no barrier: a submission can remove it)."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


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
        if kind == "function":
            fn = self.module.__dict__.get(value)
            if not callable(fn):
                raise LookupError(f"{value} is not defined")
            return fn
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


TRACE_MARK = "\x1etraceback\x1e\n"   # symgrad.verify.judge.TRACE_MARK


def _own_frames(exc, folder):
    """The traceback's frames in the submission's own files, outermost first (the harness's left out)."""
    lines = []
    try:
        tb, seen = exc.__traceback__, 0
        while tb is not None and seen < 200:
            seen += 1
            code = tb.tb_frame.f_code
            name = code.co_filename
            if isinstance(name, str) and name.startswith(folder + os.sep):
                lines.append(f'  File "{name[len(folder) + 1:]}", line {tb.tb_lineno}, in {code.co_name}')
                text = linecache.getline(name, tb.tb_lineno).strip()
                if text:
                    lines.append("    " + text[:200])
            tb = tb.tb_next
    except BaseException:  # noqa: B902 - a submission's odd exception costs its traceback, nothing more
        return ""
    return "\n".join(lines[-24:])


def run_submission(job, request, inputs, np, torch, ack):
    """In the child: OOM score, jail, limits, unprivileged user, import, then each call, a byte on ``ack``
    after the import and after each call (the server times them); never returns."""
    import importlib.util
    _set_oom_score(0)   # the server's -1000 is not the submission's
    workdir = _enter_jail(job, request) if job.get("root") else request["workdir"]
    os.chdir(workdir)
    _limits(job)
    os.umask(0o077)
    _drop_privileges(request)
    log = Log(os.path.join(workdir, "out", "log"))
    os.environ["MPLCONFIGDIR"] = "/tmp/matplotlib" if job.get("root") else os.path.join(workdir, ".matplotlib")
    sys.meta_path.insert(0, Hidden(job.get("hidden", ())))
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
    os.write(ack, b"i")
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
            frames = _own_frames(exc, os.path.join(workdir, "submission"))
            log.record("E", cid, (f"{where}{type(exc).__name__}: {exc}"[:1000] + TRACE_MARK + frames).encode())
        log.record("C", cid, json.dumps(sorted(called - {call["func"]})).encode())
        os.write(ack, b"d")
    log.record("D", "-")
    os._exit(0)


def _child(job, request, inputs, np, torch, ack):
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)   # the protocol pipes are the server's, never the submission's
        os.dup2(ack, 3)
        os.closerange(4, 4096)
        run_submission(job, request, inputs, np, torch, 3)
    finally:
        os._exit(70)


def _run_child(pid, ack, calls, wall, startup, grader):
    """The child's status: exit code, -signal, or None when it overran a deadline.

    The deadline is the server's: startup + wall for the import, then wall from the moment the server
    saw the last call end (a byte on ``ack``). At most ``calls + 1`` bytes count, so a submission that
    writes acknowledgements itself gains at most what its honest calls could have had; after the last,
    the child has a fixed second to end. A grader gone (stdin at EOF) ends the server."""
    pidfd = os.pidfd_open(pid)
    try:
        seen, deadline = 0, time.monotonic() + startup + wall
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([ack, pidfd, grader], [], [], min(left, 1.0))
            if grader in ready and not os.read(grader, 1):
                os._exit(1)
            if ack in ready and seen <= calls:
                got = min(len(os.read(ack, 4096)), calls + 1 - seen)
                if got:
                    seen += got
                    deadline = time.monotonic() + (wall if seen <= calls else 1.0)
    finally:
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


def _requests(fd):
    """Request lines from the grader (raw reads: its EOF must be seen while a child runs)."""
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        yield json.loads(line)


def serve(serverdir):
    _die_with_parent()
    with open(os.path.join(serverdir, "server.json")) as fh:
        job = json.load(fh)
    if job.get("root"):
        _enter_namespaces()
    # Loaded before the jail and before any child drops privileges: the Python installation may
    # not be readable by the unprivileged user (e.g. under /root/.pyenv).
    np = _preload(job, serverdir)
    torch = sys.modules.get("torch")
    inputs = {key: np.load(os.path.join(serverdir, fname), allow_pickle=False)
              for key, fname in job["arrays"].items()}
    import importlib.util  # noqa: F401 - loaded for the children
    if job.get("root"):
        _build_root(job, job["root"])
    # The server joins the run's cgroups once, its children are born in them: moving each child
    # cost 10-20 ms (a cgroup migration waits for an RCU grace period). Its own pages were charged
    # before it joined; it is never the one the cgroup's OOM killer picks.
    _set_oom_score(-1000)
    _join_cgroups(job)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    calls = len(job["calls"])
    for request in _requests(0):
        ack_r, ack_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ack_r)
            _child(job, request, inputs, np, torch, ack_w)
        os.close(ack_w)
        status = _run_child(pid, ack_r, calls - len(request.get("skip", [])), float(job["wall_seconds"]),
                            float(job["startup"]), 0)
        _clean_up(pid)
        os.close(ack_r)
        out.write(json.dumps({"status": status}) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
