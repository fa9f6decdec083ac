"""The Gradescope autograder zip, run in a simulated /autograder tree as Gradescope
runs it (setup.sh once, run_autograder per submission), offline: the wheel in the
zip is the one just built from this checkout and is what grades."""

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from symgrad.platforms.gradescope import Points, convert_grades, load_points, results_json

from pset3_submissions import SUBMISSIONS

ROOT = Path(__file__).resolve().parents[1]
POINTS_TOML = 'default = 1\nvisibility = "after_published"\n\n[points]\nd_loss_d_W0 = 3\nrelu = 0.5\n'
FORGED = '{"score": 999, "tests": []}'
HOSTILE = ("try:\n    open('RESULTS', 'w').write('FORGED')\nexcept OSError:\n    pass\n"
           + SUBMISSIONS["os_exit.py"][0])


def _points_of(function: str) -> float:   # POINTS_TOML, read by hand
    return {"d_loss_d_W0": 3.0, "relu": 0.5}.get(function, 1.0)


def _verdict(expected) -> str:
    return expected[0] if isinstance(expected, tuple) else expected


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SYMGRAD_AUTOGRADER_ROOT")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The zip built by the CLI, and a virtual environment where its setup.sh installed the wheel."""
    base = tmp_path_factory.mktemp("gradescope")
    (base / "points.toml").write_text(POINTS_TOML)
    zip_path = base / "autograder.zip"
    subprocess.run([sys.executable, "-m", "symgrad", "gradescope", "--spec", "pset3", "--profile", "pset3",
                    "-o", str(zip_path), "--points", str(base / "points.toml"), "--time-limit", "3"],
                   check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    source = base / "source"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(source)
        names = z.namelist()
    for script in ("setup.sh", "run_autograder"):
        (source / script).chmod(0o755)
    env_dir = base / "venv"   # stands in for the image: numpy, sympy, jinja2 come from the system, symgrad only from the zip
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    path = f"{env_dir / 'bin'}:{os.environ['PATH']}"
    subprocess.run(["bash", str(source / "setup.sh")], check=True, env=_clean_env(
        PATH=path, SYMGRAD_PIP_OPTIONS=f"--no-index --no-deps --ignore-installed --prefix {env_dir}"))
    return {"source": source, "path": path, "names": names, "venv": env_dir}


def test_zip_holds_the_wheel_and_scripts(autograder):
    names = autograder["names"]
    assert "setup.sh" in names and "run_autograder" in names
    assert [n for n in names if n.startswith("symgrad-") and n.endswith(".whl")]


def test_the_installed_wheel_is_what_runs(autograder):
    where = subprocess.run(["python3", "-c", "import symgrad; print(symgrad.__file__)"], capture_output=True,
                           text=True, check=True, cwd="/", env=_clean_env(PATH=autograder["path"])).stdout.strip()
    assert where.startswith(str(autograder["venv"])), where


def _run(autograder, tmp_path, source_text: str) -> dict:
    """One submission through run_autograder in a fresh /autograder tree."""
    root = tmp_path / "autograder"
    shutil.copytree(autograder["source"], root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    results = root / "results" / "results.json"
    (root / "submission" / "pset3.py").write_text(source_text.replace("RESULTS", str(results))
                                                  .replace("FORGED", FORGED.replace('"', '\\"')))
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    subprocess.run(["bash", str(root / "run_autograder")], check=True, cwd="/", timeout=300,
                   env=_clean_env(PATH=autograder["path"], SYMGRAD_AUTOGRADER_ROOT=str(root)))
    return json.loads(results.read_text())


def _valid(results: dict) -> None:
    """The results.json fields Gradescope reads, with their types."""
    assert isinstance(results["score"], float) and isinstance(results["execution_time"], float)
    assert results["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    for t in results["tests"]:
        assert set(t) >= {"name", "score", "max_score", "output", "visibility", "status"}
        assert isinstance(t["output"], str) and 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed") and t["output_format"] == "text"
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


@pytest.mark.parametrize("name, text", [
    ("correct", SUBMISSIONS["correct_vectorized.py"][0]),
    ("wrong", SUBMISSIONS["missing_factor_2.py"][0]),
    ("hostile", HOSTILE),
], ids=["correct", "wrong", "hostile"])
def test_results_json_scores(autograder, tmp_path, name, text):
    expected = {"correct": SUBMISSIONS["correct_vectorized.py"][1], "wrong": SUBMISSIONS["missing_factor_2.py"][1],
                "hostile": SUBMISSIONS["os_exit.py"][1]}[name]
    results = _run(autograder, tmp_path, text)
    _valid(results)
    got = {t["name"]: t["score"] for t in results["tests"]}
    want = {f: (_points_of(f) if _verdict(v) == "correct" else 0.0) for f, v in expected.items()}
    assert got == want
    assert {t["name"]: t["max_score"] for t in results["tests"]} == {f: _points_of(f) for f in expected}
    assert all(t["visibility"] == "after_published" for t in results["tests"])
    if name == "wrong":
        out = next(t["output"] for t in results["tests"] if t["name"] == "d_loss_d_ypredicted")
        assert "missing_factor_2" in out and "counterexample" in out
    if name == "hostile":
        assert results["score"] != 999 and results["tests"]


def test_grading_failure_still_writes_results(autograder, tmp_path):
    """A submission that is a symbolic link is not graded, and Gradescope still gets a results.json."""
    root = tmp_path / "autograder"
    shutil.copytree(autograder["source"], root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "pset3.py").symlink_to("/etc/passwd")
    subprocess.run(["bash", str(autograder["source"] / "run_autograder")], check=True, cwd="/", timeout=300,
                   env=_clean_env(PATH=autograder["path"], SYMGRAD_AUTOGRADER_ROOT=str(root)))
    results = json.loads((root / "results" / "results.json").read_text())
    _valid(results)
    assert results["score"] == 0.0


def test_points_file_errors(tmp_path):
    bad = tmp_path / "points.toml"
    for text, words in [("default = -1\n", "points must be a number"), ("[points]\nnot_a_function = 1\n", "not_a_function"),
                        ('visibility = "public"\n', "visibility"), ("colour = 1\n", "unknown key")]:
        bad.write_text(text)
        proc = subprocess.run([sys.executable, "-m", "symgrad", "gradescope", "--spec", "pset3", "--profile", "pset3",
                               "-o", str(tmp_path / "a.zip"), "--points", str(bad), "--wheel", str(bad)],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "a.zip").exists()


def test_grade_report_converts_to_gradescope_and_otter():
    report = {"spec": "pset3", "profile": "pset3", "submissions": {
        "a.py": {"functions": [{"function": "relu", "verdict": "correct", "message": "", "counterexample": None,
                                "diagnosis": []},
                               {"function": "loss", "verdict": "wrong", "message": "differs",
                                "counterexample": {"inputs": {"x": [1.0]}}, "diagnosis": []}]},
        "b.py": {"error": "RuntimeError: boom"}}}
    points = Points(default=2.0, per_function={"relu": 5.0})
    g = convert_grades(report, "gradescope", points)["submissions"]
    assert g["a.py"]["score"] == 5.0 and [t["max_score"] for t in g["a.py"]["tests"]] == [5.0, 2.0]
    assert "boom" in g["b.py"]["output"] and g["b.py"]["score"] == 0
    o = convert_grades(report, "otter", points)["submissions"]
    assert (o["a.py"]["total"], o["a.py"]["possible"]) == (5.0, 7.0)
    assert results_json(report["submissions"]["a.py"], load_points(None))["score"] == 1.0


def test_the_wheel_ships_the_page_and_katex(autograder):
    wheel = next(autograder["source"].glob("symgrad-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for needed in ("symgrad/platforms/gradescope.py", "symgrad/web/server.py", "symgrad/web/static/katex.min.js",
                   "symgrad/web/static/app.js", "symgrad/web/static/LICENSE-katex.txt",
                   "symgrad/web/static/fonts/KaTeX_Main-Regular.woff2", "symgrad/templates/web/page.html.j2",
                   "symgrad/templates/web/verdict.html.j2"):
        assert needed in names, needed


def test_grade_format_gradescope(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("correct_vectorized.py", "sign_error.py"):
        (subs / name).write_text(SUBMISSIONS[name][0])
    (tmp_path / "points.toml").write_text(POINTS_TOML)
    proc = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile", "pset3",
                           "--format", "gradescope", "--points", str(tmp_path / "points.toml"), "--jobs", "1",
                           "--time-limit", "3"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    converted = json.loads((subs / "grades.gradescope.json").read_text())["submissions"]
    for name, results in converted.items():
        _valid({**results, "execution_time": 0.0})
        want = sum(_points_of(f) for f, v in SUBMISSIONS[name][1].items() if _verdict(v) == "correct")
        assert results["score"] == want, name


@pytest.mark.parametrize("extra, words", [(["--points", "missing.toml"], "not a readable points file"),
                                          (["--format", "csv", "--points", "p.toml"], "--points needs --format")])
def test_grade_refuses_bad_points_before_grading(tmp_path, extra, words):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.py").write_text(SUBMISSIONS["correct_vectorized.py"][0])
    args = ["--format", "gradescope"] + extra if extra[0] == "--points" else extra
    proc = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile", "pset3",
                           *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
    assert not (subs / "grades.json").exists()
