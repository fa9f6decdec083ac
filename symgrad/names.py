"""Names of generated identifiers, kept in one place.

Generated code and documents must read like hand-written ones, so every name
symgrad invents (adjoints, temporaries, size variables) is made here.
"""

from __future__ import annotations

import keyword

#: Names the generated module itself uses; user names may not shadow them.
GENERATED_MODULE_NAMES = frozenset({
    "np", "params", "inputs", "cache", "dtype", "forward", "backward",
    "loss_and_grads", "grads", "PARAMS", "INPUTS", "NODES", "values",
    "loss_and_grads_into", "make_step", "Workspace", "workspace", "loss_and_grads_scalar", "math",
})

ADJOINT_PREFIX = "d_"


def adjoint(name: str) -> str:
    """Identifier of the adjoint dL/d<name> in generated code."""
    return f"{ADJOINT_PREFIX}{name}"


def temporary(node: str, index: int) -> str:
    """Identifier of the index-th unnamed sub-expression of a spec node."""
    return f"{node}_{index}"


def is_python_identifier(name: str) -> bool:
    """True for an ASCII identifier that is not a Python keyword."""
    return (name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name) and not keyword.issoftkeyword(name))


def course_partial(name: str) -> str:
    """Problem-set-3 style name of dloss/d<name>: y_predicted -> d_loss_d_ypredicted."""
    return f"d_loss_d_{name.replace('_', '')}"


def course_derivative(function: str) -> str:
    """Name of an element-wise function's derivative in course code: relu -> relu_derivative."""
    return f"{function}_derivative"


def step_temporary(index: int) -> str:
    """Identifier of the index-th unnamed value of the compiled step."""
    return f"_t{index}"


def step_buffer(index: int) -> str:
    """Identifier of the index-th reused array of the compiled step's workspace."""
    return f"_b{index}"
