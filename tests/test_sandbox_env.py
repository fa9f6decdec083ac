"""The sandbox's view of the grader's Python environment (issue 18, item 1): every installed module is
importable by a submission, wherever Python is installed, symgrad never; the course's packages are
preloaded in the fork server (a first line ``import torch`` costs nothing); matplotlib runs headless.

The CI case: a Python whose interpreter, standard library and site-packages all live in a 0700 folder
(a relocated copy of this interpreter, and a ``--copies`` venv made from it, its site-packages holding
hard links to this environment's numpy, torch, matplotlib, sympy and what they need, and a copy of this
symgrad), grading a pset3 submission that imports torch and matplotlib at its top.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import symgrad

from symgrad.verify import jail, sandbox

from pset3_submissions import FUNCTIONS, build

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"


def _jail_and_uid() -> bool:
    on = sandbox.layers()
    return on[sandbox.JAIL_LAYER] and on[sandbox.USER_LAYER]


pytestmark = pytest.mark.skipif(not _jail_and_uid() and not REQUIRE_TOOLS,
                                reason="needs root and namespaces (fails instead in CI: SYMGRAD_REQUIRE_TOOLS=1)")

#: A pset3 submission as students write it: the course starter's imports at its top.
STARTER_HEAD = "import torch\nimport matplotlib\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
#: ... and one leaning on the standard library and sympy (what failed with 'No module named glob').
STDLIB_HEAD = ("import glob, csv, json, sqlite3, email.message, xml.etree.ElementTree, decimal, asyncio, "
               "multiprocessing, unittest, sysconfig\nimport sympy\n"
               "assert sympy.diff(sympy.Symbol('x') ** 2).equals(2 * sympy.Symbol('x'))\n"
               "sqlite3.connect(':memory:').execute('select 1')\n")
#: draws a figure headless and saves it: a figure that cannot be drawn is an import error
PLOT = ("fig = plt.figure()\nplt.plot([0, 1], [1, 0])\nfig.savefig('/tmp/loss.png')\n"
        "assert matplotlib.get_backend().lower() == 'agg' and os.path.getsize('/tmp/loss.png') > 0\n")
IMPORT_SYMGRAD = "import symgrad.verify.env\n"


def _uid_cannot_read(path: Path) -> bool:
    """True when an unprivileged uid (the sandbox's kind) cannot list ``path``."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(jail.UID_BASE - 1)
            os.setuid(jail.UID_BASE - 1)
            os.listdir(path)
            os._exit(1)
        except PermissionError:
            os._exit(0)
        finally:
            os._exit(2)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


# -- a private Python: interpreter, standard library and site-packages behind a 0700 folder -------------

def _link_tree(src: Path, dst: Path) -> None:
    """Hard links (a copy across file systems): fast, and the files are the same ones."""
    def link(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=link,
                        ignore=shutil.ignore_patterns("__pycache__", "site-packages", "dist-packages", "test"))
    else:
        link(src, dst)


def _closure(names) -> set:
    """The top-level files and folders of these distributions and of everything they require."""
    seen, out, todo = set(), set(), list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        todo += [re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in dist.requires or [] if "extra ==" not in r]
        for f in dist.files or []:
            if f.parts and f.parts[0] not in ("..", "__pycache__"):
                out.add(Path(dist.locate_file(f.parts[0])))
    return out


def _install_symgrad(site: Path) -> None:
    """This checkout's symgrad as an installed distribution (with a record, as pip leaves it)."""
    shutil.copytree(ROOT / "symgrad", site / "symgrad", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", site / "symgrad" / "templates")
    info = site / "symgrad-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: symgrad\nVersion: 0.0.0\n")
    (info / "top_level.txt").write_text("symgrad\n")
    files = [p.relative_to(site).as_posix() for p in (site / "symgrad").rglob("*") if p.is_file()]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files + [f"{info.name}/METADATA"]))


@pytest.fixture(scope="module")
def private_python(tmp_path_factory):
    """A venv (--copies) of a relocated interpreter, all inside a 0700 folder; its python."""
    base = tmp_path_factory.mktemp("private-env")
    home = base / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    py = home / "py"
    (py / "bin").mkdir(parents=True)
    real = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    shutil.copy2(real, py / "bin" / version)
    _link_tree(Path(sysconfig.get_paths()["stdlib"]), py / "lib" / version)
    platstdlib = Path(sysconfig.get_paths()["platstdlib"])
    if platstdlib != Path(sysconfig.get_paths()["stdlib"]):
        _link_tree(platstdlib, py / "lib" / "plat")
    venv = home / "venv"
    subprocess.run([str(py / "bin" / version), "-I", "-m", "venv", "--copies", "--without-pip", str(venv)],
                   check=True, capture_output=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    for top in _closure(["numpy", "torch", "matplotlib", "sympy", "jinja2"]):
        if not (site / top.name).exists():
            _link_tree(top, site / top.name)
    _install_symgrad(site)
    return {"home": home, "python": python, "site": site, "base": base}


def test_the_private_python_is_really_private(private_python):
    """What the test stands on: the sandbox's kind of uid can read none of it, and it is this Python."""
    python, home = private_python["python"], private_python["home"]
    assert not home.stat().st_mode & 0o077 and _uid_cannot_read(home)
    paths = json.loads(subprocess.run(
        [str(python), "-I", "-c", "import json, sys, os, numpy, torch, matplotlib, symgrad; "
         "print(json.dumps([sys.executable, os.__file__, numpy.__file__, torch.__file__, symgrad.__file__]))"],
        check=True, capture_output=True, text=True, cwd=private_python["base"]).stdout)
    for path in paths:
        assert Path(path).resolve().is_relative_to(home), paths


def test_a_venv_in_a_0700_folder_grades_starter_imports_correct(private_python):
    """The issue's case: torch and matplotlib at the top, a figure drawn, sympy and a stdlib-heavy file,
    all graded with every layer on by a grader whose Python only root can read; symgrad stays hidden."""
    base = private_python["base"]
    subs, out = base / "subs", base / "out"
    subs.mkdir()
    out.mkdir()
    for d in (base, subs):
        d.chmod(0o755)
    body = build()
    (subs / "starter_imports.py").write_text(STARTER_HEAD + "import os\n" + PLOT + body)
    (subs / "stdlib_heavy.py").write_text(STDLIB_HEAD + body)
    (subs / "plain.py").write_text(body)
    (subs / "imports_symgrad.py").write_text(IMPORT_SYMGRAD + body)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([str(private_python["python"]), "-m", "symgrad", "grade", str(subs), "--spec", "pset3",
                           "--profile", "pset3", "--jobs", "2", "--allow-package", "torch", "--allow-package",
                           "matplotlib", "-o", str(out)], cwd=base, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads((out / "grades.json").read_text())["submissions"]
    for name in ("starter_imports.py", "stdlib_heavy.py", "plain.py"):
        verdicts = {f["function"]: f["verdict"] for f in report[name]["functions"]}
        assert len(verdicts) == len(FUNCTIONS) and set(verdicts.values()) == {"correct"}, (name, report[name])
    hidden = report["imports_symgrad.py"]
    assert hidden["summary"]["correct"] == 0, hidden
    assert "No module named 'symgrad" in json.dumps(hidden), hidden


# -- the runner's own environment (this interpreter) -----------------------------------------------------

PROBE = """import os, sys
def probe(x):
    import numpy
    site = os.path.dirname(os.path.dirname(numpy.__file__))
    seen = []
    for name in NAMES:
        try:
            __import__(name)
            seen.append(1.0)
        except ImportError:
            seen.append(0.0)
    def readable(path):
        try:
            return float(len(open(path, 'rb').read()) > 0)
        except OSError:
            return 0.0
    return seen + [readable(p) for p in FILES]
"""


def _probe(tmp_path, names, files, **options):
    sub = tmp_path / "probe.py"
    sub.write_text(PROBE.replace("NAMES", repr(list(names))).replace("FILES", repr([str(f) for f in files])))
    run = sandbox.run_calls(sub, [{"id": "p", "func": "probe", "args": [["scalar", "x"]]}], {"x": np.array(1.0)},
                            **options)
    assert not run.errors and run.import_error is None, run
    return list(run.values["p"])


def _a_file_of(dist: str) -> Path:
    d = metadata.distribution(dist)
    return Path(d.locate_file(next(f for f in d.files if f.suffix == ".py" and f.parts[0] != "..")))


def test_every_installed_package_importable_but_symgrad_and_the_denied(tmp_path):
    """Installed distributions not named by any course are importable; symgrad is not, neither by import
    nor by reading its installed files; a denied distribution is gone the same way."""
    names = ["sympy", "jinja2", "matplotlib", "glob", "sqlite3", "mpmath", "symgrad"]
    files = [_a_file_of("sympy"), _a_file_of("jinja2")] + [_a_file_of(d) for d in ("symgrad",) if _installed(d)]
    got = _probe(tmp_path, names, files)
    assert got == [1, 1, 1, 1, 1, 1, 0] + [1, 1] + [0] * (len(files) - 2), got
    got = _probe(tmp_path, names, files, deny=("jinja2",))
    assert got == [1, 0, 1, 1, 1, 1, 0] + [1, 0] + [0] * (len(files) - 2), got


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
        return True
    except metadata.PackageNotFoundError:
        return False


def test_view_binds_the_environment_and_masks_symgrad():
    view = jail.view()
    import numpy
    inside = view["system"] + view["python"]
    assert any(Path(numpy.__file__).resolve().is_relative_to(p) for p in inside), view
    assert any(Path(os.__file__).resolve().is_relative_to(p) for p in inside), view
    if _installed("symgrad"):
        package = Path(metadata.distribution("symgrad").locate_file("symgrad")).resolve()
        if not package.exists():   # an editable install: the package is the checkout symgrad runs from
            package = Path(symgrad.__file__).resolve().parent
        assert str(package) in view["mask"] or not any(package.is_relative_to(p) for p in inside), view


TORCH_FIRST = "import torch\nimport matplotlib.pyplot as plt\n"
TWICE = "def twice(x):\n    return 2 * x\n"


def _run_time(box, path: Path, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run = box.run(path)
        times.append(time.perf_counter() - start)
        assert run.values and not run.errors, run
    return min(times)


def test_course_packages_are_preloaded_single_threaded(tmp_path):
    """torch and matplotlib are in the fork server, loaded with one thread: a submission whose first line
    imports torch costs what one without imports does (without the preload it costs ~1 s more)."""
    plain, starter = tmp_path / "plain.py", tmp_path / "starter.py"
    plain.write_text(TWICE)
    starter.write_text(TORCH_FIRST + TWICE)
    calls = [{"id": "t", "func": "twice", "args": [["scalar", "x"]]}]
    with sandbox.Sandbox(calls, {"x": np.array(3.0)}, packages=("torch", "matplotlib")) as box:
        base = _run_time(box, plain)
        with_torch = _run_time(box, starter)
        loaded = json.loads((box.dir / "preloaded.json").read_text())
    assert {"torch", "matplotlib.pyplot"} <= set(loaded["loaded"]) and loaded["threads"] == 1, loaded
    with sandbox.Sandbox(calls, {"x": np.array(3.0)}) as box:
        cold = _run_time(box, starter, rounds=1)
    assert with_torch < base + 0.25 and cold > with_torch + 0.4, (base, with_torch, cold)
