"""The sandbox's identity, filesystem view and whole-submission limits, as the grader prepares them.

* :class:`Identity`: a uid no other symgrad process on the machine holds. Each
  uid has a lock file in a root-only state folder (:func:`state_dir`); a
  sandbox takes an exclusive ``flock`` on one for its whole life, so the uid
  is never handed out twice at once, and the kernel releases it when the
  process dies, however it dies. Work folders and cgroups are named after the
  uid; a new sandbox removes those of any uid whose lock is free (a killed run's
  leftovers) before it starts.
* :func:`view`: what the jail's root holds (see ``_runner._build_root``): the
  system libraries, the Python standard library, the interpreter and the
  allowed packages only, each read-only at its own path; every site-packages
  folder is emptied first.
* :class:`Cgroup`: memory and process-count limits for everything a submission
  starts (cgroup v2 where the controllers are delegated, else v1 memory + pids
  where writable, else none: the per-process rlimits stay in every case).
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import site
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

#: The packages every submission may import (besides the standard library), by what the
#: interface hands over: numpy always, torch for an interface of tensors (the mlp profile).
#: An instructor adds more with ``--allow-package NAME`` (verify --code and grade).
BASE_PACKAGES = ("numpy",)
TORCH_PACKAGES = ("torch",)


def allowed_packages(torch: bool, extra=()) -> tuple:
    """The distributions a submission may import: the profile's, then the instructor's."""
    return tuple(dict.fromkeys(BASE_PACKAGES + (TORCH_PACKAGES if torch else ()) + tuple(extra)))


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
    """Leftovers of every uid whose lock is free (a run that was killed): on a sandbox's start."""
    try:
        folder = state_dir()
    except OSError:
        return
    for lock in folder.glob("*.lock"):
        match = re.fullmatch(r"(\d+)\.lock", lock.name)
        fd = _try_lock(lock) if match else None
        if fd is not None:
            try:
                remove_leftovers(int(match.group(1)))
            finally:
                os.close(fd)


def _package_paths(name: str, seen: set, out: set) -> None:
    from importlib import metadata
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    seen.add(key)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return
    for req in dist.requires or []:
        if "extra ==" not in req:
            _package_paths(re.match(r"[A-Za-z0-9._-]+", req).group(0), seen, out)
    for f in dist.files or []:
        first = f.parts[0] if f.parts else ""
        if first and first not in ("..", "__pycache__"):
            out.add(str(Path(dist.locate_file(first))))


@functools.lru_cache(maxsize=None)
def view(packages: tuple) -> dict:
    """The jail's contents for these distributions (and what they require): plain data for the runner."""
    paths: set = set()
    seen: set = set()
    for name in packages:
        _package_paths(name, seen, paths)
    executable = os.path.realpath(sys.executable)
    libdir, library = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    files = [executable] + ([os.path.join(libdir, library)] if libdir and library else [])
    sites = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p)]
    stdlib = sorted({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]})
    return {"system": [p for p in SYSTEM if os.path.lexists(p)], "stdlib": stdlib, "site": sorted(set(sites)),
            "packages": sorted(paths) + [f for f in files if os.path.isfile(f)]}


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
