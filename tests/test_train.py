"""symgrad train: SGD with generated gradients reaches the optimum found by a
second method, on the bundled data, reproducibly."""

import io
import sys

import numpy as np
import pytest

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import load_module
from symgrad.cli import main
from symgrad.data import make_data
from symgrad.train import DataError, History, init_params, load_data, plot_losses, progress_bar, train


def closed_form_ridge():
    """min over (w, b) of mean((x.w + b - y)^2) + l2_reg ||w||^2 (b not penalised)."""
    data = np.load(make_data.__file__.replace("make_data.py", "ridge_regression.npz"))
    x, y, l2_reg = data["x"], data["y"], float(data["l2_reg"])
    n, dims = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    penalty = np.diag([1.0] * dims + [0.0])
    theta = np.linalg.solve(a.T @ a / n + l2_reg * penalty, a.T @ y / n)
    return np.mean((a @ theta - y) ** 2) + l2_reg * theta[:dims] @ theta[:dims]


def test_ridge_reaches_the_closed_form_optimum():
    history = train("ridge_regression", "ridge_regression", epochs=30, lr=0.02, batch_size=10, seed=0)
    optimum = closed_form_ridge()
    assert optimum <= history.losses[-1] <= 1.05 * optimum, (history.losses[-1], optimum)


MLP_BATCH = Spec(name="mlp_regression_batch", inputs={"x": ["n", 1], "y": ["n"]},
                 params={"W1": [10, 1], "b1": [10], "w2": [10], "b2": []},
                 nodes={"L": "x @ W1.T + b1", "h": "tanh(L)", "prediction": "h @ w2 + b2"},
                 loss="mean((prediction - y)**2)")


def long_run_mlp(seed, steps=20000, lr=0.3):
    """Full-batch gradient descent from the same start, on a batch version of the spec."""
    module = load_module(render_module(derive(MLP_BATCH)), "mlp_regression_batch")
    data = np.load(make_data.__file__.replace("make_data.py", "mlp_regression.npz"))
    inputs = {"x": data["x"], "y": data["y"]}
    params = init_params(derive("mlp_regression").graph, np.random.default_rng(seed), {})
    for _ in range(steps):
        loss, grads = module.loss_and_grads(params, inputs)
        params = {k: v - lr * grads[k] for k, v in params.items()}
    return module.loss_and_grads(params, inputs)[0]


def test_tanh_mlp_regression_reaches_the_long_run_optimum():
    history = train("mlp_regression", "mlp_regression", epochs=200, lr=0.1, batch_size=5, seed=0, decay="linear")
    reference = long_run_mlp(seed=0)
    assert history.losses[-1] <= 1.05 * reference, (history.losses[-1], reference)
    assert history.losses[-1] < 0.02 * history.losses[0]


def test_softmax_classifier_separates_held_out_blobs():
    history = train("multiclass", "multiclass", epochs=30, lr=0.1, batch_size=10, seed=0)
    assert history.test_accuracy == 1.0 and history.train_accuracy == 1.0
    assert history.test_loss < 0.05


def test_training_is_reproducible_from_the_seed():
    a = train("multiclass", "multiclass", epochs=3, lr=0.1, batch_size=10, seed=4)
    b = train("multiclass", "multiclass", epochs=3, lr=0.1, batch_size=10, seed=4)
    c = train("multiclass", "multiclass", epochs=3, lr=0.1, batch_size=10, seed=5)
    assert a.losses == b.losses
    assert a.losses != c.losses


def test_a_batch_spec_follows_the_same_path_as_the_one_example_spec(tmp_path):
    # mean over a minibatch in the spec == mean of per-example gradients in the trainer
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = x @ np.array([1.0, -1.0, 2.0]) + 0.5
    np.savez(tmp_path / "lin.npz", x=x, y=y)
    batch = Spec(name="linear_batch", inputs={"x": ["n", 3], "y": ["n"]}, params={"w": [3], "b": []},
                 nodes={"prediction": "x @ w + b"}, loss="mean((prediction - y)**2)")
    one = train("linear_regression", tmp_path / "lin.npz", epochs=4, lr=0.05, batch_size=8, seed=1)
    many = train(batch, tmp_path / "lin.npz", epochs=4, lr=0.05, batch_size=8, seed=1)
    np.testing.assert_allclose(one.losses, many.losses, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(make_data.DATASETS))
def test_bundled_data_is_what_the_seeded_script_makes(name):
    committed = open(make_data.__file__.replace("make_data.py", f"{name}.npz"), "rb").read()
    assert make_data.make(name) == committed


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((5, 2))}, "no array 'y'"),
    ({"x": np.zeros((5, 4)), "y": np.zeros((5, 3))}, "has shape (5, 4)"),
    ({"x": np.zeros((5, 2)), "y": np.zeros((6, 3))}, "disagree on the number of examples"),
    ({"x": np.zeros((5, 2)), "y": np.zeros((5, 3)), "z": np.zeros(5)}, "not inputs"),
])
def test_bad_data_is_one_clear_error(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_data(str(path), derive("multiclass").graph)


def test_cli_trains_prints_losses_and_writes_the_curve(tmp_path, capsys):
    plot = tmp_path / "curve.png"
    assert main(["train", "multiclass", "--data", "multiclass", "--epochs", "2", "--lr", "0.1",
                 "--plot", str(plot), "--save", str(tmp_path / "p.npz")]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and out.count("\n") >= 5
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(np.load(tmp_path / "p.npz").files) == {"W1", "b1", "W2", "b2"}


def test_cli_bad_data_exits_2_without_traceback(tmp_path, capsys):
    assert main(["train", "multiclass", "--data", str(tmp_path / "missing.npz"), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "missing.npz" in err and "Traceback" not in err and err.count("\n") == 1


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(Exception, match="needs matplotlib"):
        plot_losses(History("s", 1, 0.1, 1, 0, losses=[1.0, 0.5]), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_progress_bar_draws_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        show = progress_bar(stream, width=10)
        show(5, 10, 0.25)
        show(10, 10, 0.125)
    assert "#####....." in tty.getvalue() and "epoch 10/10" in tty.getvalue()
    assert pipe.getvalue() == ""
