"""`symgrad grade` on a folder of generated submissions: correct ones, each
catalogued mistake, crashing, hanging, memory-hungry and hostile ones, graded
in one run, with the grader's files untouched."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symgrad.verify.sandbox import JAIL_LAYER, NOBODY_LAYER, USER_LAYER, layers

from pset3_submissions import SUBMISSIONS, build

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT = 2.0


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _expectations():
    active = layers()
    out = {}
    for name, (_source, expected) in SUBMISSIONS.items():
        expected = dict(expected)
        if name == "writes_files.py" and not (active[USER_LAYER] or active[NOBODY_LAYER]):
            expected = {f: "correct" for f in expected}  # it may write its own file; checked below
        if name == "network.py" and not active[JAIL_LAYER]:
            expected.pop("d_loss_d_W2")
        out[name] = expected
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    subs, out = base / "submissions", base / "reports"
    subs.mkdir()
    out.mkdir()
    sentinel = base / "grader_file"
    tag = f"symgrad_test_{os.getpid()}_{int(time.time())}"
    for name, (source, _) in SUBMISSIONS.items():
        text = source.replace("SENTINEL_PATH", str(sentinel)).replace("SENTINEL_NAME", tag)
        if name == "correct_loops.py":  # a folder submission
            (subs / "correct_folder").mkdir()
            (subs / "correct_folder" / "solution.py").write_text(text)
            (subs / "correct_folder" / "notes.txt").write_text("not code")
        (subs / name).write_text(text)
    before = _digest(subs)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3",
                           "--profile", "pset3", "--jobs", "4", "--time-limit", str(TIME_LIMIT), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - start
    time.sleep(max(0.0, 4.0 - seconds))  # the orphan would write its file after 3 s
    report = json.loads((out / "grades.json").read_text())
    return {"done": done, "report": report, "subs": subs, "out": out, "before": before,
            "sentinel": sentinel, "tag": tag, "seconds": seconds}


def test_at_least_thirty_submissions(graded):
    assert len(graded["report"]["submissions"]) >= 30, graded["done"].stderr


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_each_submission_graded_as_expected(graded, name):
    result = graded["report"]["submissions"][name]
    assert "error" not in result, result
    verdicts = {f["function"]: f for f in result["functions"]}
    for func, want in _expectations()[name].items():
        verdict, mistake = (want, None) if isinstance(want, str) else want
        got = verdicts[func]
        assert got["verdict"] == verdict, (func, got)
        if mistake:
            assert mistake in [m["mistake"] for m in got["diagnosis"]], (func, got)
        if verdict == "wrong":
            assert got["counterexample"]["expected"] != got["counterexample"]["got"]


def test_folder_submission_graded(graded):
    result = graded["report"]["submissions"]["correct_folder"]
    assert result["summary"]["correct"] == 12, result


def test_grader_files_untouched(graded):
    assert _digest(graded["subs"]) == graded["before"]
    assert not any(p.name.startswith(graded["sentinel"].name) for p in graded["sentinel"].parent.iterdir())
    assert sorted(p.name for p in graded["out"].iterdir()) == ["grades.csv", "grades.json"]


def test_orphan_died_with_its_sandbox(graded):
    if not layers()[JAIL_LAYER]:
        pytest.fail("no PID namespace on this machine: an orphan that calls setsid can survive (see README)")
    assert not Path(f"/tmp/{graded['tag']}.orphan").exists()


def test_summary_and_csv(graded):
    done = graded["done"]
    assert done.returncode == 0, done.stderr
    assert "correct_vectorized.py" in done.stdout and "correct per function" in done.stdout
    rows = (graded["out"] / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("submission,function,verdict")
    assert len(rows) == 1 + 12 * len(graded["report"]["submissions"])


def test_rerun_skips_graded(graded):
    done = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(graded["subs"]), "--spec", "pset3",
                           "--profile", "pset3", "-o", str(graded["out"])],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert f"skipping {len(graded['report']['submissions'])} submission(s)" in done.stderr


def test_one_ungradable_submission_loses_nothing_else(tmp_path):
    from pset3_submissions import build
    subs = tmp_path / "subs"
    (subs / "two_files").mkdir(parents=True)
    (subs / "two_files" / "a.py").write_text(build())
    (subs / "two_files" / "b.py").write_text(build())
    (subs / "good.py").write_text(build())
    done = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile",
                           "pset3", "--time-limit", str(TIME_LIMIT)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    report = json.loads((subs / "grades.json").read_text())["submissions"]
    assert "solution.py" in report["two_files"]["error"]
    assert report["good.py"]["summary"]["correct"] == 12


def test_a_finished_result_is_written_while_a_slow_one_runs(tmp_path):
    # the throttle holds a result back at most an interval, also when nothing else finishes
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.py").write_text(build())
    (subs / "b.py").write_text(build().replace("def relu(x):\n", "def relu(x):\n    import time\n    time.sleep(8)\n", 1))
    proc = subprocess.Popen([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile",
                             "pset3", "--jobs", "2", "--time-limit", "30"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if "a.py" in json.loads((subs / "grades.json").read_text())["submissions"]:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        assert proc.poll() is None, "b.py sleeps 8 s per call: the run should still be going"
        assert "a.py" in json.loads((subs / "grades.json").read_text())["submissions"]
    finally:
        proc.terminate()   # SIGTERM: the grader kills its sandboxes and keeps what finished
        assert proc.wait(timeout=30) in (0, 130)


def test_reports_are_rewritten_at_most_once_an_interval(tmp_path, monkeypatch):
    # Rewriting the whole report after every submission made grading quadratic (61 of 100 s over
    # 200 files); the throttle writes once an interval, or less often when a write is slow.
    from symgrad.verify import grade
    clock = [100.0]
    writes = []
    monkeypatch.setattr(grade.time, "monotonic", lambda: clock[0])

    def fake_save(out, report):
        writes.append(dict(report))
        clock[0] += 0.5   # each rewrite takes half a second here

    monkeypatch.setattr(grade, "_save", fake_save)
    throttle = grade._Throttle(interval=1.0, share=0.1)
    for i in range(25):
        clock[0] += 0.3
        throttle.save(tmp_path, {"n": i})
    # the first once 1 s has passed (at 1.2 s); the next 5 s after that write ended (0.5 s of
    # writing is a tenth of 5 s), at 100.5 + 0.3 * 21 = 106.8 >= 101.7 + 5
    assert [w["n"] for w in writes] == [3, 20]
    # results 21-24 wait for their turn, which comes 5 s after the last write ended (at 106.8 + 0.5)
    assert throttle.dirty and throttle.wait() == pytest.approx(107.3 + 5 - clock[0])
