"""Functions written in the spec language itself: losses and helpers.

A composite needs no rule of its own: its body is parsed and inlined, so its
derivative comes from the primitives. It keeps a LaTeX form so write-ups can
still show it as one named block.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Composite:
    params: tuple
    body: str
    latex: str
    doc: str


COMPOSITES: dict[str, Composite] = {
    "identity": Composite(("x",), "x", "{x}", "x itself (a layer that does nothing)"),
    "sq_norm": Composite(("x",), "sum(x**2)", r"\left\lVert {x} \right\rVert^2",
                         "squared Euclidean (Frobenius) norm"),
    "mse": Composite(("yhat", "y"), "mean((yhat - y)**2)",
                     r"\operatorname{{MSE}}\left({yhat}, {y}\right)",
                     "mean squared error over all elements (torch's default)"),
    "bce": Composite(("p", "y"), "-mean(y * log(p) + (1 - y) * log(1 - p))",
                     r"\operatorname{{BCE}}\left({p}, {y}\right)",
                     "binary cross-entropy of probabilities p, mean over all elements"),
    "nll": Composite(("p", "y"), "-mean(sum(y * log(p), axis=-1))",
                     r"\operatorname{{NLL}}\left({p}, {y}\right)",
                     "negative log-likelihood of probabilities p for one-hot y, mean over rows"),
    "cross_entropy": Composite(("z", "y"), "-mean(sum(y * log_softmax(z, axis=-1), axis=-1))",
                               r"\operatorname{{CE}}\left({z}, {y}\right)",
                               "softmax cross-entropy of logits z for one-hot y, mean over rows"),
}
