"""symgrad profile uva_dl1: modules.py, checked from the course's interface
facts against torch autograd and seeded finite differences."""

import importlib.util
import warnings

import numpy as np
import pytest
import torch

from symgrad.cli import main


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("uva")
    assert main(["profile", "uva_dl1", "-o", str(root)]) == 0
    spec = importlib.util.spec_from_file_location("uva_modules", root / "modules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _close(a, b, rtol=1e-9):
    np.testing.assert_allclose(np.asarray(a, dtype=float), b.detach().numpy() if torch.is_tensor(b) else b,
                               rtol=rtol, atol=1e-12)


def test_linear_module(modules):
    np.random.seed(0)
    layer = modules.LinearModule(4, 3)
    assert set(layer.params) == {"weight", "bias"} and set(layer.grads) == {"weight", "bias"}
    assert layer.params["weight"].shape == (3, 4)
    assert layer.grads["weight"].shape == (3, 4) and layer.grads["bias"].shape == layer.params["bias"].shape
    assert np.size(layer.params["bias"]) == 3
    layer.params["bias"] += np.random.normal(size=layer.params["bias"].shape)
    x, dout = np.random.normal(size=(5, 4)), np.random.normal(size=(5, 3))
    tx, tW, tb = _t(x), _t(layer.params["weight"]), _t(layer.params["bias"])
    tout = tx @ tW.T + tb
    _close(layer.forward(x), tout)
    tout.backward(torch.tensor(dout))
    _close(layer.backward(dout), tx.grad)
    _close(layer.grads["weight"], tW.grad)
    _close(layer.grads["bias"], tb.grad)
    layer.clear_cache()
    assert layer.x is None


def test_forward_rereads_a_weight_perturbed_in_place(modules):
    # the course's finite differences change params["weight"] in place between calls
    rng = np.random.default_rng(1)
    np.random.seed(1)
    layer = modules.LinearModule(3, 2, True)
    x, dout = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer.forward(x)
    layer.backward(dout)
    analytic = layer.grads["weight"].copy()
    weight = layer.params["weight"]
    numeric = np.zeros_like(weight)
    h = 1e-6
    for i in np.ndindex(weight.shape):
        old = weight[i]
        weight[i] = old + h
        plus = np.sum(layer.forward(x) * dout)
        weight[i] = old - h
        minus = np.sum(layer.forward(x) * dout)
        weight[i] = old
        numeric[i] = (plus - minus) / (2 * h)
    _close(analytic, numeric, rtol=1e-6)


def test_kaiming_initialization(modules):
    np.random.seed(2)
    hidden = modules.LinearModule(400, 300).params["weight"]
    first = modules.LinearModule(400, 300, input_layer=True).params["weight"]
    assert abs(hidden.std() / np.sqrt(2 / 400) - 1) < 0.02
    assert abs(first.std() / np.sqrt(1 / 400) - 1) < 0.02
    assert not np.any(modules.LinearModule(400, 300).params["bias"])


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_elu(modules, alpha):
    rng = np.random.default_rng(3)
    act = modules.ELUModule(alpha)
    x, dout = rng.normal(size=(6, 5)) * 2, rng.normal(size=(6, 5))
    tx = _t(x)
    tout = torch.nn.functional.elu(tx, alpha)
    _close(act.forward(x), tout)
    tout.backward(torch.tensor(dout))
    _close(act.backward(dout), tx.grad)
    act.clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # no overflow for large inputs
        big = np.array([[-1000.0, 1000.0]])
        _close(act.forward(big), np.array([[-alpha, 1000.0]]))
        _close(act.backward(np.ones_like(big)), np.array([[0.0, 1.0]]))


def test_softmax(modules):
    rng = np.random.default_rng(4)
    act = modules.SoftMaxModule()
    x, dout = rng.normal(size=(6, 5)) * 3, rng.normal(size=(6, 5))
    tx = _t(x)
    tout = torch.softmax(tx, dim=1)
    _close(act.forward(x), tout)
    tout.backward(torch.tensor(dout))
    _close(act.backward(dout), tx.grad)


def test_cross_entropy_is_stateless(modules):
    rng = np.random.default_rng(5)
    x = rng.uniform(0.05, 1, size=(6, 4))
    x /= x.sum(axis=1, keepdims=True)
    y = rng.integers(0, 4, 6)
    tx = _t(x)
    tloss = torch.nn.functional.nll_loss(torch.log(tx), torch.tensor(y))
    tloss.backward()
    fresh = modules.CrossEntropyModule()
    _close(fresh.backward(x, y), tx.grad)          # no forward needed first
    ce = modules.CrossEntropyModule()
    value = ce.forward(x, y)
    assert np.ndim(value) == 0
    _close(value, tloss)
    _close(ce.backward(x, y), tx.grad)
    assert vars(ce) == {} and vars(fresh) == {}


def test_modules_make_the_uva_mlp_network(modules):
    # Linear -> ELU -> Linear -> softmax -> cross-entropy, composed from the modules, against autograd
    rng = np.random.default_rng(6)
    np.random.seed(6)
    l1, elu, l2, sm, ce = (modules.LinearModule(6, 5, True), modules.ELUModule(1.0), modules.LinearModule(5, 4),
                           modules.SoftMaxModule(), modules.CrossEntropyModule())
    x, y = rng.normal(size=(7, 6)), rng.integers(0, 4, 7)
    p = sm.forward(l2.forward(elu.forward(l1.forward(x))))
    loss = ce.forward(p, y)
    l1.backward(elu.backward(l2.backward(sm.backward(ce.backward(p, y)))))
    tW1, tb1, tW2, tb2 = (_t(v) for v in (l1.params["weight"], l1.params["bias"], l2.params["weight"],
                                          l2.params["bias"]))
    tz = torch.nn.functional.elu(torch.tensor(x) @ tW1.T + tb1) @ tW2.T + tb2
    tloss = torch.nn.functional.cross_entropy(tz, torch.tensor(y))
    tloss.backward()
    _close(loss, tloss)
    for layer, tW, tb in ((l1, tW1, tb1), (l2, tW2, tb2)):
        _close(layer.grads["weight"], tW.grad)
        _close(layer.grads["bias"], tb.grad)


def test_elu_derivative_at_zero_is_alpha(modules):
    # the convention of torch (and of the rule table's elu): the left derivative alpha at 0
    act = modules.ELUModule(0.4)
    x = np.zeros((1, 3))
    tx = _t(x)
    torch.nn.functional.elu(tx, 0.4).sum().backward()
    act.forward(x)
    _close(act.backward(np.ones_like(x)), tx.grad)


# -- grading -----------------------------------------------------------------------

def _edited(tmp_path, source, edits):
    text = source.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "modules.py"
    path.write_text(text)
    return path


def test_grader_accepts_the_profile_and_names_seeded_mistakes(tmp_path):
    from symgrad.verify.code import check_file
    assert main(["profile", "uva_dl1", "-o", str(tmp_path / "good")]) == 0
    source = tmp_path / "good" / "modules.py"
    good = check_file("uva_mlp", source, "uva_dl1", points=3)
    assert {f.name: f.status for f in good.functions if f.status != "correct"} == {}

    bad = _edited(tmp_path, source, [
        ("d_weight = (self.x.T @ dout).T", "d_weight = self.x.T @ dout"),
        # a forward that keeps its own copy of the weight misses the tests' in-place perturbation
        ('self.out = self.x @ self.params["weight"].T',
         'self.kept = getattr(self, "kept", self.params["weight"].copy())\n        self.out = self.x @ self.kept.T'),
        # a cross-entropy that needs its forward first is not stateless
        ("d_x = np.expand_dims(-1/S * (1 / pick(x, y)), 1)", "d_x = self.seen * np.expand_dims(-1/S * (1 / pick(x, y)), 1)"),
        ("loss = -np.mean(np.log(pick(x, y)))", "self.seen = 1\n        loss = -np.mean(np.log(pick(x, y)))")])
    got = {f.name: f for f in check_file("uva_mlp", bad, "uva_dl1", points=3).functions}
    assert got["LinearModule.forward"].status == "correct"
    assert got["LinearModule.backward"].status == "wrong" and got["LinearModule.backward"].counterexample["key"] == "weight"
    assert "missing_transpose" in [m["mistake"] for m in got["LinearModule.backward"].diagnosis]
    assert got["LinearModule.forward (weight changed in place)"].status == "wrong"
    assert got["CrossEntropyModule.forward"].status == "correct"
    assert got["CrossEntropyModule.backward"].status == "crashed" and "seen" in got["CrossEntropyModule.backward"].message
    assert got["ELUModule.backward"].status == "correct"

    elu = _edited(tmp_path, source, [("d_out_3 = dout * self.alpha * np.exp", "d_out_3 = dout * np.exp")])
    got = {f.name: f for f in check_file("uva_mlp", elu, "uva_dl1", points=3).functions}
    assert got["ELUModule.backward"].status == "wrong" and got["ELUModule.forward"].status == "correct"


# -- answer key --------------------------------------------------------------------

def _compile_fragment(tmp_path, spec):
    import re
    import shutil
    import subprocess
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    assert main(["latex", spec, "-o", str(tmp_path / f"{spec}.tex")]) == 0
    (tmp_path / "key.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb,array,graphicx}\n"
                                      f"\\begin{{document}}\n\\input{{{spec}.tex}}\n\\end{{document}}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "key.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=240)
    log = (tmp_path / "key.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide", log)]
    assert max(widths, default=0.0) <= 1.0, widths
    return (tmp_path / f"{spec}.tex").read_text()


def test_answer_key_fragment_compiles(tmp_path):
    text = _compile_fragment(tmp_path, "uva_mlp")
    for row in ("$W_1$ &", "$W_2$ &", r"$\mathbf{b}_1$ &", r"$\mathbf{b}_2$ &"):
        assert any(line.startswith(row) and "\\partial" in line for line in text.splitlines()), row
