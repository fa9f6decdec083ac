"""What the cs231n course is derived from and graded by: its bundled specs, the small
specs it builds for layers with no bundled one, and the entry module of a submission folder."""

from __future__ import annotations

from ..spec import Spec

#: Bundled specs the course's layers are derived from.
SPECS = ("cs231n_affine", "cs231n_softmax", "cs231n_svm", "cs231n_batchnorm", "cs231n_layernorm",
         "cs231n_two_layer")

#: The module the grader runs as the entry of a submission folder.
ENTRY = '''"""symgrad's entry to a CS231n submission: the course's package, loaded as the notebooks load it."""
from cs231n.layers import *  # noqa: F401,F403
from cs231n.classifiers.fc_net import *  # noqa: F401,F403
'''


def relu_spec() -> Spec:
    """relu(x) for an upstream dout: its adjoint is relu_backward."""
    return Spec(name="cs231n_relu", inputs={"dout": ["N", "D"]}, params={"x": ["N", "D"]},
                nodes={"out": "relu(x)"}, loss="sum(out * dout)")


def dropout_spec() -> Spec:
    """x times a fixed (already scaled) mask, for an upstream dout: dropout_backward."""
    return Spec(name="cs231n_dropout", inputs={"mask": {"shape": ["N", "D"], "kind": "positive"},
                                               "dout": ["N", "D"]},
                params={"x": ["N", "D"]}, nodes={"out": "x * mask"}, loss="sum(out * dout)")


def l2_spec() -> Spec:
    """The L2 penalty of one weight matrix: its value and gradient for the networks."""
    return Spec(name="cs231n_l2", inputs={"reg": {"shape": [], "kind": "positive"}}, params={"W": ["D", "H"]},
                nodes={}, loss="0.5 * reg * sum(W**2)")
