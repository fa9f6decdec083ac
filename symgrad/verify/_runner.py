"""Runs inside the sandbox: containment first, then the submission, then the calls.

Executed as a script (``python -I _runner.py WORKDIR``), never imported by
symgrad itself. It reads ``job.json`` and the input ``.npy`` files from
WORKDIR, applies the resource limits, drops to an unprivileged user when it
runs as root, imports the submission, and for every call writes
``out/<id>.started`` before and ``out/<id>[.<key>].npy`` (or ``out/<id>.err``)
after. The parent trusts none of it beyond reading plain arrays back.
"""

import json
import os
import resource
import subprocess
import sys


_SAVE = None
PRELOAD = ("math", "random", "itertools", "functools", "collections", "copy", "typing", "re", "time",
           "warnings", "numbers", "fractions", "decimal", "statistics", "operator", "string", "dataclasses",
           "numpy.linalg", "numpy.random", "subprocess", "signal", "shutil", "tempfile", "socket", "pathlib")


def _limits(job):
    cpu = max(1, int(job["cpu_seconds"]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    mem = int(job["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    size = int(job["file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(job["processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _hide(job, workdir):
    """Cover the grader's folders with empty read-only tmpfs mounts (own mount namespace only)."""
    hidden = []
    for path in job.get("hide", []):
        if not os.path.isdir(path) or os.path.commonpath([path, workdir]) in (path, workdir):
            continue
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k,mode=0555,ro", "tmpfs", path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode == 0:
            hidden.append(path)
    with open(os.path.join(workdir, "out", "hidden.json"), "w") as fh:
        json.dump(hidden, fh)


def _drop_privileges(job):
    if os.geteuid() != 0 or not job.get("user"):
        return
    uid, gid = int(job["user"][0]), int(job["user"][1])
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.geteuid() == 0:
        raise SystemExit("could not drop root")


def _save(out, name, value, np):
    if isinstance(value, bool) or value is None:
        raise TypeError(f"returned {type(value).__name__}, not a number or an array")
    if not isinstance(value, (int, float, np.ndarray, np.generic, list, tuple)):
        raise TypeError(f"returned a {type(value).__name__}, not a number or an array")
    array = np.array(value, dtype=np.float64)
    tmp = os.path.join(out, name + ".npy.part")
    with open(tmp, "wb") as fh:
        _SAVE(fh, array, allow_pickle=False)
    os.replace(tmp, os.path.join(out, name + ".npy"))  # complete files only


def main(workdir):
    with open(os.path.join(workdir, "job.json")) as fh:
        job = json.load(fh)
    os.chdir(workdir)
    if job.get("hide"):
        _hide(job, workdir)
    _limits(job)
    # Imported before dropping privileges: the Python installation may not be
    # readable by the unprivileged user (e.g. under /root/.pyenv).
    import numpy as np
    import importlib.util
    global _SAVE
    _SAVE = np.save  # kept before the submission can patch numpy
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _drop_privileges(job)

    out = os.path.join(workdir, "out")
    inputs = {}
    for key, fname in job["arrays"].items():
        inputs[key] = np.load(os.path.join(workdir, fname), allow_pickle=False)

    def arg(spec):
        kind, value = spec
        if kind == "scalar":
            return float(inputs[value])
        if kind == "array":
            return inputs[value].copy()
        if kind == "dict":
            return {k: arg(v) for k, v in value.items()}
        raise ValueError(kind)

    sys.path.insert(0, os.path.join(workdir, "submission"))
    sys.argv = [job["entry"]]
    try:
        spec = importlib.util.spec_from_file_location("submission", os.path.join(workdir, "submission", job["entry"]))
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: B902 - anything the submission raises at import
        with open(os.path.join(out, "import.err"), "w") as fh:
            fh.write(f"{type(exc).__name__}: {exc}"[:2000])
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
    skip = set(job.get("skip", []))
    for call in job["calls"]:
        cid = call["id"]
        if cid in skip:
            continue
        open(os.path.join(out, cid + ".started"), "w").close()
        called.clear()
        try:
            fn = getattr(module, call["func"], None)
            if not callable(fn):
                raise LookupError(f"{call['func']} is not defined")
            value = fn(*[arg(a) for a in call["args"]])
            with open(os.path.join(out, cid + ".calls"), "w") as fh:
                json.dump(sorted(called - {call["func"]}), fh)
            if call.get("keys"):
                if not isinstance(value, dict):
                    raise TypeError(f"returned a {type(value).__name__}, not a dict")
                for key in call["keys"]:
                    if key not in value:
                        raise KeyError(f"the returned dict has no key {key!r}")
                    _save(out, f"{cid}.{key}", value[key], np)
            else:
                _save(out, cid, value, np)
        except BaseException as exc:  # noqa: B902 - SystemExit and KeyboardInterrupt are results too
            with open(os.path.join(out, cid + ".calls"), "w") as fh:
                json.dump(sorted(called - {call["func"]}), fh)
            with open(os.path.join(out, cid + ".err"), "w") as fh:
                fh.write(f"{type(exc).__name__}: {exc}"[:2000])
    open(os.path.join(out, "done"), "w").close()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
