"""NaN and inf in the inputs or parameters: the readable module and the compiled
step (array step and fixed-size scalar step) give the same values, NaN and inf
included, in numpy's default error state (README, "Non-finite inputs").

Before this was tested, the scalar step's ReLU was ``x if x > 0.0 else 0.0``,
which maps NaN to 0: pset3 and three homework-1 nets returned a finite loss for
a NaN input while loss_and_grads returned NaN.
"""

import warnings

import numpy as np
import pytest

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import load_module

from conftest import BUNDLED

#: Fixed-size nets whose scalar step runs exp, expm1 (log_softmax backward), softplus, tanh, sigmoid.
EXTRA = {
    "exp_net": Spec(name="exp_net", inputs={"x": [3], "y": [2]}, params={"W": [2, 3], "b": [2]},
                    nodes={"z": "exp(W @ x + b)"}, loss="sum((z - y)**2)"),
    "softplus_net": Spec(name="softplus_net", inputs={"x": [3], "y": [2]}, params={"W": [2, 3]},
                         nodes={"z": "softplus(tanh(W @ x))", "p": "sigmoid(z)"}, loss="bce(p, y)"),
    "log_softmax_net": Spec(name="log_softmax_net", inputs={"x": [3], "y": [4]}, params={"W": [4, 3]},
                            nodes={"z": "relu(W @ x)"}, loss="cross_entropy(z, y)"),
    "power_net": Spec(name="power_net", inputs={"x": [3], "y": [2]}, params={"W": [2, 3]},
                      nodes={"z": "W @ x - y"}, loss="sum(z**4) + sum((z * z + 1)**0.5)"),
}
NAMES = list(BUNDLED) + list(EXTRA)
BAD = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "1e200": 1e200, "-1e200": -1e200}
_MODULES = {}


def _module(name):
    if name not in _MODULES:
        _MODULES[name] = load_module(render_module(derive(EXTRA.get(name, name))), f"nonfinite_{name}")
    return _MODULES[name]


def _data(module, seed=0, batch=4):
    rng = np.random.default_rng(seed)

    def shape(s):
        return tuple(batch if isinstance(d, str) else d for d in s)

    params = {k: rng.standard_normal(shape(s)) for k, s in module.PARAMS.items()}
    inputs = {k: np.asarray(rng.uniform(0.1, 0.9, shape(s))) for k, s in module.INPUTS.items()}
    return params, inputs


def _poison(table, key, value, where):
    out = dict(table)
    array = np.array(out[key], dtype=np.float64)
    array.flat[where % max(array.size, 1)] = value
    out[key] = array
    return out


def _runs(module, params, inputs):
    """(label, loss, grads) of every path: plain, make_step, the array step, the scalar step."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        runs = [("loss_and_grads", *module.loss_and_grads(params, inputs)),
                ("make_step", *module.make_step()(params, inputs)),
                ("loss_and_grads_into", *module.loss_and_grads_into(params, inputs, module.Workspace()))]
        if hasattr(module, "loss_and_grads_scalar"):
            runs.append(("loss_and_grads_scalar", *module.loss_and_grads_scalar(params, inputs)))
    return [(label, float(loss), {k: np.array(v, copy=True) for k, v in grads.items()})
            for label, loss, grads in runs]


def _assert_same(runs, what):
    (_, loss, grads), rest = runs[0], runs[1:]
    for label, other_loss, other_grads in rest:
        np.testing.assert_allclose(other_loss, loss, rtol=1e-10, equal_nan=True,
                                   err_msg=f"{what}: loss of {label} vs loss_and_grads")
        for p in grads:   # same NaN and inf entries (assert_allclose requires both), same finite values
            np.testing.assert_allclose(other_grads[p], grads[p], rtol=1e-9, atol=1e-12, equal_nan=True,
                                       err_msg=f"{what}: dL/d{p} of {label} vs loss_and_grads")


@pytest.mark.parametrize("name", NAMES)
def test_a_nan_input_gives_a_nan_loss_on_every_path(name):
    module = _module(name)
    params, inputs = _data(module)
    first = next(iter(module.INPUTS))
    runs = _runs(module, params, _poison(inputs, first, np.nan, 0))
    for label, loss, _ in runs:
        assert np.isnan(loss), f"{name}: {label} returned a finite loss {loss} for a NaN input"
    _assert_same(runs, f"{name}, NaN in {first}")


def _poisoned(module, value, seed=1):
    """(what, params, inputs) with ``value`` in one entry (the first, then the last) of
    each input and each parameter in turn."""
    params, inputs = _data(module, seed=seed)
    for table in ("inputs", "params"):
        for key in (module.INPUTS if table == "inputs" else module.PARAMS):
            for where in (0, -1):
                if table == "inputs":
                    yield f"{key}.flat[{where}]", params, _poison(inputs, key, value, where)
                else:
                    yield f"{key}.flat[{where}]", _poison(params, key, value, where), inputs


@pytest.mark.parametrize("name", NAMES)
def test_nan_anywhere_gives_the_same_nans_on_every_path(name):
    """NaN in any input or parameter: the same loss and the same gradients, NaN entries
    included, from the readable module, the array step and the scalar step."""
    module = _module(name)
    for what, params, inputs in _poisoned(module, np.nan):
        _assert_same(_runs(module, params, inputs), f"{name}, NaN in {what}")


def _all_finite(grads):
    return all(np.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize("bad", ["inf", "-inf", "1e200", "-1e200"])
@pytest.mark.parametrize("name", NAMES)
def test_an_infinite_entry_gives_the_same_verdict_on_every_path(name, bad):
    """+-inf in any input or parameter, or a number whose square overflows (the scalar
    step's x ** 2.0 raised OverflowError there): every path agrees on whether the loss is finite
    (and on its value when it is) and on whether every gradient is finite (and on
    their values when they are). Which non-finite entries are inf and which NaN may
    differ: the step computes rearranged formulas (README, "Non-finite inputs")."""
    module = _module(name)
    for what, params, inputs in _poisoned(module, BAD[bad]):
        runs = _runs(module, params, inputs)
        _, loss, grads = runs[0]
        for label, other_loss, other_grads in runs[1:]:
            where = f"{name}, {bad} in {what}, {label} vs loss_and_grads"
            assert np.isfinite(other_loss) == np.isfinite(loss), f"{where}: loss {other_loss} vs {loss}"
            if np.isfinite(loss):
                assert other_loss == pytest.approx(loss, rel=1e-10), where
            if _all_finite(grads) and _all_finite(other_grads):
                for p in grads:
                    np.testing.assert_allclose(other_grads[p], grads[p], rtol=1e-9, atol=1e-12, err_msg=where)
            elif "logistic" not in KNOWN_LOGIT_CASES.get((name, bad, what), ""):
                assert _all_finite(grads) == _all_finite(other_grads), \
                    f"{where}: some gradient is non-finite on one path only"


#: A logit of -inf: the array step's fused sigmoid + bce computes -max(z, 0) as
#: min(z, 0) - z (README, "Fast training steps"), NaN at z = -inf, where the
#: readable module's gradient is finite. Both losses are inf.
KNOWN_LOGIT_CASES = {(n, "-inf", f"b2.flat[{w}]"): "logistic"
                     for n in ("hw1_relu_sigmoid_bce", "hw1_sigmoid_sigmoid_bce") for w in (0, -1)}


def test_the_scalar_step_is_exercised():
    """The fixed-size nets above really run the scalar step (else the test proves less)."""
    scalar = [n for n in NAMES if hasattr(_module(n), "loss_and_grads_scalar")]
    assert {"pset3", "hw1_relu_relu_mse", "exp_net", "softplus_net", "log_softmax_net", "power_net"} <= set(scalar)
    assert "_pow(" in render_module(derive(EXTRA["power_net"]))


@pytest.mark.parametrize("x, e", [(2.0, 3.0), (-2.0, 3.0), (1e200, 3.0), (-1e200, 3.0), (-1e200, 2.0), (0.0, -1.0),
                                  (-0.0, -1.0), (0.0, -2.0), (-8.0, 1 / 3), (np.nan, 2.0), (np.inf, 0.5),
                                  (-np.inf, 3.0), (2.0, 0.5), (1e-200, 4.0)])
def test_scalar_power_follows_numpy_at_the_edges(x, e):
    """Python's float ** raises OverflowError / ZeroDivisionError and returns a complex
    number for (-8) ** (1/3); the scalar step's _pow gives numpy's inf, -inf and NaN."""
    from symgrad.rules.scalar_code import _pow, _square
    with np.errstate(all="ignore"):
        want = float(np.power(np.float64(x), np.float64(e)))
        square = float(np.float64(x) * np.float64(x))
    got = _pow(x, e)
    assert type(got) is float
    assert got == want or (np.isnan(got) and np.isnan(want)), (x, e, got, want)
    assert _square(x) == square or np.isnan(square)
