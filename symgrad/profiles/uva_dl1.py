"""Course ``uva_dl1``: UvA Deep Learning 1 (2024), practical 1's ``modules.py``.

Four classes, rows are examples: ``LinearModule(in_features, out_features,
input_layer=False)`` with ``params`` and ``grads`` dicts keyed ``weight``
(out, in) and ``bias`` (1, out); ``ELUModule(alpha)``; ``SoftMaxModule``; and
a stateless ``CrossEntropyModule`` whose ``forward(x, y)`` and ``backward(x,
y)`` take probabilities x and integer labels y. forward() reads the weight
from ``params`` on every call (the course's tests perturb it in place);
backward(dout) returns dL/dx and stores parameter gradients in ``grads``;
clear_cache() drops what forward kept.

Every backward pass is a derivation of a module spec built here (its loss
``sum(out * dout)``). The rule table's ``elu`` takes alpha as a number, so
ELUModule's alpha, given at construction, enters as ``relu(x) + alpha *
(exp(x - relu(x)) - 1)``: the same function for every alpha, derived once, whose
exp never overflows (its argument min(x, 0) is never positive) and whose
derivative at 0 is alpha, as the rule table's elu and torch have it.

Grading (:mod:`.uva_grading`) calls the classes positionally, as the course's
tests do; the bundled spec ``uva_mlp`` is the network they make.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from . import Course
from .common import helper_sources
from .layers import layer_code

from .uva_specs import CROSS_ENTROPY, MODULES, cross_entropy_spec, module_spec  # noqa: F401


@dataclass(frozen=True)
class Rendered:
    name: str
    doc: str
    forward: tuple
    backward: tuple
    out: str


def context(spec=None) -> dict:
    """What templates/api/uva_dl1_modules.py.j2 places."""
    printer = NumpyPrinter()
    params = {"weight": 'self.params["weight"]', "bias": 'self.params["bias"]'}
    where = {"x": "self.x", "out": "self.out", "dout": "dout", "alpha": "self.alpha", **params}
    classes = []
    for name, m in MODULES.items():
        code = layer_code(derive(module_spec(name)), where, printer, dtype_of="self.x")
        classes.append(Rendered(name, m["doc"], code.forward, code.backward, code.out))
    code = layer_code(derive(cross_entropy_spec()), {"x": "x", "y": "y"}, printer, loss=True, dtype_of="x")
    ce = Rendered("CrossEntropyModule", CROSS_ENTROPY["doc"], code.forward, code.backward, code.out)
    return dict(header=HEADER.format(source="UvA DL1 practical 1 (the module specs of symgrad.profiles.uva_dl1)"),
                helpers=helper_sources(printer), linear=classes[0], elu=classes[1], softmax=classes[2], ce=ce)


def _plan(d, points, seed):
    from .uva_grading import plan
    return plan(d, points, seed)


COURSE = Course("uva_dl1", "UvA DL1 2024 practical 1: modules.py (LinearModule, ELUModule, SoftMaxModule, "
                "CrossEntropyModule)", "modules.py", "api/uva_dl1_modules.py.j2", context, plan=_plan)
