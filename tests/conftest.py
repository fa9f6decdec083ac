"""Example networks shared by the pipeline tests."""

import numpy as np
import pytest

from symgrad import Spec
from symgrad.spec import bundled_names

BUNDLED = bundled_names()

# A network written independently of the bundled ones: other sizes and
# activations, a broadcast bias over a batch, a concat, a tied parameter
# (W used in two layers) and a composite loss.
FOREIGN_TOML = '''
name = "foreign"
description = "written by someone else"

[inputs]
X = ["batch", 5]
t = ["batch", 2]

[params]
W = [6, 6]
b = [6]
V = [6, 2]
c = [1, 2]

[nodes]
A = "concat(X, ones(batch, 1), axis=1)"
H = "tanh(A @ W + b)"
G = "softplus(H @ W.T) * leaky_relu(H, 0.2)"
out = "G @ V + c"

[loss]
expr = "mse(sigmoid(out), t) + 0.05 * sq_norm(W)"
'''


@pytest.fixture
def foreign_spec_path(tmp_path):
    path = tmp_path / "foreign.toml"
    path.write_text(FOREIGN_TOML)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def small_spec(**overrides) -> Spec:
    fields = dict(name="small", inputs={"x": [3], "y": [2]}, params={"W": [2, 3], "b": [2]},
                  nodes={"z": "W @ x + b"}, loss="sum((z - y)**2)")
    fields.update(overrides)
    return Spec(**fields)
