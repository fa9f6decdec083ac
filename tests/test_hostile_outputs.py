"""What symgrad writes when its input is hostile: reports a spreadsheet opens,
a terminal, files on disk, plot titles.

- ``grade``'s CSV: a submission named ``=HYPERLINK(...)`` is text, not a
  formula; a CR or LF in a name or message does not split a row.
- The terminal: escape sequences and CRs in a file name or in a submission's
  exception message are printed as visible escapes, so the summary's counts
  are the real ones (an ANSI "cursor up" once redrew them).
- Files: the permissions of the user's umask; never written through a symbolic
  link (a linked target, a linked folder leading outside ``-o``).
- Plot titles: literal text, never mathtext or TeX.
"""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.errors import SymgradError
from symgrad.io import write_atomic

from pset3_submissions import FUNCTIONS, build

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))

# An exception message that moves the cursor up, clears the line and writes a fake verdict.
REDRAW = r"\x1b[1A\x1b[2K\rfake: 12 correct, 0 crashed\r=cmd|/C calc!A0"
RAISES = build(d_loss_d_W1="def d_loss_d_W1(variable_dict, W2, y_observed):\n"
                           f"    raise RuntimeError('{REDRAW}')\n")
NOISY = "import sys\nprint('\\x1b[2J\\x1b[H12 correct')\nprint('\\x1b]0;title\\x07', file=sys.stderr)\n" + build()
HOSTILE = {   # file name -> (source, number of crashed functions)
    '=HYPERLINK("http:evil","click").py': (build(), 0),
    "+SUM(1,2).py": (build(), 0),
    "-2+3.py": (build(), 0),
    "@cmd.py": (build(), 0),
    "cr\rsplit.py": (build(), 0),
    "lf\nsplit.py": (build(), 0),
    "esc\x1b[2Jclear.py": (build(), 0),
    "bidi\u202eyp.exe.py": (build(), 0),
    "raises_redraw.py": (RAISES, 1),
    "=raises\x1b[31m\r.py": (RAISES, 1),
    "noisy.py": (NOISY, 0),
    "plain.py": (build(), 0),
}


def _run(*args, cwd=ROOT, env=ENV, timeout=600):
    return subprocess.run([sys.executable, "-m", "symgrad", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    subs, out = base / "submissions", base / "reports"
    subs.mkdir()
    for name, (source, _) in HOSTILE.items():
        (subs / name).write_text(source)
    done = _run("grade", subs, "--spec", "pset3", "--profile", "pset3", "--jobs", "4", "--time-limit", "5",
                "-o", out)
    raw_csv = (out / "grades.csv").read_bytes()
    return {"done": done, "out": out, "raw_csv": raw_csv,
            "report": json.loads((out / "grades.json").read_text())}


def test_grade_ran(graded):
    assert graded["done"].returncode == 0, graded["done"].stderr
    assert set(graded["report"]["submissions"]) == set(HOSTILE)


def test_csv_cells_are_inert_and_rows_whole(graded):
    raw = graded["raw_csv"].decode("utf-8")
    assert "\r" not in raw and "\x1b" not in raw
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows[0] == ["submission", "function", "verdict", "message", "diagnosis"]
    body = rows[1:]
    assert len(body) == len(HOSTILE) * len(FUNCTIONS)          # one row per submission and function
    assert all(len(r) == 5 for r in body)
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "|", "%")), row
            assert not any(ord(c) < 32 or c == "\x7f" or c == "\u202e" for c in cell), row
    assert {r[0] for r in body if r[0].startswith("'=HYPERLINK")} == {"'=HYPERLINK(\"http:evil\",\"click\").py"}
    # each submission's rows carry the name as the JSON has it, shown with escapes
    assert len({r[0] for r in body}) == len(HOSTILE)
    crashed = [r for r in body if r[2] == "crashed"]
    assert len(crashed) == 2 and all("\\x1b[1A" in r[3] and "\\x0dfake" in r[3] for r in crashed)


def test_json_keeps_the_exact_names_and_messages(graded):
    """JSON escapes control characters itself (\\u001b); the values are the real ones."""
    raw = (graded["out"] / "grades.json").read_text()
    assert "\x1b" not in raw and "\r" not in raw
    subs = graded["report"]["submissions"]
    message = next(f["message"] for f in subs["raises_redraw.py"]["functions"] if f["verdict"] == "crashed")
    assert "\x1b[1A\x1b[2K\rfake" in message


def _summary_rows(stdout):
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("submission"))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("correct per function"):
            break
        m = re.match(r"^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        assert m, f"a summary line that is not a row: {line!r}"
        rows.append((m.group(1), *map(int, m.groups()[1:])))
    return rows


def test_terminal_summary_counts_are_the_real_ones(graded):
    out, err = graded["done"].stdout, graded["done"].stderr
    assert "\x1b" not in out and "\r" not in out
    assert "\x1b" not in err
    assert all(part.startswith("[") for part in err.split("\r")[1:]), "a CR not drawing the progress bar"
    assert not any(0x202a <= ord(c) <= 0x202e for c in out + err)
    rows = _summary_rows(out)
    assert len(rows) == len(HOSTILE)
    crashed = {name: c for name, _, _, c, _ in rows}
    assert sum(crashed.values()) == 2
    assert crashed["raises_redraw.py"] == 1 and crashed["=raises\\x1b[31m\\x0d.py"] == 1
    assert sum(r[1] for r in rows) == len(HOSTILE) * len(FUNCTIONS) - 2
    assert "fake" not in out
    assert f"d_loss_d_W1 {len(HOSTILE) - 2}/{len(HOSTILE)}" in out


def test_verify_code_prints_a_submission_message_with_escapes(tmp_path):
    path = tmp_path / "raises\x1b[2J.py"
    path.write_text(RAISES)
    done = _run("verify", "pset3", "--code", path, "--profile", "pset3", "--time-limit", "5")
    assert done.returncode == 1, done.stderr
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    assert "\\x1b[1A" in done.stdout and "raises\\x1b[2J.py" in done.stdout


def test_error_messages_show_control_characters_as_escapes(tmp_path):
    done = _run("derive", tmp_path / "spec\x1b[2J\x08.toml", "-o", tmp_path / "out")
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "\x08" not in done.stderr
    assert "spec\\x1b[2J\\x08.toml" in done.stderr


# ---------------------------------------------------------------------------
# Files: permissions and symbolic links.

@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_derive_writes_files_with_the_users_umask(tmp_path, umask):
    out = tmp_path / "out"
    code = ("import os, sys; os.umask(int(sys.argv[1], 8)); from symgrad.cli import main; "
            "sys.exit(main(['derive', 'pset3', '-o', sys.argv[2]]))")
    for _ in range(2):   # written, then replaced
        done = subprocess.run([sys.executable, "-c", code, oct(umask), str(out)], cwd=ROOT, env=ENV,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        for name in ("pset3.py", "pset3.tex"):
            assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, (name, oct(umask))


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "pset3.py").write_text("# Generated by symgrad\nsomeone else's file\n")
    (folder / "grades.csv").write_text("not yours\n")
    return folder


def test_derive_refuses_a_target_that_is_a_symbolic_link(tmp_path, outside):
    out = tmp_path / "out"
    out.mkdir()
    (out / "pset3.py").symlink_to(outside / "pset3.py")
    before = _tree(outside)
    for extra in ([], ["--force"]):
        done = _run("derive", "pset3", "-o", out, *extra)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "symbolic link" in done.stderr and done.stderr.count("\n") == 1
        assert _tree(outside) == before
        assert (out / "pset3.py").is_symlink() and not (out / "pset3.tex").exists()   # nothing written


def test_grade_refuses_a_report_that_is_a_symbolic_link_before_grading(tmp_path, outside):
    subs, out = tmp_path / "subs", tmp_path / "reports"
    subs.mkdir()
    out.mkdir()
    (subs / "a.py").write_text(build())
    (out / "grades.csv").symlink_to(outside / "grades.csv")
    before = _tree(outside)
    done = _run("grade", subs, "--spec", "pset3", "--profile", "pset3", "-o", out)
    assert done.returncode == 2 and "symbolic link" in done.stderr, done.stderr
    assert "correct per function" not in done.stdout      # refused before grading
    assert _tree(outside) == before and not (out / "grades.json").exists()


def test_plot_refuses_a_symbolic_link(tmp_path, outside):
    pytest.importorskip("matplotlib")
    link = tmp_path / "relu.png"
    link.symlink_to(outside / "grades.csv")
    before = _tree(outside)
    done = _run("plot", "relu", "-o", link)
    assert done.returncode == 2 and "symbolic link" in done.stderr, done.stderr
    assert _tree(outside) == before


def test_a_linked_folder_leading_outside_the_output_folder_is_refused(tmp_path, outside):
    out = tmp_path / "generated"
    out.mkdir()
    (out / "numpy").symlink_to(outside, target_is_directory=True)
    before = _tree(outside)
    with pytest.raises(SymgradError, match="symbolic link.*outside the output folder"):
        write_atomic(out / "numpy" / "pset3.py", "x", root=out)
    with pytest.raises(SymgradError, match="symbolic link.*outside the output folder"):
        write_atomic(out / "numpy" / "deeper" / "new.py", "x", root=out)
    assert _tree(outside) == before and not (outside / "deeper").exists()
    # python -m symgrad.outputs into such a folder: refused, nothing outside touched
    done = subprocess.run([sys.executable, "-m", "symgrad.outputs", str(out)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "symbolic link" in done.stderr
    assert _tree(outside) == before


def test_a_linked_folder_inside_the_output_folder_is_followed(tmp_path):
    out = tmp_path / "out"
    (out / "real").mkdir(parents=True)
    (out / "alias").symlink_to(out / "real", target_is_directory=True)
    write_atomic(out / "alias" / "f.txt", "x", root=out)
    assert (out / "real" / "f.txt").read_text() == "x"


def test_paths_that_climb_out_of_the_output_folder_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SymgradError, match="not inside the output folder"):
        write_atomic(out / ".." / "escaped.txt", "x", root=out)
    assert not (tmp_path / "escaped.txt").exists()


# ---------------------------------------------------------------------------
# Plot titles: literal text.

MATH = r"$\notacommand{x}$ 50$ and $\frac{1}"   # mathtext would fail to parse this at draw time


def test_loss_curve_title_is_literal_text(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from symgrad.train import History, plot_losses
    history = History(spec=MATH, epochs=2, lr=0.1, batch_size=1, seed=0, losses=[1.0, 0.5, 0.25])
    with matplotlib.rc_context({"text.usetex": True}):    # a user's matplotlibrc cannot switch TeX on
        plot_losses(history, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_function_plot_titles_and_legends_are_literal_text(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    from symgrad import figures
    real = figures._function_and_derivative
    monkeypatch.setattr(figures, "_function_and_derivative", lambda name: real("leaky_relu"))
    with matplotlib.rc_context({"text.usetex": True}):
        image = figures.plot_functions([MATH], "png")
    assert image.startswith(b"\x89PNG")


def test_an_output_folder_named_through_a_link_is_the_users_choice(tmp_path):
    """-o may itself be a link (the user named it); only what lies below it is checked."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    done = _run("derive", "pset3", "-o", tmp_path / "link")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "real" / "pset3.py").is_file()
