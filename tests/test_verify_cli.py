"""`symgrad verify --answer/--latex`: exit status and the JSON fields."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"verdict", "method", "expected_shape", "answer_shape", "counterexample", "diagnosis", "message", "read_as"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "symgrad", "verify", *args, "--format", "json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,status,verdict,mistake", [
    (["titanic", "--wrt", "W1", "--answer", "A.T @ (d_C * step(B))"], 0, "correct", None),
    (["titanic", "--wrt", "W1", "--latex", r"A^\top \left(\frac{\partial L}{\partial C} \odot \mathbb{1}[B > 0]\right)"],
     0, "correct", None),
    (["titanic", "--wrt", "W1", "--answer", "(A.T @ (d_C * step(B))).T"], 1, "incorrect", "layout_transposed"),
    (["titanic", "--wrt", "C", "--answer", "d_yhat @ W2.T"], 1, "incorrect", "concat_ones_kept"),
    (["pset3", "--wrt", "W1", "--latex", r"\mathbb{1}[r^{1} \geq 0] \odot \frac{\partial L}{\partial h^{1}} h^{0\top}"],
     2, "unusable", None),
    (["titanic", "--wrt", "W1", "--answer", "A.T @ (d_C * step(B)"], 2, "unusable", None),
])
def test_verdicts(args, status, verdict, mistake):
    done = run(*args)
    assert done.returncode == status, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == FIELDS
    assert data["verdict"] == verdict
    if mistake:
        assert mistake in [m["mistake"] for m in data["diagnosis"]]
        assert data["counterexample"]["expected"] != data["counterexample"]["got"]


def test_kink_convention_named():
    done = run("pset3", "--wrt", "W1", "--answer", "outer(d_h1 * (1 - step(-r1)), h0)")
    data = json.loads(done.stdout)
    assert done.returncode == 1
    assert [m["mistake"] for m in data["diagnosis"]] == ["kink_convention"]
