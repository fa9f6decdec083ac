"""Course ``cs231n``: Stanford CS231n assignments 1 and 2, ``cs231n/layers.py``
and ``cs231n/classifiers/fc_net.py``.

Every layer's backward pass is the derivation of a bundled spec, printed as a
small numpy function (:mod:`.derived`) and wrapped in the course's signature:
``affine_forward(x, w, b) -> (out, cache)``, ``affine_backward(dout, cache) ->
(dx, dw, db)``, and so on. A layer spec's loss is ``sum(out * dout)``, so its
adjoints are exactly the vector-Jacobian products for the upstream ``dout``.
The parts with no derivative (batch norm's running averages and test mode,
dropout's mask from the course's seed, the networks' bookkeeping) are in the
templates, and test mode reuses the derived normalization with the running
statistics passed in for the batch ones.

The course's files import each other as a package, so the grader loads a
submission folder (the assignment's root, holding ``cs231n/``) through the
small module :data:`.cs231n_specs.ENTRY`. Grading: :mod:`.cs231n_grading`.
"""

from __future__ import annotations

from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from . import Course
from .common import helper_sources
from .cs231n_grading import plan
from .cs231n_specs import ENTRY, SPECS, dropout_spec, l2_spec, relu_spec
from .derived import backward_function, forward_function


def context(spec=None) -> dict:
    """What templates/api/cs231n/*.py.j2 place: the derived functions, by layer."""
    printer = NumpyPrinter()
    d = {name: derive(name) for name in SPECS}
    relu, dropout, l2 = derive(relu_spec()), derive(dropout_spec()), derive(l2_spec())
    fns = {
        "affine_values": forward_function(d["cs231n_affine"], printer, "_affine_values", ("x", "w", "b"),
                                          "out = flatten(x) @ w + b, and what the backward pass reads"),
        "affine_grads": backward_function(d["cs231n_affine"], printer, "_affine_grads", "dout", ("x", "w", "b"),
                                          "(dx, dw, db) for the upstream gradient dout", reshaped=("x",)),
        "relu_values": forward_function(relu, printer, "_relu_values", ("x",), "out = relu(x)"),
        "relu_grads": backward_function(relu, printer, "_relu_grads", "dout", ("x",),
                                        "dx for the upstream gradient dout"),
        "softmax_loss": forward_function(d["cs231n_softmax"], printer, "_softmax_values", ("x", "y"),
                                         "the mean cross-entropy of scores x for integer labels y", loss=True),
        "softmax_grads": backward_function(d["cs231n_softmax"], printer, "_softmax_grads", None, ("x",),
                                           "dL/dx of the mean cross-entropy"),
        "svm_loss": forward_function(d["cs231n_svm"], printer, "_svm_values", ("x", "y"),
                                     "the mean multiclass hinge loss of scores x for integer labels y", loss=True),
        "svm_grads": backward_function(d["cs231n_svm"], printer, "_svm_grads", None, ("x",),
                                       "dL/dx of the mean hinge loss"),
        "dropout_values": forward_function(dropout, printer, "_dropout_values", ("x", "mask"),
                                           "out = x * mask (the mask already scaled by 1/p)"),
        "dropout_grads": backward_function(dropout, printer, "_dropout_grads", "dout", ("x",),
                                           "dx for the upstream gradient dout"),
        "l2": forward_function(l2, printer, "_l2_values", ("W", "reg"), "0.5 * reg * sum(W**2)", loss=True),
        "l2_grads": backward_function(l2, printer, "_l2_grads", None, ("W",), "d(0.5 * reg * sum(W**2))/dW"),
    }
    for norm in ("batchnorm", "layernorm"):
        nd = d[f"cs231n_{norm}"]
        args = ("x", "gamma", "beta", "eps")
        fns[f"{norm}_values"] = forward_function(nd, printer, f"_{norm}_values", args,
                                                 f"{norm} of x with its own statistics, and what backward reads")
        fns[f"{norm}_with"] = forward_function(nd, printer, f"_{norm}_with", args + ("mu", "sigma2"),
                                               f"{norm} of x with the statistics mu and var given",
                                               skip=("mu", "sigma2"), returns=("out",))
        fns[f"{norm}_grads"] = backward_function(nd, printer, f"_{norm}_grads", "dout", ("x", "gamma", "beta"),
                                                 "(dx, dgamma, dbeta) for the upstream gradient dout")
    net = d["cs231n_two_layer"]
    fns["two_layer_scores"] = forward_function(net, printer, "_two_layer_scores", ("X", "W1", "b1", "W2", "b2"),
                                               "class scores of affine -> relu -> affine",
                                               skip=("data_loss", "reg_loss"), returns=("scores",))
    fns["two_layer_values"] = forward_function(net, printer, "_two_layer_values",
                                               ("X", "y", "reg", "W1", "b1", "W2", "b2"),
                                               "every value of the two-layer net's loss", loss=True)
    fns["two_layer_grads"] = backward_function(net, printer, "_two_layer_grads", None, ("W1", "b1", "W2", "b2"),
                                               "(dW1, db1, dW2, db2) of the loss with its L2 penalty")
    return dict(header=HEADER.format(source="the bundled specs " + ", ".join(SPECS)),
                helpers=helper_sources(printer), fns=fns)


COURSE = Course("cs231n", "CS231n assignments 1-2: cs231n/layers.py and cs231n/classifiers/fc_net.py",
                "cs231n/layers.py", "api/cs231n/layers.py.j2", context, plan=plan,
                entry=("_symgrad_entry.py", ENTRY),
                files=(("cs231n/layers.py", "api/cs231n/layers.py.j2"),
                       ("cs231n/__init__.py", "api/cs231n/init.py.j2"),
                       ("cs231n/classifiers/__init__.py", "api/cs231n/init.py.j2"),
                       ("cs231n/classifiers/fc_net.py", "api/cs231n/fc_net.py.j2")))
