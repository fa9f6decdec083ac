"""`verify --code` for the mlp (homework 1's class MLP, torch at the boundary)
and nodes (homework 3's node classes) interfaces.

Submissions are the profiles' own generated files (generated/api/), correct by
their own tests against torch autograd and central differences, and copies
with one deliberate mistake each. A mistake is a text replacement whose
original text is asserted to be there, so a change in the generated files
cannot turn a test into a no-op. The expected verdict follows from what the
replacement does (assigning a gradient instead of adding it is
``not_accumulated``; the factor 2 of a square dropped is ``missing_factor_2``).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.errors import SymgradError
from symgrad.verify.code import check_file

ROOT = Path(__file__).resolve().parents[1]
MLP = (ROOT / "generated" / "api" / "mlp.py").read_text()
NODES = (ROOT / "generated" / "api" / "nodes.py").read_text()
MLP_SPEC = "hw1_relu_sigmoid_bce"


def mutate(source: str, old: str, new: str) -> str:
    assert old in source, f"the generated file no longer contains {old!r}"
    return source.replace(old, new)


# name -> (source, {function: (verdict, mistakes)}); every function not listed must be correct
MLP_CASES = {
    "reference": (MLP, {}),
    # the homework never calls backward twice: assigning is correct (a note; wrong under --strict, below)
    "assigns_grads": (mutate(MLP, "self.grads[key] += torch", "self.grads[key] = torch"), {}),
    "mse_without_2": (mutate(MLP, "d_y_hat = 2/(m*n) * (y_hat - y)", "d_y_hat = 1/(m*n) * (y_hat - y)"),
                      {"mse_loss": ("wrong", ["missing_factor_2"])}),
    "clear_keeps_grads": (mutate(MLP, "grad.zero_()", "pass"), {"MLP.clear_grad_and_cache": ("wrong", [])}),
    "bce_raises": (mutate(MLP, '    J, dJdy_hat = bce_numpy(', '    raise ValueError("not done")\n'
                                                               '    J, dJdy_hat = bce_numpy('),
                   {"bce_loss": ("crashed", [])}),
    "grads_always_equal": (mutate(MLP, "self.grads[key] += torch.from_numpy(np.asarray(grads[key])).to(dtype)",
                                  "self.grads[key] = type('Eq', (), {'__eq__': lambda s, o: True})()"),
                           {"MLP.backward": ("crashed", []), "MLP.clear_grad_and_cache": ("not judged", [])}),
    "no_class": (mutate(MLP, "class MLP:", "class Network:"),
                 {f"MLP.{m}": ("missing", []) for m in ("forward", "backward", "clear_grad_and_cache")}),
}

NODE_CASES = {
    "reference": (NODES, {}),
    "assigns_d_out": (mutate(NODES, "self.W.d_out += d_W", "self.W.d_out = d_W"),
                      {"AffineNode.backward": ("wrong", ["not_accumulated"])}),
    "tanh_formula_at_input": (mutate(NODES, "d_a = self.d_out * (1 - self.out ** 2)",
                                     "d_a = self.d_out * (1 - self.a.out ** 2)"),
                              {"TanhNode.backward": ("wrong", ["derivative_at_output"])}),
    "softmax_diagonal": (mutate(NODES, "d_z = self.out * (self.d_out - np.sum(self.d_out * self.out, axis=0, "
                                       "keepdims=True))", "d_z = self.d_out * self.out * (1 - self.out)"),
                         {"SoftmaxNode.backward": ("wrong", ["softmax_jacobian_diagonal"])}),
    "distance_sign": (mutate(NODES, "d_b = -d_out_1", "d_b = d_out_1"),
                      {"SquaredL2DistanceNode.backward": ("wrong", ["sign_error"])}),
    # ReLUNode is not in the homework's edition: a mistake there costs nothing
    "relu_at_one": (mutate(NODES, "d_a = self.d_out * step(self.a.out)",
                           "d_a = self.d_out * (self.a.out >= 0)"), {}),
    "no_predecessors": (mutate(NODES, "    def get_predecessors(self):\n        return [self.a]\n\n\nclass ReLUNode",
                               "\n\nclass ReLUNode"),
                        {"TanhNode.get_predecessors": ("missing", [])}),
}


def _run(tmp_path, source, spec, profile):
    path = tmp_path / "submission.py"
    path.write_text(source)
    return check_file(spec, path, profile, time_limit=20)


@pytest.mark.parametrize("name", list(MLP_CASES))
def test_mlp_interface(tmp_path, name):
    source, expected = MLP_CASES[name]
    report = _run(tmp_path, source, MLP_SPEC, "mlp")
    _check(report, expected)


@pytest.mark.parametrize("name", list(NODE_CASES))
def test_nodes_interface(tmp_path, name):
    source, expected = NODE_CASES[name]
    report = _run(tmp_path, source, "ridge_regression", "nodes")
    _check(report, expected)


def _check(report, expected):
    got = {f.name: f for f in report.functions}
    assert set(expected) <= set(got)
    for name, f in got.items():
        verdict, mistakes = expected.get(name, ("correct", []))
        assert f.status == verdict, (name, f.status, f.message)
        assert [m["mistake"] for m in f.diagnosis] == mistakes, (name, f.diagnosis)
        if verdict == "wrong":
            assert f.counterexample["expected"] != f.counterexample["got"]
    assert report.exit_status == (0 if not expected else 1)


def test_nodes_report_covers_every_method_of_every_class_of_the_homework():
    from symgrad.profiles import get
    from symgrad.profiles.nodes import NODE_CLASSES, VERSION_CLASSES
    from symgrad.verify.code import profile_functions
    from symgrad.verify.env import load_derivation
    names = profile_functions(load_derivation("pset3"), "nodes")
    graded = [c.name for c in NODE_CLASSES if c.name in VERSION_CLASSES]
    assert names == [f"{c}.{m}" for c in graded for m in ("forward", "get_predecessors", "backward")]
    assert not any(n.startswith(("ReLUNode", "SigmoidNode")) for n in names)
    assert "ReLUNode" in get("nodes").version


def test_mlp_profile_reads_f_and_g_from_the_spec():
    from symgrad.verify.env import load_derivation
    from symgrad.profiles.mlp import activations_of as mlp_activations
    assert mlp_activations(load_derivation("hw1_relu_identity_mse")) == ("relu", "identity")
    assert mlp_activations(load_derivation("hw1_sigmoid_sigmoid_bce")) == ("sigmoid", "sigmoid")
    with pytest.raises(SymgradError, match="Linear -> f -> Linear -> g"):
        mlp_activations(load_derivation("multiclass"))


def test_cli_exit_status_and_json(tmp_path):
    wrong = tmp_path / "mlp.py"
    wrong.write_text(MLP_CASES["assigns_grads"][0])
    cmd = [sys.executable, "-m", "symgrad", "verify", MLP_SPEC, "--code", str(wrong), "--profile", "mlp",
           "--format", "json", "--strict"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    backward = next(f for f in report["functions"] if f["function"] == "MLP.backward")
    assert backward["counterexample"]["setting"].startswith("forward, then backward called twice")
    bad = subprocess.run([sys.executable, "-m", "symgrad", "verify", "pset3", "--code", str(wrong),
                          "--profile", "mlp"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "Linear -> f -> Linear -> g" in bad.stderr


def test_missing_torch_is_one_clear_error(monkeypatch):
    import importlib.util

    from symgrad.profiles import get
    from symgrad.verify import code
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(SymgradError, match="torch is not installed"):
        code.need_packages("mlp", get("mlp").packages)


def test_grade_a_folder_of_node_submissions(tmp_path, capsys):
    from symgrad.verify.grade import grade_folder
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("reference", "assigns_d_out", "no_predecessors"):
        (folder / f"{name}.py").write_text(NODE_CASES[name][0])
    assert grade_folder(folder, "ridge_regression", "nodes", jobs=2, time_limit=20) == 0
    report = json.loads((folder / "grades.json").read_text())
    for name in ("reference", "assigns_d_out", "no_predecessors"):
        verdicts = {f["function"]: f["verdict"] for f in report["submissions"][f"{name}.py"]["functions"]}
        expected = {k: v for k, (v, _) in NODE_CASES[name][1].items()}
        assert {k: v for k, v in verdicts.items() if v != "correct"} == expected
    assert "AffineNode.backward,wrong" in (folder / "grades.csv").read_text()


@pytest.mark.parametrize("spec", ["ridge_regression", "mlp_regression", "multiclass"])
def test_whole_graph_of_the_spec_from_the_node_classes(tmp_path, spec):
    report = {f.name: f for f in _run(tmp_path, NODES, spec, "nodes").functions}
    assert report[f"{spec} graph"].status == "correct", report[f"{spec} graph"].message


def test_tied_weight_overwritten_breaks_the_ridge_graph(tmp_path):
    # w feeds the prediction and the penalty: assigning its d_out keeps only one contribution
    source = mutate(NODES, "self.w.d_out += d_w", "self.w.d_out = d_w")
    report = {f.name: f for f in _run(tmp_path, source, "ridge_regression", "nodes").functions}
    graph = report["ridge_regression graph"]
    assert graph.status == "wrong" and graph.counterexample["key"] == "d_w"
    assert graph.calls_not_correct == ["L2NormPenaltyNode.backward", "VectorScalarAffineNode.backward"]
    for cls in ("L2NormPenaltyNode", "VectorScalarAffineNode"):
        assert [m["mistake"] for m in report[f"{cls}.backward"].diagnosis] == ["not_accumulated"]


def test_specs_not_built_from_nodes_get_no_graph_check(tmp_path):
    names = [f.name for f in _run(tmp_path, NODES, "pset3", "nodes").functions]
    assert not any(n.endswith(" graph") for n in names)


def test_hanging_method_is_contained_and_the_rest_judged(tmp_path):
    source = mutate(MLP, '        forward, _ = NETWORKS[(self.f_function, self.g_function)]',
                    '        while True:\n            pass')
    path = tmp_path / "mlp.py"
    path.write_text(source)
    report = {f.name: f for f in check_file(MLP_SPEC, path, "mlp", time_limit=1).functions}
    assert report["MLP.forward"].status == "crashed" and "wall-clock" in report["MLP.forward"].message
    assert report["mse_loss"].status == "correct" and report["bce_loss"].status == "correct"


def test_every_course_profile_can_check_code():
    from symgrad.profiles import get, names
    assert all(get(name).plan is not None for name in names())
