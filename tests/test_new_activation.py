"""A new element-wise function needs only its forward formula."""

import numpy as np
import pytest
import sympy as sp

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import check_module, load_module
from symgrad.check.proof import prove
from symgrad.rules import RULES
from symgrad.rules.elementwise import FUNCTIONS, X, elementwise, prove_derivative


@pytest.fixture
def swish():
    """x sigmoid(x), declared by its formula alone (no numeric implementation)."""
    with RULES.scope():
        elementwise("swish_test", X / (1 + sp.exp(-X)), latex=r"\operatorname{swish}", doc="x sigmoid(x)")
        yield "swish_test"


def _spec():
    return Spec(name="swishnet", inputs={"X": ["n", 3], "y": ["n", 2]},
                params={"W": [3, 4], "V": [4, 2]},
                nodes={"H": "swish_test(X @ W)", "out": "H @ V"}, loss="mse(out, y)")


def test_its_derivative_comes_from_sympy(swish):
    assert prove_derivative(swish)
    d = sp.diff(X / (1 + sp.exp(-X)), X)
    ours = FUNCTIONS[swish].derivative
    value = {X: sp.Rational(7, 10)}
    assert abs(float(d.subs(value)) - float(ours.subs(value).doit().evalf(subs=value))) < 1e-12


def test_spec_using_it_derives_renders_and_checks(swish):
    d = derive(_spec())
    text = render_module(d)
    assert "symgrad" not in text.split('"""', 2)[2].split("def forward")[0]   # no import of symgrad
    assert "np.exp" in text
    check = check_module(d, load_module(text, "swishnet"), seed=2)
    assert check.ok, [(p.name, p.max_rel_error) for p in check.params]
    assert prove(d).ok


def test_generated_forward_matches_the_formula(swish, rng):
    module = load_module(render_module(derive(_spec())), "swishnet_fwd")
    params = {"W": rng.standard_normal((3, 4)), "V": rng.standard_normal((4, 2))}
    inputs = {"X": rng.standard_normal((5, 3)), "y": rng.standard_normal((5, 2))}
    z = inputs["X"] @ params["W"]
    np.testing.assert_allclose(module.forward(params, inputs)["H"], z / (1 + np.exp(-z)), rtol=1e-14)
