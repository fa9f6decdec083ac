"""Bad uses of the spec language's integer inputs, subscripts, reshapes and reductions, and bad
label data: each is one line on stderr naming what and where, exit status 2, no traceback,
run as a user runs it (``python -m symgrad``)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SOFTMAX_PICK = str(Path(__file__).parent / "specs_issue20" / "softmax_pick.toml")
GOOD = {
    "inputs": 'X = ["n", 4]\nix = { shape = ["n", 2], kind = "index", size = 5 }\n'
              'y = { shape = ["n"], kind = "label", classes = 3 }',
    "params": "W = [4, 3]\nC = [5, 2]",
    "nodes": 'Z = "X @ W"\nE = "flatten(C[ix])"',
    "loss": "-mean(log_softmax(Z, axis=1)[range(n), y]) + sum(E**2)",
}


def spec_text(**change) -> str:
    parts = {**GOOD, **change}
    return (f'name = "bad"\n[inputs]\n{parts["inputs"]}\n[params]\n{parts["params"]}\n'
            f'[nodes]\n{parts["nodes"]}\n[loss]\nexpr = "{parts["loss"]}"\n')


def run_symgrad(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symgrad", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def one_clear_line(run) -> str:
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("symgrad: error: "), run.stderr
    return run.stderr


SPECS = [   # label, spec change, words the line must hold (what and where)
    ("no classes", {"inputs": GOOD["inputs"].replace("classes = 3", "classes = 0")},
     ["inputs.y.classes", "classes must be an integer between 1"]),
    ("index used as a float", {"loss": "sum(exp(ix))"}, ["node 'loss'", "'sum(exp(ix))'", "'ix'", "holds integers"]),
    ("reshape does not multiply out", {"nodes": 'Z = "X @ W"\nE = "reshape(C[ix], n, 5)"'},
     ["node 'E'", "reshape", "(n, 2, 2)", "(n, 5)", "do not multiply out"]),
    ("max over a missing axis", {"loss": "sum(max(Z, axis=2))"},
     ["node 'loss'", "max: axis 2 is out of range for an array with 2 dimension(s)"]),
    ("a float array as an index", {"nodes": 'Z = "X @ W"\nE = "C[X]"'},
     ["node 'E'", "'C[X]'", "column 2", "'X', which holds real numbers"]),
    ("a number as an index", {"nodes": 'Z = "X @ W"\nE = "C[1]"'}, ["node 'E'", "a number"]),
    ("a float bound", {"nodes": 'Z = "X @ W"\nE = "Z[:, 1.5:]"'}, ["node 'E'", "bound 3/2 is not an integer"]),
    ("a bound that is not a constant", {"nodes": 'Z = "X @ W"\nE = "Z[:, :n]"'},
     ["node 'E'", "bounds must be integer constants"]),
    ("a bound out of range", {"nodes": 'Z = "X @ W"\nE = "Z[:, 1:4]"'},
     ["node 'E'", "1:4 on axis 1 of size 3 is out of range"]),
    ("an empty slice", {"nodes": 'Z = "X @ W"\nE = "Z[:, 2:1]"'}, ["node 'E'", "2:1 on axis 1", "empty"]),
    ("a slice on a missing axis", {"nodes": 'Z = "X @ W"\nE = "Z[:, :, 1:]"'},
     ["node 'E'", "3 subscripts for an array of shape (n, 3) (2 axes)"]),
    ("a step", {"nodes": 'Z = "X @ W"\nE = "Z[::2]"'}, ["node 'E'", "no step"]),
    ("range of the wrong size", {"loss": "-mean(Z[range(5), y])"}, ["node 'loss'", "Z has n rows", "range(n)"]),
    ("real labels", {"loss": "-mean(Z[range(n), X])"}, ["node 'loss'", "the labels must be an input of kind"]),
]


@pytest.mark.parametrize("label, change, words", SPECS, ids=[s[0] for s in SPECS])
def test_a_bad_spec_is_one_clear_line(label, change, words, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(spec_text(**change))
    line = one_clear_line(run_symgrad("check", str(path), cwd=tmp_path))
    assert "bad.toml" in line
    for w in words:
        assert w in line, (w, line)


def test_the_good_spec_checks(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(spec_text())
    run = run_symgrad("check", str(path), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def _labels():
    return np.random.default_rng(0).integers(0, 3, 20)


DATA = [   # label, y array, words
    ("a label equal to classes", np.where(_labels() == 2, 3, _labels()), ["'y' holds 3", "outside 0 .. 2", "classes = 3"]),
    ("a negative label", -_labels() - 1, ["'y' holds -", "outside 0 .. 2"]),
    ("float labels", _labels() + 0.5, ["'y' holds float64 values", "save it as integers"]),
    ("whole floats are still floats", _labels().astype(float), ["'y' holds float64 values"]),
]


@pytest.mark.parametrize("label, y, words", DATA, ids=[d[0] for d in DATA])
def test_bad_labels_in_training_data_are_one_clear_line(label, y, words, tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.random.default_rng(1).normal(size=(20, 4)), y=y)
    line = one_clear_line(run_symgrad("train", SOFTMAX_PICK, "--data", str(path), "--epochs", "1", cwd=tmp_path))
    assert "data.npz" in line
    for w in words:
        assert w in line, (w, line)
    assert not list(tmp_path.glob("*.png"))      # nothing half-written


def test_integer_labels_train(tmp_path):
    path = tmp_path / "data.npz"
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 4))
    np.savez(path, X=x, y=np.argmax(x[:, :3], axis=1))    # a separable rule, so the loss falls
    run = run_symgrad("train", SOFTMAX_PICK, "--data", str(path), "--epochs", "30", "--lr", "0.5", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    losses = [float(line.split()[-1]) for line in run.stdout.splitlines()
              if line.split() and line.split()[0].isdigit()]
    assert losses[-1] < 0.6 * losses[0], run.stdout


@pytest.mark.parametrize("typed, meant", [("yhat", "y_hat"), ("onehot(o)", "one_hot"), ("Relu(v_c)", "relu"),
                                          ("Y_HAT", "y_hat"), ("y_hatt", "y_hat")])
def test_a_near_miss_name_is_suggested(typed, meant):
    # what students type: an underscore dropped, a capital, one letter more
    from symgrad import derive
    from symgrad.errors import SpecError
    from symgrad.verify.answer import verify_answer
    with pytest.raises(SpecError, match=rf"\(did you mean '{meant}'\?\)"):
        verify_answer(derive("word2vec_naive"), "v_c", typed)


def test_no_suggestion_for_a_name_like_nothing():
    from symgrad import derive
    from symgrad.errors import SpecError
    from symgrad.verify.answer import verify_answer
    with pytest.raises(SpecError) as info:
        verify_answer(derive("word2vec_naive"), "v_c", "zzz")
    assert "did you mean" not in str(info.value)
