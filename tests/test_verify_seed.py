"""Seed 002's pset3 solution as a submission: which functions are right, which
are wrong, at what input, and why. The real seed is read from ../shared/seeds
when it exists; otherwise a file written here with the same behaviour is used
(relu_derivative(0) = 1, d_loss_d_r1 taking relu_derivative of h1)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.verify.code import check_file

from pset3_submissions import CORRECT, build

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seeds" / "002_bc9f49cb9a830aed.txt"

EQUIVALENT = build(
    relu="def relu(x):\n    return 0 if x < 0 else x\n",
    mlp=CORRECT["mlp"].replace("relu(r0)", "np.array([relu(v) for v in r0])")
                      .replace("relu(r1)", "np.array([relu(v) for v in r1])"),
    relu_derivative="def relu_derivative(x):\n    return 0 if x < 0 else 1\n",
    d_loss_d_r1="def d_loss_d_r1(variable_dict, W2, y_observed):\n"
                "    d = np.array([relu_derivative(v) for v in variable_dict['h1']])\n"
                "    return d_loss_d_h1(variable_dict, W2, y_observed) * d\n",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if SEED.exists():
        path = SEED
    else:
        path = tmp_path_factory.mktemp("seed") / "equivalent.py"
        path.write_text(EQUIVALENT)
    return {f.name: f for f in check_file("pset3", path, "pset3", time_limit=5).functions}


@pytest.mark.parametrize("name", ["relu", "loss", "mlp", "d_loss_d_ypredicted", "d_loss_d_W2", "d_loss_d_h1"])
def test_right_functions_are_right(report, name):
    assert report[name].status == "correct", report[name]


def test_relu_derivative_wrong_at_zero_only(report):
    f = report["relu_derivative"]
    assert f.status == "wrong"
    assert f.counterexample["inputs"] == {"x": 0.0}
    assert (f.counterexample["expected"], f.counterexample["got"]) == (0.0, 1.0)
    assert [m["mistake"] for m in f.diagnosis] == ["kink_convention"]


def test_d_loss_d_r1_wrong_where_r1_negative(report):
    f = report["d_loss_d_r1"]
    assert f.status == "wrong"
    named = [m["mistake"] for m in f.diagnosis]
    assert "derivative_at_output" in named and "kink_convention" in named
    expected, got = f.counterexample["expected"], f.counterexample["got"]
    differs = [i for i in range(3) if expected[i] != got[i]]
    assert differs and all(expected[i] == 0 for i in differs)   # relu'(r1) = 0 there; h1 = 0 gave 1


@pytest.mark.parametrize("name", ["d_loss_d_W1", "d_loss_d_h0", "d_loss_d_r0", "d_loss_d_W0"])
def test_functions_built_on_d_loss_d_r1_are_not_right(report, name):
    assert report[name].status in ("wrong", "crashed"), report[name]


def test_cli_json(tmp_path):
    path = tmp_path / "equivalent.py"
    path.write_text(EQUIVALENT)
    done = subprocess.run([sys.executable, "-m", "symgrad", "verify", "pset3", "--code", str(path), "--profile",
                           "pset3", "--format", "json", "--time-limit", "5"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert {f["function"]: f["verdict"] for f in data["functions"]}["relu_derivative"] == "wrong"


def test_wrong_functions_name_the_wrong_functions_they_call(report):
    assert "relu_derivative" in report["d_loss_d_r1"].calls_not_correct
    assert "d_loss_d_r1" in report["d_loss_d_W1"].calls_not_correct
    assert report["d_loss_d_h1"].calls_not_correct == []
