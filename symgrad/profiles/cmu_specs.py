"""The specs of CMU 11-785 hw1p1's classes: one small spec per activation and loss, and the
MLPs' specs, shared by the renderer (:mod:`.cmu_hw1p1`) and the plan (:mod:`.cmu_grading`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec

ACTIVATIONS = {
    "Identity": ("identity(Z)", {}, "A = Z"),
    "Sigmoid": ("sigmoid(Z)", {}, "A = 1 / (1 + exp(-Z))"),
    "Tanh": ("tanh(Z)", {}, "A = tanh(Z), computed without np.tanh"),
    "ReLU": ("relu(Z)", {}, "A = max(Z, 0); derivative 0 at 0"),
    "GELU": ("gelu(Z)", {}, "A = Z Phi(Z), Phi the standard normal CDF (erf form)"),
    "Swish": ("swish(Z, beta)", {"beta": []}, "A = Z sigmoid(beta Z); beta learnable, its gradient in dLdbeta"),
    "Softmax": ("softmax(Z, axis=1)", {}, "A = softmax of each row of Z"),
}
LOSSES = {
    "MSELoss": ("mse(A, Y)", "real", "mean of (A - Y)^2 over all N C entries"),
    "CrossEntropyLoss": ("cross_entropy(A, Y)", "onehot", "mean over rows of -sum(Y log softmax(A)); Y one-hot"),
}
#: MLP class -> layer sizes; between every two, a Linear and a ReLU.
MLPS = {"MLP0": (2, 3), "MLP1": (2, 3, 2), "MLP4": (2, 4, 8, 8, 4, 2)}
EPS = 1e-8   # cmu_batchnorm's eps


def activation_spec(name: str) -> Spec:
    expr, extra, doc = ACTIVATIONS[name]
    return Spec(name=f"cmu_{name.lower()}", description=f"{name}: {doc}", inputs={"dLdA": ["N", "C"]},
                params={"Z": ["N", "C"], **extra}, nodes={"A": expr}, loss="sum(A * dLdA)")


def loss_spec(name: str) -> Spec:
    expr, kind, doc = LOSSES[name]
    y = ["N", "C"] if kind == "real" else {"shape": ["N", "C"], "kind": kind}
    return Spec(name=f"cmu_{name.lower()}", description=f"{name}: {doc}", inputs={"Y": y},
                params={"A": ["N", "C"]}, nodes={}, loss=expr)


def mlp_spec(name: str) -> Spec:
    """MLP ``name`` as a batch network whose loss is sum(A_last * dLdA): its adjoints
    are what backward(dLdA) returns and stores. The bundled cmu_mlp4 is MLP4's without the
    input's gradient: ``symgrad check`` differences an input's gradient at one point without
    redrawing when it vanishes, and five ReLU layers of random weights are often all dead for it."""
    sizes = MLPS[name]
    params, nodes, prev = {}, {}, "A0"
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        params[f"W{i}"], params[f"b{i}"] = [fan_out, fan_in], [fan_out, 1]
        nodes[f"Z{i}"] = f"{prev} @ W{i}.T + ones(N, 1) @ b{i}.T"
        nodes[f"A{i + 1}"] = f"relu(Z{i})"
        prev = f"A{i + 1}"
    return Spec(name=f"cmu_{name.lower()}", description=f"CMU 11-785 hw1p1 {name}: Linear -> ReLU, "
                f"sizes {' -> '.join(map(str, sizes))}", inputs={"A0": {"shape": ["N", sizes[0]], "grad": True},
                                                                   "dLdA": ["N", sizes[-1]]},
                params=params, nodes=nodes, loss=f"sum({prev} * dLdA)", gradients=list(params) + ["A0"])


@dataclass(frozen=True)
class Rendered:
    name: str
    doc: str
    forward: tuple
    backward: tuple
    out: str
    extra: tuple = ()       # learnable scalars (Swish's beta)
