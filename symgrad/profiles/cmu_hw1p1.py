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


from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..spec import load_spec
from . import Course
from .common import helper_sources
from .layers import layer_code

#: Activation class -> (expression of Z, its learnable parameters, doc).
from .cmu_specs import ACTIVATIONS, EPS, LOSSES, MLPS, Rendered, activation_spec, loss_spec, mlp_spec  # noqa: F401


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
