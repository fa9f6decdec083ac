"""Every operation is declared completely, in one entry."""

import pytest

from symgrad.rules import RULES
from symgrad.rules.elementwise import FUNCTIONS, prove_derivative

ALL = RULES.names()


@pytest.mark.parametrize("op", ALL)
def test_entry_is_complete(op):
    rule = RULES[op]
    for attr in ("shape", "numpy", "latex", "evaluate"):
        assert callable(getattr(rule, attr)), f"{op} lacks {attr}"
    if rule.arity is not None:
        assert len(rule.vjps) == rule.arity
        assert all(v is None or callable(v) for v in rule.vjps)
    assert rule.doc


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_elementwise_derivative_equals_sympy_diff_of_definition(name):
    assert prove_derivative(name)


@pytest.mark.parametrize("name, form", [
    ("sigmoid", "r*(1 - r)"), ("tanh", "1 - r**2"), ("exp", "r"), ("softplus", "sigmoid(x)"),
    ("relu", "step(x)"),
])
def test_derivative_reuses_the_forward_value(name, form):
    assert str(FUNCTIONS[name].derivative) == form


def test_kink_convention_is_the_branch_at_zero():
    import sympy as sp
    from symgrad.rules.elementwise import X, _unfold
    relu = _unfold(FUNCTIONS["relu"].derivative).subs(X, 0)
    leaky = _unfold(FUNCTIONS["leaky_relu"].derivative).subs(X, 0)
    assert relu == 0
    assert leaky == sp.Symbol("slope", real=True)
