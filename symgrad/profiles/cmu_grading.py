"""Grading for ``cmu_hw1p1``: the calls the course's tests make, and what they must produce.

A submission is a folder holding the handout's ``mytorch/`` and ``models/``
folders (a student's handin unpacked); the grader copies its folders and adds
``solution.py`` (:data:`.cmu_hw1p1.ENTRY`) importing the classes, so the calls
below name them at top level. Every class is built positionally, parameters
are assigned as attributes (``layer.W = ...``), and values are numpy float64
arrays. The plan is the whole package whichever spec is given: Linear and
BatchNorm1d against the bundled specs cmu_linear and cmu_batchnorm, each
activation and loss against its layer spec, MLP0/1/4 against their batch
networks (:func:`.cmu_hw1p1.mlp_spec`, with the input's gradient; the bundled
cmu_mlp4 is MLP4's without it), running statistics and SGD's momentum update
against their formulas.
"""

from __future__ import annotations

import numpy as np

from ..spec import Spec, load_spec
from ..verify import env as envmod
from . import calls
from .cmu_specs import ACTIVATIONS, LOSSES, MLPS, activation_spec, loss_spec, mlp_spec
from .layer_plans import Layer, Points, getattr_step, getitem_step, gradient_case
from .plan import Case, Plan

ALPHA = 0.9        # BatchNorm1d's default
EPS = 1e-8


def _const(*values):
    return tuple(calls.Const(v) for v in values)


def _linear(out: Plan, count: int, seed: int) -> None:
    d = envmod.load_derivation(load_spec("cmu_linear"))
    for k, p in Points(d, count, seed):
        cid = f"Linear.p{k}"
        lay = Layer(out, cid, p.values)
        fan_out, fan_in = np.shape(p.values["W"])
        steps = (calls.Call("Linear", _const(fan_in, fan_out), into="layer"),
                 calls.SetAttr("layer", "W", lay.array("W")), calls.SetAttr("layer", "b", lay.array("b")),
                 calls.Call("forward", (lay.array("A"),), on="layer", into="Z"), calls.Save("Z", calls.Slot("Z")),
                 calls.Call("backward", (lay.array("dLdZ"),), on="layer", into="dLdA"),
                 calls.Save("dLdA", calls.Slot("dLdA")), calls.Save("dLdW", calls.Attr("layer", "dLdW")),
                 calls.Save("dLdb", calls.Attr("layer", "dLdb")))
        out.add(calls.Script(cid, "Linear.backward", steps),
                Case("Linear.forward", cid, {"Z": p.values["Z"]}, lay.shown("A", "W", "b")))
        out.cases.append(gradient_case("Linear.backward", cid, d, p, {"dLdW": "W", "dLdb": "b", "dLdA": "A"},
                                       lay.shown("A", "W", "b", "dLdZ")))
    out.functions += ["Linear.forward", "Linear.backward"]


def _activations(out: Plan, count: int, seed: int) -> None:
    for name in ACTIVATIONS:
        spec = activation_spec(name)
        if name == "Swish":     # graded as built with no argument: beta = 1
            spec = Spec(name=spec.name, inputs=spec.inputs, params={"Z": spec.params["Z"]},
                        nodes={"A": "swish(Z, 1)"}, loss=spec.loss)
        d = envmod.load_derivation(spec)
        for k, p in Points(d, count, seed):
            cid = f"{name}.p{k}"
            lay = Layer(out, cid, p.values)
            steps = (calls.Call(name, into="act"),
                     calls.Call("forward", (lay.array("Z"),), on="act", into="A"), calls.Save("A", calls.Slot("A")),
                     calls.Call("backward", (lay.array("dLdA"),), on="act", into="dLdZ"),
                     calls.Save("dLdZ", calls.Slot("dLdZ")))
            out.add(calls.Script(cid, f"{name}.backward", steps),
                    Case(f"{name}.forward", cid, {"A": p.values["A"]}, lay.shown("Z")))
            out.cases.append(gradient_case(f"{name}.backward", cid, d, p, {"dLdZ": "Z"}, lay.shown("Z", "dLdA")))
        out.functions += [f"{name}.forward", f"{name}.backward"]


def _losses(out: Plan, count: int, seed: int) -> None:
    for name in LOSSES:
        d = envmod.load_derivation(loss_spec(name))
        for k, p in Points(d, count, seed):
            cid = f"{name}.p{k}"
            lay = Layer(out, cid, p.values)
            steps = (calls.Call(name, into="loss"),
                     calls.Call("forward", (lay.array("A"), lay.array("Y")), on="loss", into="L"),
                     calls.Save("L", calls.Slot("L")),
                     calls.Call("backward", on="loss", into="dLdA"), calls.Save("dLdA", calls.Slot("dLdA")))
            out.add(calls.Script(cid, f"{name}.backward", steps),
                    Case(f"{name}.forward", cid, {"L": p.values["loss"]}, lay.shown("A", "Y")))
            out.cases.append(gradient_case(f"{name}.backward", cid, d, p, {"dLdA": "A"}, lay.shown("A", "Y")))
        out.functions += [f"{name}.forward", f"{name}.backward"]


def _batchnorm(out: Plan, count: int, seed: int) -> None:
    d = envmod.load_derivation(load_spec("cmu_batchnorm"))
    rng = np.random.default_rng(seed + 3)
    for k, p in Points(d, count, seed):
        cid = f"BatchNorm1d.p{k}"
        lay = Layer(out, cid, p.values)
        Z = p.values["Z"]
        later = envmod.draw(rng, np.shape(Z))
        steps = (calls.Call("BatchNorm1d", _const(np.shape(Z)[1]), into="bn"),
                 calls.SetAttr("bn", "BW", lay.array("BW")), calls.SetAttr("bn", "Bb", lay.array("Bb")),
                 calls.Call("forward", (lay.array("Z"),), on="bn", into="BZ"), calls.Save("BZ", calls.Slot("BZ")),
                 calls.Save("running_M", calls.Attr("bn", "running_M")),
                 calls.Save("running_V", calls.Attr("bn", "running_V")),
                 calls.Call("backward", (lay.array("dLdBZ"),), on="bn", into="dLdZ"),
                 calls.Save("dLdZ", calls.Slot("dLdZ")), calls.Save("dLdBW", calls.Attr("bn", "dLdBW")),
                 calls.Save("dLdBb", calls.Attr("bn", "dLdBb")),
                 calls.Call("forward", (lay.array("later", later),), {"eval": calls.Const(True)}, on="bn",
                            into="eval"), calls.Save("eval", calls.Slot("eval")))
        running_M = (1 - ALPHA) * p.values["M"]
        running_V = ALPHA + (1 - ALPHA) * p.values["V"]
        evaluated = p.values["BW"] * (later - running_M) / np.sqrt(running_V + EPS) + p.values["Bb"]
        out.add(calls.Script(cid, "BatchNorm1d.backward", steps),
                Case("BatchNorm1d.forward", cid, {"BZ": p.values["BZ"]}, lay.shown("Z", "BW", "Bb")))
        out.cases.append(gradient_case("BatchNorm1d.backward", cid, d, p, {"dLdZ": "Z", "dLdBW": "BW", "dLdBb": "Bb"},
                                       lay.shown("Z", "BW", "Bb", "dLdBZ")))
        out.cases.append(Case("BatchNorm1d running statistics", cid, {"running_M": running_M, "running_V": running_V},
                              lay.shown("Z"), setting=f"one training forward from running_M = 0, running_V = 1, "
                                                      f"alpha = {ALPHA}"))
        out.cases.append(Case("BatchNorm1d.forward (eval)", cid, {"eval": evaluated},
                              {"Z": Z, "later": later}, setting="forward(Z), then forward(later, eval=True): "
                                                                "normalized with the running statistics"))
    out.functions += ["BatchNorm1d.forward", "BatchNorm1d.backward", "BatchNorm1d running statistics",
                      "BatchNorm1d.forward (eval)"]


def _mlps(out: Plan, count: int, seed: int) -> None:
    for name in MLPS:
        d = envmod.load_derivation(mlp_spec(name))
        linears = len(MLPS[name]) - 1
        for k, p in Points(d, count, seed):
            cid = f"{name}.p{k}"
            lay = Layer(out, cid, p.values)
            steps = [calls.Call(name, into="net"), getattr_step("net", "layers", "layers")]
            for i in range(linears):
                steps += [getitem_step("layers", 2 * i, f"linear{i}"),
                          calls.SetAttr(f"linear{i}", "W", lay.array(f"W{i}")),
                          calls.SetAttr(f"linear{i}", "b", lay.array(f"b{i}"))]
            steps += [calls.Call("forward", (lay.array("A0"),), on="net", into="A"), calls.Save("A", calls.Slot("A")),
                      calls.Call("backward", (lay.array("dLdA"),), on="net", into="dLdA0"),
                      calls.Save("dLdA0", calls.Slot("dLdA0"))]
            wrt = {"dLdA0": "A0"}
            for i in range(linears):
                steps += [calls.Save(f"dLdW{i}", calls.Attr(f"linear{i}", "dLdW")),
                          calls.Save(f"dLdb{i}", calls.Attr(f"linear{i}", "dLdb"))]
                wrt.update({f"dLdW{i}": f"W{i}", f"dLdb{i}": f"b{i}"})
            shown = lay.shown("A0", *[f"{w}{i}" for i in range(linears) for w in "Wb"])
            out.add(calls.Script(cid, f"{name}.backward", tuple(steps)),
                    Case(f"{name}.forward", cid, {"A": p.values[f"A{linears}"]}, shown))
            out.cases.append(gradient_case(f"{name}.backward", cid, d, p, wrt, dict(shown, dLdA=p.values["dLdA"])))
        out.functions += [f"{name}.forward", f"{name}.backward"]
        out.uses[f"{name}.forward"] = ["Linear.forward", "ReLU.forward"]
        out.uses[f"{name}.backward"] = ["Linear.backward", "ReLU.backward"]


def _sgd(out: Plan, count: int, seed: int) -> None:
    """SGD over MLP0's Linear layer: two steps with fresh gradients, against v = mu v + g, W -= lr v."""
    rng = np.random.default_rng(seed + 11)
    fan_in, fan_out = MLPS["MLP0"]
    for k, (lr, mu) in enumerate([(0.1, 0.0), (0.05, 0.9)] * max(1, count // 4)):
        cid = f"SGD.p{k}"
        values = {"W": envmod.draw(rng, (fan_out, fan_in)), "b": envmod.draw(rng, (fan_out, 1))}
        lay = Layer(out, cid, values)
        steps = [calls.Call("MLP0", into="net"), getattr_step("net", "layers", "layers"),
                 getitem_step("layers", 0, "linear"), calls.SetAttr("linear", "W", lay.array("W")),
                 calls.SetAttr("linear", "b", lay.array("b")),
                 calls.Call("SGD", (calls.Slot("net"), calls.Const(lr), calls.Const(mu)), into="opt")]
        W, b, vW, vb = values["W"], values["b"], 0.0, 0.0
        for step in range(2):
            gW, gb = envmod.draw(rng, W.shape), envmod.draw(rng, b.shape)
            steps += [calls.SetAttr("linear", "dLdW", lay.array(f"dLdW{step}", gW)),
                      calls.SetAttr("linear", "dLdb", lay.array(f"dLdb{step}", gb)), calls.Call("step", on="opt")]
            vW, vb = mu * vW + gW, mu * vb + gb
            W, b = W - lr * vW, b - lr * vb
        steps += [calls.Save("W", calls.Attr("linear", "W")), calls.Save("b", calls.Attr("linear", "b"))]
        out.add(calls.Script(cid, "SGD.step", tuple(steps)),
                Case("SGD.step", cid, {"W": W, "b": b}, dict(values, lr=np.asarray(lr), momentum=np.asarray(mu)),
                     setting="SGD(model, lr, momentum), then two steps, each after new dLdW and dLdb"))
    out.functions.append("SGD.step")


def plan(d, points: int, seed: int) -> Plan:
    """The whole mytorch package (``d`` is not needed: the package is fixed)."""
    count = max(3, points // 3)
    out = Plan([], [], {}, [])
    _linear(out, count, seed)
    _activations(out, count, seed)
    _losses(out, count, seed)
    _batchnorm(out, count, seed)
    _mlps(out, count, seed)
    _sgd(out, count, seed)
    return out
