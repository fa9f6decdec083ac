"""pset3 profile: the course's function signatures are read off the derivation."""

import pytest

from symgrad import Spec, derive
from symgrad.errors import SpecError
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
