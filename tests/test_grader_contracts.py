"""Issue 18: the grader agrees with each course's own contract on student-style code.

The submissions (tests/grader_patterns.py) are written as students write them,
each with one pattern seen on real submissions: gradients assigned instead of
added (the mlp homework never asks for +=), constructor parameters named
differently (the nodes course builds nodes positionally), a wrong loss *value*
(it crashed the grader's diagnosis), stubs, a net written for another edition's
sizes, and mistakes the catalogue did not name. Expected verdicts follow from
the course's contract, not from symgrad's output.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import grader_patterns as P
from symgrad.verify.code import check_file
from symgrad.verify.judge import STATUSES

ROOT = Path(__file__).resolve().parents[1]
MLP_SPEC = "hw1_relu_sigmoid_bce"


def _check(tmp_path, source, spec, profile, **options):
    path = tmp_path / "submission.py"
    path.write_text(source)
    return {f.name: f for f in check_file(spec, path, profile, time_limit=20, **options).functions}


def _verdicts(report):
    return {name: f.status for name, f in report.items() if f.status != "correct"}


def _mistakes(f):
    return [m["mistake"] for m in f.diagnosis]


def test_student_mlp_is_correct(tmp_path):
    assert _verdicts(_check(tmp_path, P.MLP_CORRECT, MLP_SPEC, "mlp")) == {}


def test_assigned_gradients_are_correct_with_a_note_and_wrong_under_strict(tmp_path):
    report = _check(tmp_path, P.MLP_ASSIGNS, MLP_SPEC, "mlp")
    assert _verdicts(report) == {}
    notes = report["MLP.backward"].notes
    assert [n.get("mistake") for n in notes] == ["not_accumulated"] and "--strict" in notes[0]["note"]
    strict = _check(tmp_path, P.MLP_ASSIGNS, MLP_SPEC, "mlp", strict=True)
    assert _verdicts(strict) == {"MLP.backward": "wrong"}
    assert _mistakes(strict["MLP.backward"]) == ["not_accumulated"]
    # the student's correct += code has no note at all
    assert not _check(tmp_path, P.MLP_CORRECT, MLP_SPEC, "mlp")["MLP.backward"].notes


def test_strict_flag_on_the_command_line(tmp_path):
    path = tmp_path / "mlp.py"
    path.write_text(P.MLP_ASSIGNS)
    base = [sys.executable, "-m", "symgrad", "verify", MLP_SPEC, "--code", str(path), "--profile", "mlp"]
    plain = subprocess.run(base, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "note [not_accumulated]" in plain.stdout
    strict = subprocess.run(base + ["--strict"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert strict.returncode == 1 and "diagnosis [not_accumulated]" in strict.stdout


def test_wrong_loss_value_is_wrong_not_an_internal_error(tmp_path):
    report = _check(tmp_path, P.MLP_WRONG_LOSS_VALUE, MLP_SPEC, "mlp")
    assert _verdicts(report) == {"mse_loss": "wrong"}
    assert report["mse_loss"].counterexample["key"] == "J"


def test_stub_method_is_not_implemented(tmp_path):
    report = _check(tmp_path, P.MLP_STUBS, MLP_SPEC, "mlp")
    assert _verdicts(report) == {"MLP.backward": "not implemented"}
    assert "pass" in report["MLP.backward"].message


def test_crash_shows_the_students_lines_and_what_it_stopped(tmp_path):
    report = _check(tmp_path, P.MLP_FORWARD_CRASHES, MLP_SPEC, "mlp")
    assert _verdicts(report) == {"MLP.forward": "crashed", "MLP.backward": "not judged",
                                 "MLP.clear_grad_and_cache": "not judged"}
    forward = report["MLP.forward"]
    assert any("z1 = x @ p['W1'] + p['b1']" in line for line in forward.traceback), forward.traceback
    assert any('"submission.py"' in line and "in forward" in line for line in forward.traceback)
    assert not any("_runner" in line for line in forward.traceback)
    assert report["MLP.backward"].message == "not judged: MLP.forward crashed"


@pytest.mark.parametrize("source,function,mistake", [
    (P.MLP_DROPS_FACTOR, "MLP.backward", "chain_factor_dropped"),
    (P.MLP_EXTRA_MEAN, "MLP.backward", "extra_mean_factor"),
], ids=["drops_factor", "extra_mean"])
def test_mlp_mistakes_named(tmp_path, source, function, mistake):
    report = _check(tmp_path, source, MLP_SPEC, "mlp")
    assert report[function].status == "wrong"
    assert mistake in _mistakes(report[function]), report[function].diagnosis


@pytest.mark.parametrize("spec", ["ridge_regression", "multiclass"])
def test_student_nodes_and_renamed_parameters_are_correct(tmp_path, spec):
    for source in (P.NODES_CORRECT, P.NODES_RENAMED):
        report = _check(tmp_path, source, spec, "nodes")
        assert _verdicts(report) == {}, report
        assert not any(name.startswith(("ReLUNode", "SigmoidNode")) for name in report)


@pytest.mark.parametrize("source,function,mistake", [
    (P.NODES_DROPS_L2_REG, "L2NormPenaltyNode.backward", "regularization_dropped"),
    (P.NODES_DROPS_UPSTREAM, "VectorScalarAffineNode.backward", "chain_factor_dropped"),
], ids=["drops_l2_reg", "drops_upstream"])
def test_nodes_mistakes_named(tmp_path, source, function, mistake):
    report = _check(tmp_path, source, "ridge_regression", "nodes")
    assert report[function].status == "wrong"
    assert _mistakes(report[function]) == [mistake], report[function].diagnosis


def test_penalty_left_out_of_the_whole_ridge_gradient_is_named():
    import numpy as np

    from symgrad.evaluate import EvalContext
    from symgrad.verify import env as envmod
    from symgrad.verify.answer import diagnose
    d = envmod.load_derivation("ridge_regression")
    points, ctx = envmod.random_points(d, 6, 3)
    without = [p.values["d_w"] - 2 * p.values["l2_reg"] * p.values["w"] for p in points]
    assert not all(np.allclose(a, p.values["d_w"]) for a, p in zip(without, points))
    found = diagnose(d, "w", without, points, EvalContext(envmod.test_sizes(d)))
    assert [m["mistake"] for m in found] == ["regularization_dropped"]


def test_wrong_graph_loss_value_is_wrong_not_an_internal_error(tmp_path):
    report = _check(tmp_path, P.NODES_WRONG_LOSS_VALUE, "ridge_regression", "nodes")
    assert _verdicts(report) == {"SquaredL2DistanceNode.forward": "wrong", "ridge_regression graph": "wrong"}
    assert report["ridge_regression graph"].counterexample["key"] == "loss"


def test_stub_class_is_not_implemented(tmp_path):
    report = _check(tmp_path, P.NODES_STUB_TANH, "mlp_regression", "nodes")
    verdicts = _verdicts(report)
    assert {k: v for k, v in verdicts.items() if k.startswith("TanhNode")} == {
        f"TanhNode.{m}": "not implemented" for m in ("forward", "get_predecessors", "backward")}
    assert set(verdicts) - {"TanhNode.forward", "TanhNode.get_predecessors", "TanhNode.backward"} == \
        {"mlp_regression graph"}


def test_other_edition_is_named_and_its_spec_grades_it(tmp_path):
    report = check_file("pset3", _write(tmp_path, P.PSET3_42), "pset3", time_limit=20)
    assert report.exit_status == 1
    assert report.notes == ["your W0 has 4 entries; this spec's W0 has 3: did you mean --spec pset3_fa24?"]
    right = check_file("pset3_fa24", _write(tmp_path, P.PSET3_42), "pset3", time_limit=20)
    assert right.counts()["correct"] == len(right.functions) and right.notes == []


def test_correct_code_gets_no_edition_note(tmp_path):
    from pset3_submissions import build
    report = check_file("pset3", _write(tmp_path, build()), "pset3", time_limit=20)
    assert report.exit_status == 0 and report.notes == []


def test_pset3_stubs_are_not_implemented(tmp_path):
    report = {f.name: f for f in check_file("pset3_fa24", _write(tmp_path, P.PSET3_STUBS), "pset3",
                                            time_limit=20).functions}
    assert _verdicts(report) == {"d_loss_d_W1": "not implemented", "d_loss_d_W0": "not implemented"}


def test_a_grader_bug_costs_one_line_not_the_report(tmp_path, monkeypatch):
    from symgrad.verify import judge

    def broken(*args, **kwargs):
        raise KeyError("J")
    monkeypatch.setattr(judge, "diagnose", broken)
    log = tmp_path / "errors.log"
    path = _write(tmp_path, P.MLP_DROPS_FACTOR)
    report = check_file(MLP_SPEC, path, "mlp", time_limit=20, error_log=log)
    verdicts = {f.name: f for f in report.functions}
    backward = verdicts["MLP.backward"]
    assert backward.status == "grader error" and len(backward.error_id) == 8
    assert backward.error_id in backward.message
    assert {f.status for n, f in verdicts.items() if n != "MLP.backward"} == {"correct"}
    text = log.read_text()
    assert backward.error_id in text and "KeyError: 'J'" in text and "Traceback" in text


def _write(tmp_path, source, name="submission.py"):
    path = tmp_path / name
    path.write_text(source)
    return path


# -- a whole folder: every pattern beside the hostile submissions ------------------------

def _hostile(subs: Path, base: Path) -> int:
    from test_hostile_submissions import EFFECT, FOLDERS, REACH, _folder_attack, reach_source
    env = {"GENERATED": str(ROOT / "generated" / "api" / "pset3.py"), "ROOT": str(ROOT), "SUBS": str(subs),
           "OUT": str(base / "out"), "UNIX_SOCK": str(base / "no.sock"), "TCP_PORT": 9,
           "GRADER_PID": os.getpid(), "SECRET_ENV": "SYMGRAD_TEST_SECRET"}
    for name in REACH:
        (subs / f"reach_{name}.py").write_text(reach_source(name, env))
    for name, (source, _) in EFFECT.items():
        (subs / f"effect_{name}.py").write_text(source)
    secret = base / "secret.txt"
    secret.write_text("the answer key")
    for name in FOLDERS:
        _folder_attack(subs, name, secret)
    return len(REACH) + len(EFFECT) + len(FOLDERS)


@pytest.mark.parametrize("profile,spec,patterns", [
    ("pset3", "pset3", {"fa24.py": P.PSET3_42, "stubs.py": P.PSET3_STUBS}),
    ("mlp", MLP_SPEC, {"assigns.py": P.MLP_ASSIGNS, "loss_value.py": P.MLP_WRONG_LOSS_VALUE,
                       "stub.py": P.MLP_STUBS, "forward_crashes.py": P.MLP_FORWARD_CRASHES}),
    ("nodes", "ridge_regression", {"renamed.py": P.NODES_RENAMED, "loss_value.py": P.NODES_WRONG_LOSS_VALUE,
                                   "stub.py": P.NODES_STUB_TANH, "drops_l2.py": P.NODES_DROPS_L2_REG}),
], ids=["pset3", "mlp", "nodes"])
def test_grade_a_mixed_folder_gives_every_submission_a_full_report(tmp_path, profile, spec, patterns):
    from symgrad.verify.code import make_plan
    from symgrad.verify.env import load_derivation
    base = tmp_path / "grading"
    subs, out = base / "subs", base / "out"
    subs.mkdir(parents=True)
    for name, source in patterns.items():
        (subs / name).write_text(source)
    hostile = _hostile(subs, base) if profile == "pset3" else 0
    done = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", spec, "--profile", profile,
                           "--jobs", "2", "--time-limit", "3", "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    report = json.loads((out / "grades.json").read_text())["submissions"]
    functions = make_plan(load_derivation(spec), profile).functions
    assert len(report) == len(patterns) + hostile
    for name, sub in report.items():
        assert "error" not in sub or "not copied" in sub["error"], (name, sub)
        if "error" in sub:
            continue
        assert [f["function"] for f in sub["functions"]] == functions, name
        assert all(f["verdict"] in STATUSES and f["verdict"] != "grader error" for f in sub["functions"]), name
        assert sum(sub["summary"].values()) == len(functions)
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0] == "submission,function,verdict,message,diagnosis"
    graded = [s for s in report.values() if "functions" in s]
    assert len(rows) == 1 + len(functions) * len(graded) + (len(report) - len(graded))
    assert "correct per function" in done.stdout
    assert not (out / "grader-errors.log").exists()
    if profile == "pset3":
        assert "did you mean --spec pset3_fa24?" in done.stdout
        assert report["fa24.py"]["notes"]
