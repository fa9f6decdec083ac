"""Make the bundled training sets (seeded, so the .npz files are reproducible).

Run ``python -m symgrad.data.make_data`` to rewrite them. Each file is named
after the bundled spec it fits; its keys are the spec's input names with a
leading example axis (``x`` is (N, 3) for a spec declaring x = [3]); an array
with exactly the declared shape (``l2_reg``, a 0-d array) is shared by all
examples; ``<input>_test`` arrays are a held-out split.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

SEED = 20240607


def ridge_regression(rng) -> dict:
    """y = x . w + b + noise, three features; penalty 0.05 ||w||^2."""
    x = rng.normal(size=(200, 3))
    w, b = np.array([1.5, -2.0, 0.5]), 0.3
    y = x @ w + b + 0.1 * rng.normal(size=200)
    return {"x": x, "y": y, "l2_reg": np.array(0.05)}


def mlp_regression(rng) -> dict:
    """y = 1.5 tanh(2x - 1) - tanh(x + 1) + noise (sd 0.1) on [-2, 2]: a curve
    ten tanh units can represent, so the optimum is the noise level."""
    x = rng.uniform(-2, 2, size=(200, 1))
    y = 1.5 * np.tanh(2 * x[:, 0] - 1) - np.tanh(x[:, 0] + 1) + 0.1 * rng.normal(size=200)
    return {"x": x, "y": y}


def multiclass(rng) -> dict:
    """Three well separated Gaussian blobs in the plane, one-hot labels; 150
    examples to train on and 60 held out."""
    centers = np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])

    def draw(per_class):
        labels = np.repeat(np.arange(3), per_class)
        x = centers[labels] + 0.5 * rng.normal(size=(labels.size, 2))
        order = rng.permutation(labels.size)
        return x[order], np.eye(3)[labels[order]]
    x, y = draw(50)
    x_test, y_test = draw(20)
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}


DATASETS = {"ridge_regression": ridge_regression, "mlp_regression": mlp_regression, "multiclass": multiclass}


def make(name: str) -> bytes:
    """The .npz bytes of one data set (deterministic: fixed seed per set)."""
    rng = np.random.default_rng([SEED, list(DATASETS).index(name)])
    buffer = io.BytesIO()
    arrays = DATASETS[name](rng)
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def main(argv=None) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for name in DATASETS:
        (folder / f"{name}.npz").write_bytes(make(name))
        print(f"wrote {folder / name}.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
