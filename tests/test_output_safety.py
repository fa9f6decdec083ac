"""`symgrad derive -o DIR` never clobbers: no overwriting of foreign files, atomic writes.

The kill tests run the real program in a subprocess, slowed down by the
SYMGRAD_WRITE_DELAY hook of symgrad/io.py, and SIGKILL it while it writes.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symgrad import Spec, derive
from symgrad.cli import main
from symgrad.emit.latex_doc import render_fragment
from symgrad.emit.numpy_module import render_module
from symgrad.io import MARKER, STALE_SECONDS, write_atomic

ROOT = Path(__file__).resolve().parents[1]

SPEC = '''
name = "net"
description = "{description}"
[inputs]
X = ["n", 3]
y = ["n", 2]
[params]
W = [3, 2]
b = [2]
[nodes]
z = "X @ W + b"
[loss]
expr = "mean((z - y)**2)"
'''


def _write_spec(folder: Path, description: str) -> Path:
    path = folder / "net.toml"
    path.write_text(SPEC.format(description=description))
    return path


def _expected(path: Path) -> dict:
    d = derive(str(path))
    return {"net.py": render_module(d).encode(), "net.tex": render_fragment(d).encode()}


def _run_and_kill(spec: Path, out: Path, after: float) -> dict:
    """Start `symgrad derive`, SIGKILL it `after` seconds after its first temporary file appears."""
    env = dict(os.environ, SYMGRAD_WRITE_DELAY="0.05", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "symgrad", "derive", str(spec), "-o", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while not any(p.stat().st_size > 0 for p in out.glob(".net.*.tmp")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "derive never started writing"
            time.sleep(0.005)
        time.sleep(after)
        partial = {p.name: p.stat().st_size for p in out.glob(".net.*.tmp")}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return partial


@pytest.fixture
def old_and_new(tmp_path):
    """A folder holding a first derive's output, and the spec changed so the next output differs."""
    spec = _write_spec(tmp_path, "first version")
    out = tmp_path / "out"
    assert main(["derive", str(spec), "-o", str(out)]) == 0
    old = {name: (out / name).read_bytes() for name in ("net.py", "net.tex")}
    spec = _write_spec(tmp_path, "second version, with a longer description so every byte count differs")
    new = _expected(spec)
    assert all(old[k] != new[k] for k in old)
    return spec, out, old, new


def test_killing_derive_while_it_writes_leaves_the_old_file(old_and_new):
    spec, out, old, new = old_and_new
    partial = _run_and_kill(spec, out, after=0.1)
    assert partial and all(0 < size < len(new["net.py"]) for size in partial.values())  # killed mid-write
    assert (out / "net.py").read_bytes() == old["net.py"]
    assert (out / "net.tex").read_bytes() == old["net.tex"]


@pytest.mark.parametrize("after", [0.0, 0.45, 0.9, 1.4, 2.0])
def test_killing_derive_at_any_moment_leaves_old_or_new_files_whole(old_and_new, after):
    spec, out, old, new = old_and_new
    _run_and_kill(spec, out, after=after)
    for name in ("net.py", "net.tex"):
        assert (out / name).read_bytes() in (old[name], new[name]), name


def test_the_next_run_completes_and_clears_stale_temporaries(old_and_new):
    spec, out, old, new = old_and_new
    _run_and_kill(spec, out, after=0.1)
    stale = list(out.glob(".net.*.tmp"))
    assert stale
    past = time.time() - STALE_SECONDS - 60
    for p in stale:
        os.utime(p, (past, past))
    assert main(["derive", str(spec), "-o", str(out)]) == 0
    assert {n: (out / n).read_bytes() for n in new} == new
    assert not list(out.glob(".net.*.tmp"))


def test_a_recent_temporary_of_another_run_is_left_alone(tmp_path):
    target = tmp_path / "x.py"
    busy = tmp_path / ".x.py.abc123.tmp"
    busy.write_text("another process is writing this")
    write_atomic(target, f"# {MARKER}\n")
    assert busy.exists()


@pytest.mark.parametrize("name, content", [
    ("net.py", "# my own module\nimport numpy\n"),
    ("net.tex", "\\section{My notes}\n"),
    ("net.py", "x = 1\n" + " " * 500 + f"# {MARKER} (mentioned far below the header)\n"),
])
def test_derive_refuses_to_replace_a_file_it_did_not_generate(tmp_path, capsys, name, content):
    spec = _write_spec(tmp_path, "v")
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text(content)
    assert main(["derive", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and name in err
    assert (out / name).read_text() == content
    assert sorted(p.name for p in out.iterdir()) == [name]          # nothing else written either
    assert main(["derive", str(spec), "-o", str(out), "--force"]) == 0
    assert (out / name).read_text().splitlines()[0].find(MARKER) >= 0


def test_derive_replaces_its_own_files_without_force(tmp_path):
    spec = _write_spec(tmp_path, "v1")
    out = tmp_path / "out"
    assert main(["derive", str(spec), "-o", str(out)]) == 0
    spec = _write_spec(tmp_path, "v2")
    assert main(["derive", str(spec), "-o", str(out)]) == 0
    assert "v2" in (out / "net.py").read_text()


@pytest.mark.parametrize("case", ["output is a file", "target is a folder"])
def test_unwritable_targets_are_one_clear_line(tmp_path, capsys, case):
    spec = _write_spec(tmp_path, "v")
    out = tmp_path / "out"
    if case == "output is a file":
        out.write_text("not a folder\n")
    else:
        (out / "net.py").mkdir(parents=True)
    assert main(["derive", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(out) in err


def test_a_failed_write_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "x.py"

    def boom(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(Exception, match="No space left"):
        write_atomic(target, "data")
    assert list(tmp_path.iterdir()) == []


def test_generated_files_carry_the_header_the_check_recognizes():
    d = derive(Spec(name="h", inputs={"x": [2]}, params={"w": [2]}, nodes={}, loss="sum(x * w)"))
    for text in (render_module(d), render_fragment(d)):
        assert MARKER in text.splitlines()[0]
