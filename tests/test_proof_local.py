"""The local-adjoint proof (issue 19): it fails where it should and names the step,
runs under a time limit with progress, and scales with depth."""

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest

import symgrad.fuse as fuse
from symgrad import derive
from symgrad.check import report
from symgrad.check.proof import prove
from symgrad.rules import RULES, apply

SPECS = Path(__file__).resolve().parent.parent / "benchmarks" / "specs"


def _failed_steps(proof):
    return [s.describe() for s in proof.steps if s.failures]


def test_every_step_of_a_correct_net_is_proven():
    d = derive("multiclass")
    proof = prove(d)
    assert proof.ok
    assert sorted(s.target for s in proof.steps if s.kind == "adjoint") == sorted(d.order)
    assert all(p.proven == p.entries for p in proof.params)


def test_a_wrong_vjp_is_caught_at_its_step(monkeypatch):
    """tanh's VJP without the 1 - tanh^2 factor: only the step through tanh fails."""
    rule = RULES["tanh"]
    monkeypatch.setitem(RULES._rules, "tanh", dataclasses.replace(rule, vjps=(lambda g, r, x, **kw: g,)))
    proof = prove(derive("multiclass"))
    assert not proof.ok
    failed = _failed_steps(proof)
    assert len(failed) == 1 and "tanh input 0" in failed[0], failed
    # the parameters whose gradients rest on that step are not counted as proven
    by_name = {p.name: p for p in proof.params}
    assert by_name["W1"].proven < by_name["W1"].entries and by_name["W2"].ok


def test_a_wrong_matmul_vjp_is_caught(monkeypatch):
    rule = RULES["matmul"]

    def wrong_a(g, r, a, b):
        return apply("mul", rule.vjps[0](g, r, a, b), apply("add", a, a)) if a.ndim == 2 else rule.vjps[0](g, r, a, b)

    monkeypatch.setitem(RULES._rules, "matmul", dataclasses.replace(rule, vjps=(wrong_a, rule.vjps[1])))
    proof = prove(derive(str(SPECS / "relu_mlp_depth3.toml")))
    assert not proof.ok
    assert all("matmul input 0" in s for s in _failed_steps(proof)) and _failed_steps(proof)


def test_a_wrong_fusion_rewrite_is_caught_at_the_fusion(monkeypatch):
    """log(sigmoid(z)) rewritten as -softplus(z) (sign error): the derivation of the fused graph is
    self-consistent, so only the fusion step can catch it, and it is named."""
    def wrong(expr, look):
        hit = fuse._log_sigmoid(expr, look)
        if hit is None:
            return None
        z = hit[1]["z"]
        return apply("neg", apply("softplus", z)), {"z": z}

    rules = tuple(dataclasses.replace(r, match=wrong) if r.name == "log_sigmoid" else r for r in fuse.RULES)
    monkeypatch.setattr(fuse, "RULES", rules)
    proof = prove(derive("hw1_relu_sigmoid_bce"))
    assert not proof.ok
    failed = _failed_steps(proof)
    assert failed and all(s.startswith("fusion log_sigmoid") for s in failed), failed
    assert not any(p.ok for p in proof.params)


def test_correct_fusions_are_proven():
    d = derive("hw1_relu_sigmoid_bce")
    proof = prove(d)
    assert proof.ok and len([s for s in proof.steps if s.kind == "fusion"]) == len(d.fusions) == 2


def test_out_of_time_is_undecided_not_failed():
    proof = prove(derive(str(SPECS / "batchnorm_softmax_ce.toml")), time_limit=1e-4)
    assert proof.stopped == "time" and proof.undecided and not proof.ok and not proof.failed


def test_interrupt_keeps_what_was_proven():
    d = derive(str(SPECS / "relu_mlp_depth4.toml"))
    seen = []

    def progress(step):
        seen.append(step.target)
        if step.done and step.target == "H1":
            raise KeyboardInterrupt

    proof = prove(d, progress=progress)
    assert proof.stopped == "interrupt" and not proof.failed
    decided = [s.target for s in proof.steps if s.done]
    assert "H1" in decided and "W1" not in decided
    by_name = {p.name: p for p in proof.params}
    assert by_name["W4"].ok and by_name["W1"].proven == 0


def test_progress_is_printed(monkeypatch, capsys):
    monkeypatch.setattr(report, "PROGRESS_EVERY", 0.0)
    d = derive(str(SPECS / "relu_mlp_depth3.toml"))
    assert report.run_proof(d, "x.toml", 60.0, lambda header, rows: str(rows)) == 0
    err = capsys.readouterr().err
    assert "proof:" in err and "entries" in err and "steps" in err


def test_check_prints_the_table_first_then_undecided_exit_4():
    spec = str(SPECS / "batchnorm_softmax_ce.toml")
    r = subprocess.run([sys.executable, "-m", "symgrad", "check", spec, "--time-limit", "0.0001"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == report.UNDECIDED == 4, r.stdout + r.stderr
    out = r.stdout
    assert out.index("max rel error") < out.index("proving")
    assert "undecided after" in out and "--time-limit" in out and "FAILED" not in out


def test_bad_time_limit_is_one_line_exit_2():
    r = subprocess.run([sys.executable, "-m", "symgrad", "check", "pset3", "--time-limit", "-1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--time-limit" in r.stderr


@pytest.mark.parametrize("name", ["layernorm_residual", "batchnorm_softmax_ce", "attention",
                                  "mlp4_biases", "twolayer_softmax5", "relu_mlp_depth12"])
def test_course_sized_nets_are_proven_fast(name):
    d = derive(str(SPECS / f"{name}.toml"))
    start = time.perf_counter()
    proof = prove(d, time_limit=60)
    assert proof.ok, _failed_steps(proof)
    assert time.perf_counter() - start < 10
