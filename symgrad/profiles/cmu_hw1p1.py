"""Course ``cmu_hw1p1``: CMU 11-785 homework 1 part 1, the ``mytorch`` package.

``symgrad profile cmu_hw1p1 -o DIR`` writes the handout's layout::

    mytorch/nn/linear.py      Linear(in_features, out_features, debug=False)
    mytorch/nn/activation.py  Identity, Sigmoid, Tanh, ReLU, GELU, Swish, Softmax
    mytorch/nn/loss.py        MSELoss, CrossEntropyLoss
    mytorch/nn/batchnorm.py   BatchNorm1d(num_features, alpha=0.9)
    mytorch/optim/sgd.py      SGD(model, lr=0.1, momentum=0)
    models/mlp.py             MLP0, MLP1, MLP4

Rows are examples: ``Linear.forward(A)`` for A (N, in) is Z = A W^T + 1 b^T with
W (out, in) and b (out, 1). Every backward pass is a derivation: the Linear
and BatchNorm1d layers of the bundled specs ``cmu_linear`` and
``cmu_batchnorm``, each activation and loss of a small spec built here (its
loss ``sum(out * upstream)``, so the adjoints are the vector-Jacobian products
backward() returns). Tanh never calls np.tanh (the course's grader replaces
it): the printer writes tanh through a helper of exp only.

Grading (:mod:`.cmu_grading`): a submission is a folder holding ``mytorch/``
and ``models/`` as the handout lays them out; the grader adds a module
``solution.py`` beside them that imports the classes, and calls them as
the course's tests do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..spec import Spec, load_spec
from . import Course
from .common import helper_sources
from .layers import layer_code

#: Activation class -> (expression of Z, its learnable parameters, doc).
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


def _self(*names) -> dict:
    return {n: f"self.{n}" for n in names}


def context(spec=None) -> dict:
    """What the templates under templates/api/cmu_hw1p1/ place."""
    files = {}
    printer = NumpyPrinter()
    linear = layer_code(derive(load_spec("cmu_linear")), {**_self("A", "W", "b", "Z"), "dLdZ": "dLdZ"},
                        printer, dtype_of="self.W")
    files["linear"] = dict(code=linear, helpers=helper_sources(printer))

    printer = NumpyPrinter()
    acts = []
    for name, (_, extra, doc) in ACTIVATIONS.items():
        where = {**_self("Z", "A", *extra), "dLdA": "dLdA"}
        code = layer_code(derive(activation_spec(name)), where, printer, own_tanh=True, dtype_of="self.Z")
        acts.append(Rendered(name, doc, code.forward, code.backward, code.out, tuple(extra)))
    files["activation"] = dict(classes=acts, helpers=helper_sources(printer))

    printer = NumpyPrinter()
    losses = []
    for name, (_, _, doc) in LOSSES.items():
        code = layer_code(derive(loss_spec(name)), _self("A", "Y"), printer, loss=True, dtype_of="self.A")
        losses.append(Rendered(name, doc, code.forward, code.backward, code.out))
    files["loss"] = dict(classes=losses, helpers=helper_sources(printer))

    printer = NumpyPrinter()
    bn = layer_code(derive(load_spec("cmu_batchnorm")), {**_self("Z", "M", "V", "NZ", "BZ", "BW", "Bb"),
                                                        "dLdBZ": "dLdBZ"}, printer, dtype_of="self.Z")
    files["batchnorm"] = dict(code=bn, helpers=helper_sources(printer), eps=EPS)
    source = "CMU 11-785 hw1p1 (specs cmu_linear, cmu_batchnorm and the layer specs of symgrad.profiles.cmu_hw1p1)"
    return dict(header=HEADER.format(source=source), files=files, mlps=MLPS)


FILES = (
    ("mytorch/__init__.py", "api/cmu_hw1p1/init.py.j2"),
    ("mytorch/nn/__init__.py", "api/cmu_hw1p1/nn_init.py.j2"),
    ("mytorch/nn/linear.py", "api/cmu_hw1p1/linear.py.j2"),
    ("mytorch/nn/activation.py", "api/cmu_hw1p1/activation.py.j2"),
    ("mytorch/nn/loss.py", "api/cmu_hw1p1/loss.py.j2"),
    ("mytorch/nn/batchnorm.py", "api/cmu_hw1p1/batchnorm.py.j2"),
    ("mytorch/optim/__init__.py", "api/cmu_hw1p1/optim_init.py.j2"),
    ("mytorch/optim/sgd.py", "api/cmu_hw1p1/sgd.py.j2"),
    ("models/__init__.py", "api/cmu_hw1p1/models_init.py.j2"),
    ("models/mlp.py", "api/cmu_hw1p1/mlp.py.j2"),
)

#: What the grader adds beside a submission's mytorch/ and models/ folders: np.tanh replaced by a
#: function that raises, as the course's grader does, then the classes imported.
NO_TANH = ("import numpy\n\n\ndef _no_tanh(*args, **kwargs):\n"
           "    raise RuntimeError(\"np.tanh is not allowed: the course's grader replaces it\")\n\n\n"
           "numpy.tanh = _no_tanh\n")
ENTRY = ("solution.py", NO_TANH + "".join(
    f"from {module} import {', '.join(names)}  # noqa: F401,E402\n" for module, names in (
        ("mytorch.nn.linear", ["Linear"]), ("mytorch.nn.activation", list(ACTIVATIONS)),
        ("mytorch.nn.loss", list(LOSSES)), ("mytorch.nn.batchnorm", ["BatchNorm1d"]),
        ("mytorch.optim.sgd", ["SGD"]), ("models.mlp", list(MLPS)))))


def _plan(d, points, seed):
    from .cmu_grading import plan
    return plan(d, points, seed)


COURSE = Course("cmu_hw1p1", "CMU 11-785 hw1p1: the mytorch package (Linear, activations, losses, BatchNorm1d, "
                "SGD, MLP0/1/4)", "mytorch/", "api/cmu_hw1p1/linear.py.j2", context, default_spec=None,
                plan=_plan, files=FILES, entry=ENTRY)
