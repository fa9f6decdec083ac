"""cs231n profile: the course's layers.py and fc_net.py, written by `symgrad profile cs231n`,
against torch autograd and against centered differences as the notebooks compute them.

The facts tested: names and signatures, (out, cache) returns, (dx, dw, db) from
the backward passes, x of shape (N, d1, ..., dk) flattened, losses averaged over
the batch with integer labels, batch norm's running statistics with momentum in
bn_param, dropout's keep probability p and seed, and the L2 penalty 0.5 * reg * sum(W^2).
"""

import importlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from symgrad.profiles import render_files

F = torch.nn.functional


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("cs231n_root")
    for name, text in render_files("cs231n").items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    sys.path.insert(0, str(root))
    try:
        for mod in [m for m in sys.modules if m == "cs231n" or m.startswith("cs231n.")]:
            del sys.modules[mod]
        layers = importlib.import_module("cs231n.layers")
        fc_net = importlib.import_module("cs231n.classifiers.fc_net")
    finally:
        sys.path.remove(str(root))
    return layers, fc_net, root


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def rel_error(x, y):
    """The notebooks' relative error: max |x - y| / max(1e-8, |x| + |y|)."""
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def numeric_gradient(f, x, df, h=1e-5):
    """Centered differences of sum(f(x) * df), one entry of x at a time (the notebooks' array check)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.array(f(x), copy=True)
        x[i] = old - h
        minus = np.array(f(x), copy=True)
        x[i] = old
        grad[i] = np.sum((plus - minus) * df) / (2 * h)
        it.iternext()
    return grad


def test_the_profile_writes_the_package_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "symgrad", "profile", "cs231n", "-o", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for name in ("cs231n/layers.py", "cs231n/classifiers/fc_net.py", "cs231n/__init__.py",
                 "cs231n/classifiers/__init__.py"):
        assert (tmp_path / name).is_file(), name
    assert "import torch" not in (tmp_path / "cs231n/layers.py").read_text()


def test_affine_flattens_and_returns_out_cache_and_three_gradients(course):
    layers = course[0]
    rng = np.random.default_rng(0)
    for shape in [(2, 4, 5, 6), (10, 2, 3), (3, 7)]:
        x = rng.normal(size=shape)
        D = int(np.prod(shape[1:]))
        w, b, dout = rng.normal(size=(D, 5)), rng.normal(size=5), rng.normal(size=(shape[0], 5))
        out, cache = layers.affine_forward(x, w, b)
        dx, dw, db = layers.affine_backward(dout, cache)
        tx, tw, tb = t(x, True), t(w, True), t(b, True)
        tout = tx.reshape(shape[0], -1) @ tw + tb
        tout.backward(t(dout))
        assert np.allclose(out, tout.detach().numpy())
        assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
        assert np.allclose(dx, tx.grad.numpy()) and np.allclose(dw, tw.grad.numpy()) and np.allclose(db, tb.grad.numpy())


def test_relu_forward_and_backward(course):
    layers = course[0]
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, cache = layers.relu_forward(x)
    assert np.array_equal(out, np.maximum(0, x))
    dout = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(layers.relu_backward(dout, cache), dout * (x > 0))


@pytest.mark.parametrize("name", ["softmax", "svm"])
def test_the_losses_are_averaged_over_the_batch_with_integer_labels(course, name):
    layers = course[0]
    rng = np.random.default_rng(1)
    N, C = 50, 10
    x, y = 0.001 * rng.normal(size=(N, C)), rng.integers(C, size=N)
    loss, dx = getattr(layers, f"{name}_loss")(x, y)
    tx = t(x, True)
    if name == "softmax":
        tl = F.cross_entropy(tx, torch.tensor(y))
        assert abs(loss - np.log(C)) < 0.01       # near-uniform scores: about log C, as the notebook says
    else:
        margins = torch.clamp(tx - tx[torch.arange(N), torch.tensor(y)][:, None] + 1, min=0)
        tl = (margins.sum() - N) / N                # the correct class's margin is 1 in every row
        assert abs(loss - (C - 1)) < 0.05           # near-equal scores: about C - 1
    tl.backward()
    assert np.isclose(loss, tl.item()) and np.allclose(dx, tx.grad.numpy())
    numeric = numeric_gradient(lambda v: getattr(layers, f"{name}_loss")(v, y)[0], x.copy(), 1.0)
    assert rel_error(numeric, dx) < 1e-7


def test_batchnorm_train_statistics_running_averages_and_test_mode(course):
    layers = course[0]
    rng = np.random.default_rng(2)
    N, D = 200, 3
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    bn_param = {"mode": "train"}
    out, cache = layers.batchnorm_forward(5 + 3 * rng.normal(size=(N, D)), gamma, beta, bn_param)
    assert np.allclose(out.mean(axis=0), beta) and np.allclose(out.std(axis=0), gamma, rtol=1e-4)
    x = rng.normal(size=(N, D))
    bn_param = {"mode": "train", "momentum": 0.8}
    layers.batchnorm_forward(x, gamma, beta, bn_param)
    assert np.allclose(bn_param["running_mean"], 0.2 * x.mean(axis=0))
    assert np.allclose(bn_param["running_var"], 0.2 * x.var(axis=0))
    bn_param["mode"] = "test"
    out, _ = layers.batchnorm_forward(x, gamma, beta, bn_param)
    want = F.batch_norm(t(x), t(bn_param["running_mean"]), t(bn_param["running_var"]), t(gamma), t(beta),
                        training=False, eps=1e-5)
    assert np.allclose(out, want.numpy())


@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
def test_normalization_backward_against_autograd_and_numeric(course, norm):
    layers = course[0]
    rng = np.random.default_rng(3)
    N, D = 4, 5
    x, gamma, beta, dout = 5 * rng.normal(size=(N, D)) + 12, rng.normal(size=D), rng.normal(size=D), rng.normal(size=(N, D))
    param = {"mode": "train"} if norm == "batchnorm" else {}
    forward = getattr(layers, f"{norm}_forward")
    out, cache = forward(x, gamma, beta, dict(param))
    dx, dgamma, dbeta = getattr(layers, f"{norm}_backward")(dout, cache)
    tx, tg, tb = t(x, True), t(gamma, True), t(beta, True)
    if norm == "batchnorm":
        tout = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    else:
        tout = F.layer_norm(tx, (D,), tg, tb, eps=1e-5)
    tout.backward(t(dout))
    assert np.allclose(out, tout.detach().numpy())
    for mine, theirs in [(dx, tx), (dgamma, tg), (dbeta, tb)]:
        assert np.allclose(mine, theirs.grad.numpy())
    numeric = numeric_gradient(lambda v: forward(v, gamma, beta, dict(param))[0], x.copy(), dout)
    assert rel_error(numeric, dx) < 1e-7


def test_dropout_keeps_with_probability_p_scales_by_1_over_p_and_repeats_with_its_seed(course):
    layers = course[0]
    x = np.random.default_rng(4).normal(size=(500, 500)) + 10
    for p in (0.25, 0.6):
        out, cache = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
        kept = out != 0
        assert abs(kept.mean() - p) < 0.01
        assert np.allclose(out[kept], x[kept] / p)
        again, _ = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
        assert np.array_equal(out, again)
        test_out, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
        assert np.array_equal(test_out, x)
        dout = np.ones_like(x)
        assert np.array_equal(layers.dropout_backward(dout, cache), kept / p)


def test_two_layer_net_scores_and_loss_with_l2(course):
    fc_net = course[1]
    rng = np.random.default_rng(5)
    N, D, H, C = 3, 5, 50, 7
    model = fc_net.TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3, reg=0.0)
    assert model.params["W1"].shape == (D, H) and np.all(model.params["b1"] == 0)
    assert abs(np.std(model.params["W1"]) - 1e-3) < 2e-4
    for name in model.params:
        model.params[name] = rng.normal(size=model.params[name].shape)
    X, y = rng.normal(size=(N, D)), rng.integers(C, size=N)
    tp = {k: t(v, True) for k, v in model.params.items()}
    tscores = torch.relu(t(X) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"]
    assert np.allclose(model.loss(X), tscores.detach().numpy())
    for reg in (0.0, 0.7):
        model.reg = reg
        loss, grads = model.loss(X, y)
        for v in tp.values():
            v.grad = None
        tscores = torch.relu(t(X) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"]
        tl = F.cross_entropy(tscores, torch.tensor(y)) + 0.5 * reg * ((tp["W1"] ** 2).sum() + (tp["W2"] ** 2).sum())
        tl.backward()
        assert np.isclose(loss, tl.item())
        assert set(grads) == set(model.params)
        for k in grads:
            assert np.allclose(grads[k], tp[k].grad.numpy()), k


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fully_connected_net_gradients_as_the_notebook_checks_them(course, normalization):
    fc_net = course[1]
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X, y = np.random.randn(N, D), np.random.randint(C, size=(N,))
    for reg in (0, 3.14):
        model = fc_net.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                         dtype=np.float64, normalization=normalization)
        loss, grads = model.loss(X, y)
        for name in sorted(grads):
            def f(_, model=model):
                return model.loss(X, y)[0]
            numeric = numeric_gradient(f, model.params[name], 1.0)
            # the notebook's own check; batch statistics of two rows make centered differences coarse
            assert rel_error(numeric, grads[name]) < (1e-4 if normalization is None else 1e-3), name
        if reg == 0 and normalization is None:
            assert abs(loss - np.log(C)) < 0.1
    model = fc_net.FullyConnectedNet([H1], input_dim=D, num_classes=C, weight_scale=5e-2, dtype=np.float64)
    tp = {k: t(v, True) for k, v in model.params.items()}
    model.reg = 0.5
    loss, grads = model.loss(X, y)
    scores = torch.relu(t(X) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"]
    tl = F.cross_entropy(scores, torch.tensor(y)) + 0.25 * ((tp["W1"] ** 2).sum() + (tp["W2"] ** 2).sum())
    tl.backward()
    assert np.isclose(loss, tl.item())
    assert all(np.allclose(grads[k], tp[k].grad.numpy()) for k in tp)
    assert model.loss(X).shape == (N, C)


# -- grading -------------------------------------------------------------------------


def mutate(source: str, old: str, new: str) -> str:
    assert old in source, f"the generated file no longer contains {old!r}"
    return source.replace(old, new)


def _submission(folder, changed=None):
    """The profile's package in ``folder`` (an assignment root), with ``changed`` {file name: text} swapped in."""
    for name, text in render_files("cs231n").items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((changed or {}).get(name, text))
    return folder


FILES = render_files("cs231n")
LAYERS, FC_NET = "cs231n/layers.py", "cs231n/classifiers/fc_net.py"


def changed(name, old, new):
    return {name: mutate(FILES[name], old, new)}


# name -> (changed files, {function judged wrong: the mistake named, None when the catalogue has none,
#                          or (verdict, the wrong layer it calls) for the net built on the layers})
MISTAKES = {
    "reference": ({}, {}),
    "dw_transposed": (changed(LAYERS, "d_w = out_1.T @ dout", "d_w = dout.T @ out_1"),
                      {"affine_backward": "layout_transposed",
                       "FullyConnectedNet.loss": ("crashed", "affine_backward")}),
    "softmax_sum": (changed(LAYERS, "d_logp = -1/N * one_hot(y, C, dtype)", "d_logp = -one_hot(y, C, dtype)"),
                    {"softmax_loss": "missing_mean_factor", "FullyConnectedNet.loss": ("wrong", "softmax_loss")}),
    "running_mean_kept": (changed(LAYERS, "running_mean = momentum * running_mean + (1 - momentum) * cache[\"mu\"]",
                                  "running_mean = cache[\"mu\"]"), {"batchnorm_forward": None}),
    "fc_net_no_l2_gradient": (changed(FC_NET, "grads[f\"W{k}\"] = grads[f\"W{k}\"] + _l2_grads(penalty)", "pass"),
                              {"FullyConnectedNet.loss": None}),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_the_grader_accepts_the_profile_and_names_a_seeded_mistake(tmp_path, name):
    from symgrad.verify.code import check_file
    files, wrong = MISTAKES[name]
    report = check_file("cs231n_affine", _submission(tmp_path / "root", files), "cs231n", time_limit=20, points=3)
    got = {f.name: f for f in report.functions}
    for fname, f in got.items():
        if fname not in wrong:
            assert f.status == "correct", (fname, f.status, f.message)
        else:
            if isinstance(wrong[fname], tuple):     # the net is built on the layers: the wrong one is named
                status, callee = wrong[fname]
                assert f.status == status and f.calls_not_correct == [callee] and callee in f.message, f.message
                continue
            assert f.status == "wrong", (fname, f.status, f.message)
            if wrong[fname] is not None:
                assert f.diagnosis[0]["mistake"] == wrong[fname], f.diagnosis


STUDENT_BATCHNORM = """

def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x_hat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    x_hat, std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = DX
    return dx, dgamma, dbeta
"""


@pytest.mark.parametrize("dx, mistake", [
    ("(N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)) / (N * std)", None),
    ("dx_hat / std", "statistics_as_constants"),          # mean and variance taken as constants
    ("(dx_hat - dx_hat.mean(axis=0)) / std", "term_dropped"),   # the variance's path left out
])
def test_a_batchnorm_backward_without_the_statistics_terms_is_named(tmp_path, dx, mistake):
    from symgrad.verify.code import check_file
    files = {LAYERS: FILES[LAYERS] + STUDENT_BATCHNORM.replace("DX", dx)}     # the student's defs come last
    report = check_file("cs231n_affine", _submission(tmp_path / "root", files), "cs231n", time_limit=20, points=3)
    got = {f.name: f for f in report.functions}
    assert got["batchnorm_forward"].status == "correct", got["batchnorm_forward"].message
    bn = got["batchnorm_backward"]
    if mistake is None:
        assert bn.status == "correct", bn.message
        return
    assert bn.status == "wrong" and bn.counterexample["key"] == "dx", bn.message
    assert [m["mistake"] for m in bn.diagnosis] == [mistake]


def test_grade_a_folder_of_assignment_roots_and_verify_a_single_layers_file(tmp_path, capsys):
    import json

    from symgrad.cli import main
    subs = tmp_path / "subs"
    _submission(subs / "right")
    _submission(subs / "wrong", MISTAKES["dw_transposed"][0])
    assert main(["grade", str(subs), "--spec", "cs231n_two_layer", "--profile", "cs231n", "--jobs", "1"]) in (0, 1)
    grades = json.loads((subs / "grades.json").read_text())["submissions"]
    status = {name: {f["function"]: f["verdict"] for f in sub["functions"]} for name, sub in grades.items()}
    assert set(status["right"].values()) == {"correct"} and len(status["right"]) == 14
    assert status["wrong"]["affine_backward"] == "wrong"
    assert [f for f, v in status["wrong"].items() if v != "correct"] == ["affine_backward", "FullyConnectedNet.loss"]
    capsys.readouterr()
    # one file: the layers graded, the net (in fc_net.py) missing
    code = main(["verify", "cs231n_softmax", "--code", str(subs / "right" / "cs231n" / "layers.py"),
                 "--profile", "cs231n", "--format", "json"])
    verdicts = {f["function"]: f["verdict"] for f in json.loads(capsys.readouterr().out)["functions"]}
    assert code == 1 and verdicts.pop("TwoLayerNet.loss") == verdicts.pop("FullyConnectedNet.loss") == "missing"
    assert set(verdicts.values()) == {"correct"}


def test_a_spec_of_another_course_is_refused(tmp_path, capsys):
    from symgrad.cli import main
    code = main(["verify", "pset3", "--code", str(_submission(tmp_path / "root")), "--profile", "cs231n"])
    err = capsys.readouterr().err
    assert code == 2 and "cs231n_affine" in err and "'pset3' is not one of them" in err
