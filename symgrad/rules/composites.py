"""Functions written in the spec language itself: losses and helpers.

A composite needs no rule of its own: its body is parsed and inlined, so its
derivative, its LaTeX and its code come from the primitives.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Composite:
    params: tuple
    body: str
    doc: str


COMPOSITES: dict[str, Composite] = {
    "identity": Composite(("x",), "x", "x itself (a layer that does nothing)"),
    "sq_norm": Composite(("x",), "sum(x**2)", "squared Euclidean (Frobenius) norm"),
    "mse": Composite(("yhat", "y"), "mean((yhat - y)**2)",
                     "mean squared error over all elements (torch's default)"),
    "bce": Composite(("p", "y"), "-mean(y * log(p) + (1 - y) * log(1 - p))",
                     "binary cross-entropy of probabilities p, mean over all elements"),
    "nll": Composite(("p", "y"), "-mean(sum(y * log(p), axis=-1))",
                     "negative log-likelihood of probabilities p for one-hot y, mean over rows"),
    "swish": Composite(("x", "beta"), "x * sigmoid(beta * x)",
                       "x sigmoid(beta x); beta a number or a parameter (learnable)"),
    "cross_entropy": Composite(("z", "y"), "-mean(sum(y * log_softmax(z, axis=-1), axis=-1))",
                               "softmax cross-entropy of logits z for one-hot y, mean over rows"),
}
