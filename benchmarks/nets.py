"""The benchmarked networks: one hidden layer of the batch's width, row layout X @ W + b.

Each net maps X (n, w) to an output of width w through
``H = act(X @ W1 + b1)``, ``Z = H @ W2 + b2`` and a loss, so a step does five
(n, w) x (w, w)-sized matrix products (two forward, three backward: dW1, dW2,
dH) = 10 n w^2 floating-point operations plus element-wise work.
"""

from __future__ import annotations

import numpy as np

NETS = ("relu_mse", "sigmoid_bce", "softmax_ce")
SHAPES = ((1, 3), (32, 64), (256, 256), (1024, 1024), (4096, 512))
DTYPES = ("float64", "float32")
#: batch x width up to which the benchmark fixes the batch size in the spec (1 x 3)
FIXED_SIZE_LIMIT = 3

_BODIES = {
    "relu_mse": ({"H": "relu(X @ W1 + b1)", "Z": "H @ W2 + b2"}, "mse(Z, Y)"),
    "sigmoid_bce": ({"H": "sigmoid(X @ W1 + b1)", "P": "sigmoid(H @ W2 + b2)"}, "bce(P, Y)"),
    "softmax_ce": ({"H": "relu(X @ W1 + b1)", "Z": "H @ W2 + b2"}, "cross_entropy(Z, Y)"),
}


def spec(net: str, width: int, batch: int | None = None):
    """The symgrad.Spec of a net; the batch size n stays symbolic unless ``batch`` fixes it.

    A fixed tiny size (batch 1 x width 3) lets symgrad emit straight-line scalar code.
    """
    from symgrad import Spec
    nodes, loss = _BODIES[net]
    n = "n" if batch is None else batch
    return Spec(name=f"{net}_{width}", inputs={"X": [n, width], "Y": [n, width]},
                params={"W1": [width, width], "b1": [width], "W2": [width, width], "b2": [width]},
                nodes=dict(nodes), loss=loss)


def flops(n: int, w: int) -> float:
    """Floating-point operations of the five matrix products of one step."""
    return 10.0 * n * w * w


def data(net: str, n: int, w: int, dtype: str, seed: int = 0):
    """Parameters and a batch (targets suited to the loss), in ``dtype``."""
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(w)
    params = {"W1": rng.standard_normal((w, w)) * scale, "b1": rng.standard_normal(w) * 0.1,
              "W2": rng.standard_normal((w, w)) * scale, "b2": rng.standard_normal(w) * 0.1}
    X = rng.standard_normal((n, w))
    if net == "relu_mse":
        Y = rng.standard_normal((n, w))
    elif net == "sigmoid_bce":
        Y = (rng.random((n, w)) < 0.5).astype(float)
    else:
        Y = np.eye(w)[rng.integers(0, w, n)]

    def cast(a):
        return np.ascontiguousarray(a, dtype=dtype)
    return {k: cast(v) for k, v in params.items()}, {"X": cast(X), "Y": cast(Y)}
