"""The specs of UvA DL1 practical 1's modules, shared by the renderer (:mod:`.uva_dl1`) and
the plan (:mod:`.uva_grading`)."""

from __future__ import annotations

from ..spec import Spec

MODULES = {
    "LinearModule": dict(inputs={"x": {"shape": ["S", "M"], "grad": True}, "dout": ["S", "N"]},
                         params={"weight": ["N", "M"], "bias": [1, "N"]}, out="x @ weight.T + bias",
                         gradients=["weight", "bias", "x"], doc="out = x weight^T + bias"),
    "ELUModule": dict(inputs={"dout": ["S", "N"], "alpha": []}, params={"x": ["S", "N"]},
                      out="relu(x) + alpha * (exp(x - relu(x)) - 1)", gradients=None,
                      doc="out = x where x > 0, alpha (exp(x) - 1) elsewhere"),
    "SoftMaxModule": dict(inputs={"dout": ["S", "N"]}, params={"x": ["S", "N"]}, out="softmax(x, axis=1)",
                          gradients=None, doc="out = softmax of each row of x"),
}
CROSS_ENTROPY = dict(inputs={"y": {"shape": ["S"], "kind": "label", "classes": "C"}}, params={"x": ["S", "C"]},
                     loss="-mean(log(pick(x, y)))", doc="-mean over rows of log x[i, y_i]")


def module_spec(name: str) -> Spec:
    m = MODULES[name]
    return Spec(name=f"uva_{name.lower()}", description=f"{name}: {m['doc']}", inputs=dict(m["inputs"]),
                params=dict(m["params"]), nodes={"out": m["out"]}, loss="sum(out * dout)",
                gradients=m["gradients"])


def cross_entropy_spec() -> Spec:
    c = CROSS_ENTROPY
    return Spec(name="uva_crossentropymodule", description=f"CrossEntropyModule: {c['doc']}",
                inputs=dict(c["inputs"]), params=dict(c["params"]), nodes={}, loss=c["loss"])
