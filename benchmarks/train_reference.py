"""Training with generated gradients against a second method, on the bundled data.

    python benchmarks/train_reference.py [SEEDS...]

ridge_regression: minibatch SGD vs the closed-form minimiser of
mean((x.w + b - y)^2) + l2_reg ||w||^2. mlp_regression: SGD (linear decay) vs
20,000 steps of full-batch gradient descent from the same start, on a batch
version of the spec. multiclass: held-out accuracy on three blobs. The
settings are the ones the README's commands use.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symgrad import Spec, derive, render_module  # noqa: E402
from symgrad.check.numeric import load_module  # noqa: E402
from symgrad.train import data_path, init_params, train  # noqa: E402

RUNS = {
    "ridge_regression": dict(epochs=30, lr=0.02, batch_size=10),
    "mlp_regression": dict(epochs=200, lr=0.1, batch_size=5, decay="linear"),
    "multiclass": dict(epochs=30, lr=0.1, batch_size=10),
}

MLP_BATCH = Spec(name="mlp_regression_batch", inputs={"x": ["n", 1], "y": ["n"]},
                 params={"W1": [10, 1], "b1": [10], "w2": [10], "b2": []},
                 nodes={"L": "x @ W1.T + b1", "h": "tanh(L)", "prediction": "h @ w2 + b2"},
                 loss="mean((prediction - y)**2)")


def ridge_optimum() -> float:
    data = np.load(data_path("ridge_regression"))
    x, y, lam = data["x"], data["y"], float(data["l2_reg"])
    a = np.hstack([x, np.ones((len(y), 1))])
    theta = np.linalg.solve(a.T @ a / len(y) + lam * np.diag([1.0] * x.shape[1] + [0.0]), a.T @ y / len(y))
    return float(np.mean((a @ theta - y) ** 2) + lam * theta[:-1] @ theta[:-1])


def mlp_long_run(seed: int, steps=20000, lr=0.3) -> float:
    module = load_module(render_module(derive(MLP_BATCH)), "mlp_regression_batch")
    data = np.load(data_path("mlp_regression"))
    inputs = {"x": data["x"], "y": data["y"]}
    params = init_params(derive("mlp_regression").graph, np.random.default_rng(seed), {})
    for _ in range(steps):
        _, grads = module.loss_and_grads(params, inputs)
        params = {k: v - lr * grads[k] for k, v in params.items()}
    return module.loss_and_grads(params, inputs)[0]


def main(seeds):
    ridge = ridge_optimum()
    print("spec              seed  SGD loss     reference    ratio    held-out acc  seconds")
    for seed in seeds:
        for name, settings in RUNS.items():
            start = time.perf_counter()
            h = train(name, name, seed=seed, **settings)
            seconds = time.perf_counter() - start
            reference = {"ridge_regression": ridge, "mlp_regression": None}.get(name)
            if name == "mlp_regression":
                reference = mlp_long_run(seed)
            ratio = f"{h.losses[-1] / reference:.4f}" if reference else "-"
            ref = f"{reference:.6g}" if reference else "-"
            acc = f"{h.test_accuracy:.1%}" if h.test_accuracy is not None else "-"
            print(f"{name:<17} {seed:>4}  {h.losses[-1]:<11.6g}  {ref:<11}  {ratio:<7}  {acc:<12}  {seconds:.1f}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1, 2])
