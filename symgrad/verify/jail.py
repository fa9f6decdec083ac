"""The sandbox's identity, filesystem view and whole-submission limits, as the grader prepares them.

* :class:`Identity`: a uid no other symgrad process on the machine holds. Each
  uid has a lock file in a root-only state folder (:func:`state_dir`); a
  sandbox takes an exclusive ``flock`` on one for its whole life, so the uid
  is never handed out twice at once, and the kernel releases it when the
  process dies, however it dies. Work folders and cgroups are named after the
  uid; a new sandbox removes those of any uid whose lock is free (a killed run's
  leftovers) before it starts.
* :func:`view`: what the jail's root holds (see ``_runner._build_root``): the
  system libraries and the grader's whole Python environment (interpreter,
  standard library, every site-packages folder and ``.pth`` entry), each
  read-only at its own path, wherever it is installed (system, venv, pyenv or
  conda, under a 0700 home too: the binds are made by root before the uid is
  dropped, and the folders leading to them are the jail's own, world-readable),
  with symgrad and the denied distributions masked.

  Why everything, not an allow-list: students import what their course's
  starter and their own habits bring (torch, matplotlib, sympy, glob, pandas),
  and a module refused is a correct submission reported as crashed. What the
  jail protects is the grader, not the environment's code: it is read-only,
  and every other layer holds whatever a submission imports. The one package
  that must stay out is symgrad, which derives every answer (and its checkout
  holds generated/ and the tests); :data:`DENIED` names it, and an instructor
  hides more (a package that would do a student's work) with ``deny``.
  ``--allow-package`` keeps its name but now says which modules the fork
  server loads once before any submission (:func:`preload_modules`); a
  package outside the environment is never reachable (the runner is ``-I``).
* :class:`Cgroup`: memory and process-count limits for everything a submission
  starts (cgroup v2 where the controllers are delegated, else v1 memory + pids
  where writable, else none: the per-process rlimits stay in every case).
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

UID_BASE, UID_SPAN = 620_000, 30_000     # far above the uids of real accounts
STATE_DIRS = ("/run/symgrad", os.path.join(tempfile.gettempdir(), "symgrad-state"))
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")

#: Never importable by a submission, whatever else is: symgrad holds the answers (its derivations,
#: its generated code). An instructor hides more with ``deny`` (:class:`symgrad.verify.sandbox.Sandbox`).
DENIED = ("symgrad",)
#: Loaded in the fork server before any submission: numpy always; a course's packages and the
#: instructor's ``--allow-package`` come on top (:func:`preload_modules`).
BASE_PACKAGES = ("numpy",)
TORCH_PACKAGES = ("torch",)


def preload_modules(torch: bool, extra=()) -> tuple:
    """The modules the fork server imports once: numpy, torch for an interface of tensors, then the
    course's and the instructor's distributions (by their import names), symgrad and the denied never."""
    modules = []
    for name in BASE_PACKAGES + (TORCH_PACKAGES if torch else ()) + tuple(extra):
        own, found = name.replace("-", "_"), import_names(name)
        modules += [own] if own in found else list(found)   # torch, not also torchgen and functorch
    return tuple(m for m in dict.fromkeys(modules) if m not in DENIED)


def state_dir() -> Path:
    """A root-owned folder of mode 0700 for the uid locks: /run/symgrad, else $TMPDIR/symgrad-state."""
    for candidate in STATE_DIRS:
        path = Path(candidate)
        try:
            path.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077:
            return path
    raise OSError("no private state folder for the sandbox's uid locks (tried " + ", ".join(STATE_DIRS) + ")")


class Identity:
    """One uid, locked for the life of this object (and of this process)."""

    def __init__(self):
        folder = state_dir()
        start = (os.getpid() * 7919 + time.monotonic_ns()) % UID_SPAN
        for i in range(UID_SPAN):
            uid = UID_BASE + (start + i) % UID_SPAN
            fd = _try_lock(folder / f"{uid}.lock")
            if fd is not None:
                self.uid, self.fd = uid, fd
                remove_leftovers(uid)
                return
        raise OSError("every sandbox uid is in use")

    def release(self) -> None:
        if self.fd is not None:
            remove_leftovers(self.uid)
            os.close(self.fd)   # the lock file stays: deleting it would race with the next taker
            self.fd = None


def _try_lock(path: Path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def work_prefix(uid) -> str:
    return f"symgrad-{uid}-"


def remove_leftovers(uid) -> None:
    """Work folders and cgroups of ``uid`` (its lock held by the caller)."""
    tmp = Path(tempfile.gettempdir())
    for path in tmp.glob(work_prefix(uid) + "*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
    Cgroup.remove_named(f"symgrad-{uid}")


def remove_stale() -> None:
    """Leftovers of every uid whose lock is free (a run that was killed): on a sandbox's start.

    The temporary folder is listed once (a uid at a time took 15 s with 700 locks and 10,000 entries)."""
    try:
        folder = state_dir()
    except OSError:
        return
    work: dict = {}
    try:
        with os.scandir(tempfile.gettempdir()) as entries:
            for entry in entries:
                match = re.match(r"symgrad-(\d+)-", entry.name)
                if match:
                    work.setdefault(int(match.group(1)), []).append(entry)
    except OSError:
        pass
    for lock in folder.glob("*.lock"):
        match = re.fullmatch(r"(\d+)\.lock", lock.name)
        fd = _try_lock(lock) if match else None
        if fd is not None:
            try:
                uid = int(match.group(1))
                for entry in work.get(uid, []):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                Cgroup.remove_named(f"symgrad-{uid}")
            finally:
                os.close(fd)


@functools.lru_cache(maxsize=None)
def _probe_path() -> tuple:
    """sys.path as the sandbox's interpreter sees it (``python -I``: no user site, no PYTHONPATH), real paths."""
    probe = "import json, sys; print(json.dumps(sys.path))"
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    entries = json.loads(done.stdout) if done.returncode == 0 else sys.path
    return tuple(dict.fromkeys(os.path.realpath(e) for e in entries if e))


def import_names(name: str) -> tuple:
    """The top-level modules a distribution installs (``scikit-learn`` -> ``sklearn``), else the name itself."""
    from importlib import metadata
    try:
        dist = metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        return (name.replace("-", "_"),)
    top = (dist.read_text("top_level.txt") or "").split()
    if not top:
        top = sorted({f.parts[0].split(".")[0] for f in dist.files or []
                      if f.parts and f.parts[0] not in ("..", "__pycache__") and not f.parts[0].endswith(
                          (".dist-info", ".egg-info", ".pth", ".data")) and not f.parts[0].startswith("__editable__")})
    return tuple(top) or (name.replace("-", "_"),)


def _denied_files(name: str) -> set:
    """Every file or folder a distribution put in the environment, by its own record (scripts included)."""
    from importlib import metadata
    try:
        dist = metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        return set()
    out = set()
    for f in dist.files or []:
        if f.parts and f.parts[0] != "__pycache__":
            out.add(os.path.realpath(str(dist.locate_file(f if f.parts[0] == ".." else f.parts[0]))))
    return out


def _under(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _modules_in(folder: str, names) -> list:
    """What in ``folder`` would import as one of ``names`` (a package, a module, an extension)."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, e) for e in entries if any(e == n or e.startswith(n + ".") for n in names)]


@functools.lru_cache(maxsize=None)
def view(deny: tuple = ()) -> dict:
    """The jail's contents: the grader's whole Python environment but symgrad and ``deny`` (plain data for
    the runner).

    * ``system``: /usr, /lib... (the system libraries; a Python under /usr is in them);
    * ``python``: folders bound whole, read-only, each at its own path: ``lib`` (and ``lib64``) of every
      prefix (a venv's and its base's: the standard library, site-packages and, for pyenv or conda, the
      shared libraries), and every other folder on the interpreter's sys.path (``.pth`` entries) except
      one that holds a denied module outside any site-packages (a symgrad checkout, whose generated/
      holds the answers, is not bound);
    * ``files``: the interpreter and libpython when they are outside those;
    * ``mask``: what is hidden again inside them (an empty, unreadable folder or an empty file over each):
      every file the denied distributions installed (package, dist-info, .pth, editable finder, scripts)
      and every module of theirs on sys.path.
    """
    deny = tuple(dict.fromkeys(DENIED + tuple(deny)))
    names = {n for d in deny for n in import_names(d)} | {d.replace("-", "_") for d in deny}
    system = [p for p in SYSTEM if os.path.lexists(p)]
    bound = [os.path.realpath(p) for p in system if not os.path.islink(p)]
    folders = []
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for sub in ("lib", "lib64"):
            path = os.path.realpath(os.path.join(prefix, sub))
            if os.path.isdir(path) and path != "/":
                folders.append(path)
    path_entries = [p for p in _probe_path() if os.path.isdir(p) and p != "/"]
    for path in path_entries:
        if os.path.basename(path) in ("site-packages", "dist-packages") or not _modules_in(path, names):
            folders.append(path)
    python = []
    for path in sorted(set(folders), key=len):   # a nested folder once: the outer bind holds it
        if not _under(path, bound + python):
            python.append(path)
    executable = os.path.realpath(sys.executable)
    libdir, library = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    files = [executable] + ([os.path.realpath(os.path.join(libdir, library))] if libdir and library else [])
    files = sorted({f for f in files if os.path.isfile(f) and not _under(f, bound + python)})
    mask = set()
    for name in deny:
        mask |= _denied_files(name)
    for path in path_entries:
        mask.update(os.path.realpath(m) for m in _modules_in(path, names))
    inside = bound + python
    mask = sorted(m for m in mask if os.path.lexists(m) and _under(m, inside) and m not in inside)
    return {"system": system, "python": python, "files": files, "mask": mask}


CGROUP_ROOT = Path("/sys/fs/cgroup")


class Cgroup:
    """A cgroup (v2) or a pair of cgroups (v1 memory and pids) for one sandbox's submissions."""

    def __init__(self, name: str, memory: int, processes: int):
        self.paths, self.kind = [], None
        v2 = _v2_root()
        if v2 is not None:
            self._make(v2 / name, {"memory.max": memory, "memory.swap.max": 0, "pids.max": processes})
            self.kind = "v2"
        else:
            mem, pids = _v1_root("memory"), _v1_root("pids")
            if mem is not None and pids is not None:
                self._make(mem / name, {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory})
                self._make(pids / name, {"pids.max": processes})
                self.kind = "v1"

    def _make(self, path: Path, settings: dict) -> None:
        path.mkdir(exist_ok=True)
        self.paths.append(path)
        for key, value in settings.items():
            try:
                (path / key).write_text(str(value))
            except FileNotFoundError:   # memsw without swap accounting, swap.max without swap
                continue

    @property
    def procs(self) -> list:
        """The cgroup.procs files a child writes itself into."""
        return [str(p / "cgroup.procs") for p in self.paths]

    def remove(self) -> None:
        for path in self.paths:
            _rmdir(path)
        self.paths = []

    @staticmethod
    def remove_named(name: str) -> None:
        roots = [r for r in (_v2_root(), _v1_root("memory"), _v1_root("pids")) if r is not None]
        for r in roots:
            if (r / name).is_dir():
                _rmdir(r / name)


def _rmdir(path: Path) -> None:
    for _ in range(50):   # a killed process leaves its cgroup a moment after it is reaped
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


@functools.lru_cache(maxsize=None)
def _v2_root():
    """A writable cgroup2 folder with the memory and pids controllers delegated to its children."""
    if os.geteuid() != 0:
        return None
    for base in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        try:
            controllers = (base / "cgroup.controllers").read_text().split()
        except OSError:
            continue
        if {"memory", "pids"} <= set(controllers):
            parent = base / "symgrad"
            try:
                parent.mkdir(exist_ok=True)
                (base / "cgroup.subtree_control").write_text("+memory +pids")
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
                return parent
            except OSError:
                continue
    return None


@functools.lru_cache(maxsize=None)
def _v1_root(controller: str):
    """A writable folder of the v1 ``controller`` hierarchy to make the run's cgroups in."""
    if os.geteuid() != 0:
        return None
    base = CGROUP_ROOT / controller
    parent = base / "symgrad"
    try:
        if not (base / "cgroup.procs").exists():
            return None
        parent.mkdir(exist_ok=True)
        return parent
    except OSError:
        return None


@functools.lru_cache(maxsize=None)
def jail_available() -> bool:
    """True when a process here can make new mount/PID/network namespaces and mount a tmpfs (root)."""
    if os.geteuid() != 0:
        return False
    probe = ("import ctypes,os,sys;l=ctypes.CDLL(None,use_errno=True);"
             "sys.exit(0 if l.unshare(0x20000|0x20000000|0x40000000|0x8000000)==0 and "
             "l.mount(None,b'/',None,16384|262144,None)==0 and "
             "l.mount(b'tmpfs',b'/tmp',b'tmpfs',0,b'size=4k')==0 else 1)")
    try:
        done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
