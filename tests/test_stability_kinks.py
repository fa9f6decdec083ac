"""Kinks: one convention (ReLU'(0) = 0, leaky ReLU'(0) = slope), and a checker that is not fooled by them."""

import numpy as np
import pytest
import sympy as sp

import symgrad.check.numeric as numeric
from symgrad import Spec, derive, render_module
from symgrad.check.numeric import check_module, load_module
from symgrad.cli import main
from symgrad.errors import SymgradError
from symgrad.rules import RULES
from symgrad.rules.elementwise import FUNCTIONS, X, prove_derivative


def _forced_first_point(monkeypatch, d, make_kinked, always=False):
    """Make the checker's first drawn point (or every one) sit on a kink."""
    original = numeric.draw_point
    calls = {"n": 0}

    def draw(d_, sizes, rng):
        params, inputs = original(d_, sizes, rng)
        calls["n"] += 1
        if calls["n"] == 1 or always:
            make_kinked(params, inputs)
        return params, inputs

    monkeypatch.setattr(numeric, "draw_point", draw)
    return calls


def _pset3_on_kink(params, inputs):
    inputs["x"] = np.float64(1.0)
    params["W0"][0] = 1e-4      # r0[0] = W0[0] * x = 1e-4, inside the stencil (2 steps of 1e-3)


def test_a_point_on_a_kink_is_detected_reported_and_drawn_again(monkeypatch):
    d = derive("pset3")
    module = load_module(render_module(d), "pset3_kink")
    calls = _forced_first_point(monkeypatch, d, _pset3_on_kink)
    check = check_module(d, module, seed=0, points=1)
    assert calls["n"] >= 2 and check.redraws >= 1
    assert check.ok, [(p.name, p.max_rel_error) for p in check.params]
    note = check.notes[0]
    assert note.startswith("r0[0] = 0.0001 lies within the difference step of the kink at 0")
    assert "moving W0[0] by +-0.002" in note and "drew another point" in note


def test_without_kink_detection_the_same_point_is_a_false_failure(monkeypatch):
    d = derive("pset3")
    module = load_module(render_module(d), "pset3_nokink")
    _forced_first_point(monkeypatch, d, _pset3_on_kink)
    monkeypatch.setattr(numeric, "kinked_nodes", lambda d: [])
    check = check_module(d, module, seed=0, points=1)
    assert not check.ok      # the detection above is what prevents this


def test_a_kink_that_cannot_be_avoided_is_a_clear_error(monkeypatch):
    d = derive("pset3")
    module = load_module(render_module(d), "pset3_always")
    _forced_first_point(monkeypatch, d, _pset3_on_kink, always=True)
    with pytest.raises(SymgradError, match=r"could not find a point away from every kink .*r0\[0\]"):
        check_module(d, module, seed=0, points=1, max_redraws=5)


def test_the_check_command_prints_the_kink_note(monkeypatch, capsys):
    d = derive("pset3")
    _forced_first_point(monkeypatch, d, _pset3_on_kink)
    assert main(["check", "pset3", "--no-proof"]) == 0
    out = capsys.readouterr().out
    assert "note: r0[0] = 0.0001 lies within the difference step of the kink at 0" in out


@pytest.mark.parametrize("fn, slope, expected", [
    ("relu", None, 0.0),
    ("leaky_relu", "0.3", 0.3),
])
def test_generated_code_follows_the_kink_convention_at_exactly_zero(fn, slope, expected):
    call = f"{fn}(s)" if slope is None else f"{fn}(s, {slope})"
    d = derive(Spec(name=f"kink_{fn}", inputs={}, params={"s": [3]}, nodes={"h": call}, loss="sum(h)"))
    module = load_module(render_module(d), f"kink_{fn}")
    _, grads = module.loss_and_grads({"s": np.array([0.0, 2.0, -2.0])}, {})
    right = 1.0
    left = 0.0 if slope is None else float(slope)
    np.testing.assert_array_equal(grads["s"], [expected, right, left])


@pytest.mark.parametrize("fn", [name for name, f in FUNCTIONS.items() if f.kinks])
def test_kinked_functions_state_their_kinks_and_take_the_left_branch_there(fn):
    f = FUNCTIONS[fn]
    assert RULES[fn].kinks == (0,)
    assert prove_derivative(fn)
    if fn == "step":
        return
    at_kink = f.derivative.xreplace({X: 0}).subs({sp.Symbol(p, real=True): sp.Rational(1, 5) for p in f.params})
    # the left branch's own derivative at the kink (ELU's is not constant, so not its value at -1)
    left = sp.diff(f.body.args[-1].expr, X).subs(X, 0).subs({sp.Symbol(p, real=True): sp.Rational(1, 5)
                                                              for p in f.params})
    at_kink = at_kink.replace(lambda e: e.func.__name__ == "step", lambda e: sp.Integer(0))
    assert sp.simplify(at_kink - left) == 0
