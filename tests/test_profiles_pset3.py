"""pset3 profile: signatures read off the derivation, and the rendered file
passing the problem set's own checks.

The forward pass is compared with the problem set's equations (1)-(8) written
out entry by entry; every partial with central differences of the loss, taken
through the problem set's definition downstream of the node.
"""

import importlib.util

import numpy as np
import pytest

from symgrad import Spec, derive
from symgrad.errors import SpecError
from symgrad.profiles import render
from symgrad.profiles.pset3 import dict_keys, partial_functions

# The signatures problem set 3 publishes (problems 1-9, relu_derivative aside).
COURSE = {
    "d_loss_d_ypredicted": ("variable_dict", "y_observed"),
    "d_loss_d_W2": ("variable_dict", "y_observed"),
    "d_loss_d_h1": ("variable_dict", "W2", "y_observed"),
    "d_loss_d_r1": ("variable_dict", "W2", "y_observed"),
    "d_loss_d_W1": ("variable_dict", "W2", "y_observed"),
    "d_loss_d_h0": ("variable_dict", "W1", "W2", "y_observed"),
    "d_loss_d_r0": ("variable_dict", "W1", "W2", "y_observed"),
    "d_loss_d_W0": ("variable_dict", "W1", "W2", "y_observed"),
}


def deep_spec(hidden):
    """x -> relu layers of the given widths -> scalar, no biases (pset3 generalised)."""
    params = {"W0": [hidden[0]]}
    nodes = {"r0": "W0 * x", "h0": "relu(r0)"}
    for k in range(1, len(hidden)):
        params[f"W{k}"] = [hidden[k], hidden[k - 1]]
        nodes[f"r{k}"] = f"W{k} @ h{k - 1}"
        nodes[f"h{k}"] = f"relu(r{k})"
    last = len(hidden)
    params[f"W{last}"] = [hidden[-1]]
    nodes["y_predicted"] = f"W{last} @ h{last - 1}"
    return Spec(name="deep", inputs={"x": [], "y": []}, params=params, nodes=nodes,
                loss="(y_predicted - y)**2")


def test_bundled_pset3_has_the_course_signatures_in_course_order():
    fns = partial_functions(derive("pset3"))
    assert [(f.name, f.args) for f in fns] == list(COURSE.items())


def test_variable_dict_keys_are_the_course_keys():
    assert dict_keys(derive("pset3")) == ["x", "r0", "h0", "r1", "h1", "y_predicted"]


@pytest.mark.parametrize("hidden", [(4, 2), (3,), (2, 3, 4)])
def test_signatures_follow_the_rule_for_other_sizes_and_depths(hidden):
    # Rule, stated independently of the engine: the adjoint of layer k's weight,
    # pre-activation or hidden output uses the weights of every layer above it.
    last = len(hidden)
    fns = {f.name: f for f in partial_functions(derive(deep_spec(hidden)))}
    for k in range(last + 1):
        above = tuple(f"W{j}" for j in range(k + 1, last + 1))
        assert fns[f"d_loss_d_W{k}"].params == above
        if k < last:
            assert fns[f"d_loss_d_h{k}"].params == above
            assert fns[f"d_loss_d_r{k}"].params == above
    assert fns["d_loss_d_ypredicted"].params == ()
    assert len(fns) == 2 * last + 1 + last + 1


def test_a_spec_without_an_observed_input_is_refused():
    spec = Spec(name="noobs", inputs={"x": [3]}, params={"w": [3]}, nodes={"z": "sum(w * x)"},
                loss="z**2")
    with pytest.raises(SpecError, match="observed"):
        partial_functions(derive(spec))


def load(tmp_path, spec=None, name="pset3_generated"):
    filename, text = render("pset3", spec)
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pset3(tmp_path_factory):
    return load(tmp_path_factory.mktemp("pset3"))


def relu(v):
    return v if v > 0 else 0.0


def course_forward(x, W0, W1, W2):
    """Equations (1)-(7) of the problem set, one entry at a time."""
    r0 = [W0[i] * x for i in range(3)]
    h0 = [relu(v) for v in r0]
    r1 = [sum(W1[i, j] * h0[j] for j in range(3)) for i in range(3)]
    h1 = [relu(v) for v in r1]
    y = sum(W2[i] * h1[i] for i in range(3))
    return {"x": x, "r0": r0, "h0": h0, "r1": r1, "h1": h1, "y_predicted": y}


def point(seed):
    """A random point whose pre-activations all keep clear of ReLU's kink, where
    central differences do not measure the derivative (drawn again otherwise)."""
    rng = np.random.default_rng(seed)
    while True:
        x, W0, W1, W2, y = rng.normal(), rng.normal(size=3), rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal()
        r0 = W0 * x
        r1 = W1 @ np.maximum(r0, 0)
        if np.min(np.abs(np.concatenate([r0, r1]))) > 1e-3:
            return x, W0, W1, W2, y


@pytest.mark.parametrize("seed", range(5))
def test_forward_matches_the_problem_sets_equations(pset3, seed):
    x, W0, W1, W2, y = point(seed)
    ours = pset3.mlp(x, W0, W1, W2)
    theirs = course_forward(x, W0, W1, W2)
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14, err_msg=key)
    assert pset3.loss(ours["y_predicted"], y) == pytest.approx((theirs["y_predicted"] - y) ** 2)


# The loss as a function of one node's value, by the problem set's definition.
DOWNSTREAM = {
    "y_predicted": lambda v, x, W0, W1, W2, y: (v - y) ** 2,
    "h1": lambda v, x, W0, W1, W2, y: (W2 @ v - y) ** 2,
    "r1": lambda v, x, W0, W1, W2, y: (W2 @ np.maximum(v, 0) - y) ** 2,
    "h0": lambda v, x, W0, W1, W2, y: (W2 @ np.maximum(W1 @ v, 0) - y) ** 2,
    "r0": lambda v, x, W0, W1, W2, y: (W2 @ np.maximum(W1 @ np.maximum(v, 0), 0) - y) ** 2,
}


def central_difference(f, value, h=1e-6):
    value = np.asarray(value, dtype=float)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


def course_loss(x, W0, W1, W2, y):
    return (course_forward(x, W0, W1, W2)["y_predicted"] - y) ** 2


ARGS = {"W0": 1, "W1": 2, "W2": 3}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("wrt", ["y_predicted", "W2", "h1", "r1", "W1", "h0", "r0", "W0"])
def test_partial_matches_central_differences(pset3, wrt, seed):
    x, W0, W1, W2, y = point(seed)
    values = pset3.mlp(x, W0, W1, W2)
    if wrt in ARGS:
        args = [x, W0, W1, W2, y]

        def f(v):
            a = list(args)
            a[ARGS[wrt]] = v
            return course_loss(*a)
        numeric = central_difference(f, args[ARGS[wrt]])
    else:
        numeric = central_difference(lambda v: DOWNSTREAM[wrt](v, x, W0, W1, W2, y), values[wrt])
    fn = getattr(pset3, "d_loss_d_" + wrt.replace("_", ""))
    params = {"W0": W0, "W1": W1, "W2": W2}
    names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    analytic = fn(values, *[params[n] for n in names[1:-1]], y)
    assert np.shape(analytic) == np.shape(numeric)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("x, expected", [(2.5, 1.0), (1e-9, 1.0), (0.0, 0.0), (-0.0, 0.0), (-3.0, 0.0)])
def test_relu_derivative_is_zero_at_and_below_zero(pset3, x, expected):
    assert float(pset3.relu_derivative(x)) == expected


def test_relu_derivative_works_on_arrays(pset3):
    np.testing.assert_array_equal(pset3.relu_derivative(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("hidden", [(4, 2), (2, 3, 4)])
def test_other_sizes_render_working_functions(tmp_path, hidden):
    module = load(tmp_path, deep_spec(hidden), name=f"deep_{len(hidden)}")
    rng = np.random.default_rng(7)
    last = len(hidden)
    params = {"W0": rng.normal(size=hidden[0])}
    for k in range(1, last):
        params[f"W{k}"] = rng.normal(size=(hidden[k], hidden[k - 1]))
    params[f"W{last}"] = rng.normal(size=hidden[-1])
    x, y = 0.7, -0.3
    values = module.mlp(x, *params.values())
    for name, value in params.items():
        def f(v, name=name):
            p = dict(params, **{name: v})
            return module.loss(module.mlp(x, *p.values())["y_predicted"], y)
        fn = getattr(module, f"d_loss_d_{name}")
        names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
        analytic = fn(values, *[params[n] for n in names[1:-1]], y)
        np.testing.assert_allclose(analytic, central_difference(f, value), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("bundled", ["titanic", "linear_regression"])
def test_partials_of_other_networks_equal_the_numpy_modules_gradients(tmp_path, bundled):
    # a batch network with concatenated ones columns, and a one-example regression
    from symgrad import render_module
    from symgrad.check.numeric import load_module
    d = derive(bundled)
    module = load_module(render_module(d), bundled)
    course = load(tmp_path, bundled, name=f"course_{bundled}")
    rng = np.random.default_rng(11)
    sizes = {"n": 6}
    shape = lambda var: tuple(sizes.get(str(s), None) or int(s) for s in var.shape)  # noqa: E731
    params = {k: rng.normal(size=shape(v)) for k, v in d.graph.params.items()}
    inputs = {k: rng.normal(size=shape(v)) for k, v in d.graph.inputs.items()}
    grads = module.backward(params, inputs, module.forward(params, inputs))
    data = [inputs[k] for k in d.graph.inputs if k != "y"]
    values = course.mlp(*data, *params.values())
    for fn in partial_functions(d):
        if fn.wrt in params:
            got = getattr(course, fn.name)(values, *[params[p] for p in fn.params], inputs["y"])
            np.testing.assert_allclose(got, grads[fn.wrt], rtol=1e-12, atol=1e-14, err_msg=fn.name)


ACTIVATIONS_SPEC = Spec(
    name="acts", inputs={"x": [], "y": []}, params={"W0": [3], "W1": [2, 3], "W2": [2]},
    nodes={"r0": "W0 * x", "h0": "leaky_relu(r0, 0.1)", "r1": "W1 @ h0", "h1": "sigmoid(r1)",
           "g1": "tanh(h1) + softplus(h1)", "y_predicted": "W2 @ g1"},
    loss="(y_predicted - y)**2")


def test_other_activations_get_derivative_functions_and_correct_partials(tmp_path):
    module = load(tmp_path, ACTIVATIONS_SPEC, name="acts")
    for f, h in [("leaky_relu", lambda v: np.where(v > 0, v, 0.1 * v)), ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
                 ("tanh", np.tanh), ("softplus", lambda v: np.log1p(np.exp(v)))]:
        points = np.array([-1.3, -0.2, 0.4, 2.0])
        numeric = (h(points + 1e-6) - h(points - 1e-6)) / 2e-6
        np.testing.assert_allclose(getattr(module, f"{f}_derivative")(points), numeric, rtol=1e-6, err_msg=f)
    rng = np.random.default_rng(3)
    params = {"W0": rng.normal(size=3), "W1": rng.normal(size=(2, 3)), "W2": rng.normal(size=2)}
    x, y = 0.8, 0.1
    values = module.mlp(x, *params.values())
    for name, value in params.items():
        def f(v, name=name):
            p = dict(params, **{name: v})
            return module.loss(module.mlp(x, *p.values())["y_predicted"], y)
        fn = getattr(module, f"d_loss_d_{name}")
        names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
        analytic = fn(values, *[params[n] for n in names[1:-1]], y)
        np.testing.assert_allclose(analytic, central_difference(f, value), rtol=1e-6, atol=1e-8)
