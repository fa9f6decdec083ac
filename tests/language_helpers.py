"""Shared by the spec-language tests: derive a spec, check its generated module by finite
differences, and prove it entry by entry."""

from symgrad.check.numeric import check_module, load_module
from symgrad.check.proof import prove
from symgrad.derive import derive
from symgrad.emit.numpy_module import render_module


def checked(spec, proof=True):
    """(derivation, numeric check, proof or None); asserts both pass."""
    d = derive(spec)
    numeric = check_module(d, load_module(render_module(d), d.spec.name))
    assert numeric.ok, numeric
    result = None
    if proof:
        result = prove(d)
        assert result.ok, result
    return d, numeric, result
