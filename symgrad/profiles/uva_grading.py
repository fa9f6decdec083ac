"""Grading for ``uva_dl1``: modules.py called as the practical's tests call it.

Classes are built positionally; LinearModule's weight and bias are put into
its ``params`` dict; arrays are numpy float64 and labels int64. Besides each
module's passes against its module spec: LinearModule.forward after the
weight was changed in place (a row of ``params["weight"]`` overwritten, as
the course's finite differences do), and CrossEntropyModule.backward on a
fresh instance that never ran forward (it is stateless). The plan is the
same whichever spec is given (the bundled ``uva_mlp`` is the network the
modules make).
"""

from __future__ import annotations

import numpy as np

from ..verify import env as envmod
from . import calls
from .layer_plans import Layer, Points, getattr_step, getitem_step, gradient_case
from .plan import Case, Plan
from .uva_specs import cross_entropy_spec, module_spec


def _bias_as_vector(values: dict) -> dict:
    return {"bias": np.ravel(values["d_bias"])}


def _linear(out: Plan, count: int, seed: int) -> None:
    d = envmod.load_derivation(module_spec("LinearModule"))
    rng = np.random.default_rng(seed + 5)
    for k, p in Points(d, count, seed):
        cid = f"LinearModule.p{k}"
        lay = Layer(out, cid, p.values)
        fan_out, fan_in = np.shape(p.values["weight"])
        row = envmod.draw(rng, (fan_in,))
        steps = (calls.Call("LinearModule", (calls.Const(fan_in), calls.Const(fan_out)), into="layer"),
                 calls.SetItem("layer", "params", "weight", lay.array("weight")),
                 calls.SetItem("layer", "params", "bias", lay.array("bias")),
                 calls.Call("forward", (lay.array("x"),), on="layer", into="out"), calls.Save("out", calls.Slot("out")),
                 calls.Call("backward", (lay.array("dout"),), on="layer", into="dx"),
                 calls.Save("dx", calls.Slot("dx")), calls.Save("weight", calls.Item("layer", "grads", "weight")),
                 calls.Save("bias", calls.Item("layer", "grads", "bias")),
                 getattr_step("layer", "params", "params"), getitem_step("params", "weight", "w"),
                 calls.Call("__setitem__", (calls.Const(0), lay.array("row", row)), on="w"),
                 calls.Call("forward", (lay.array("x"),), on="layer", into="again"),
                 calls.Save("again", calls.Slot("again")))
        shown = lay.shown("x", "weight", "bias")
        case = gradient_case("LinearModule.backward", cid, d, p, {"dx": "x", "weight": "weight", "bias": "bias"},
                             dict(shown, dout=p.values["dout"]))
        case.want["bias"] = np.ravel(case.want["bias"])     # (out,) or (1, out): either shape is accepted
        out.add(calls.Script(cid, "LinearModule.backward", steps),
                Case("LinearModule.forward", cid, {"out": p.values["out"]}, shown))
        out.cases.append(case)
        changed = p.values["weight"].copy()
        changed[0] = row
        out.cases.append(Case("LinearModule.forward (weight changed in place)", cid,
                              {"again": p.values["x"] @ changed.T + p.values["bias"]}, dict(shown, row=row),
                              setting='forward, backward, then params["weight"][0] = row in place and forward '
                                      "again: forward must read the weight it holds now"))
    out.functions += ["LinearModule.forward", "LinearModule.backward", "LinearModule.forward (weight changed in place)"]


def _activation(out: Plan, name: str, count: int, seed: int) -> None:
    d = envmod.load_derivation(module_spec(name))
    alpha = "alpha" in d.graph.inputs

    def fix(leaves):     # ELU's alpha is positive in the course: 0.1 + |z|
        return dict(leaves, alpha=np.round(0.1 + np.abs(leaves["alpha"]), 3)) if alpha else leaves

    for k, p in Points(d, count, seed, fix=fix):
        cid = f"{name}.p{k}"
        lay = Layer(out, cid, p.values)
        args = (calls.Const(float(p.values["alpha"])),) if alpha else ()
        steps = (calls.Call(name, args, into="module"),
                 calls.Call("forward", (lay.array("x"),), on="module", into="out"),
                 calls.Save("out", calls.Slot("out")),
                 calls.Call("backward", (lay.array("dout"),), on="module", into="dx"),
                 calls.Save("dx", calls.Slot("dx")))
        shown = lay.shown("x", *(["alpha"] if alpha else []))
        out.add(calls.Script(cid, f"{name}.backward", steps),
                Case(f"{name}.forward", cid, {"out": p.values["out"]}, shown))
        out.cases.append(gradient_case(f"{name}.backward", cid, d, p, {"dx": "x"}, dict(shown, dout=p.values["dout"])))
    out.functions += [f"{name}.forward", f"{name}.backward"]


def _probabilities(rng, ctx, d):
    S, C = ctx.shape(d.graph.params["x"].shape)
    z = np.exp(rng.normal(0, 1, (S, C)))
    return {"x": np.round(z / z.sum(axis=1, keepdims=True), 6), "y": rng.integers(0, C, S)}


def _cross_entropy(out: Plan, count: int, seed: int) -> None:
    d = envmod.load_derivation(cross_entropy_spec())
    for k, p in Points(d, count, seed, leaves=lambda rng, ctx: _probabilities(rng, ctx, d)):
        cid = f"CrossEntropyModule.p{k}"
        lay = Layer(out, cid, p.values)
        steps = (*lay.labels("y", "y"), calls.Call("CrossEntropyModule", into="ce"),
                 calls.Call("forward", (lay.array("x"), calls.Slot("y")), on="ce", into="loss"),
                 calls.Save("loss", calls.Slot("loss")),
                 calls.Call("backward", (lay.array("x"), calls.Slot("y")), on="ce", into="dx"),
                 calls.Save("dx", calls.Slot("dx")))
        shown = lay.shown("x", "y")
        out.add(calls.Script(cid, "CrossEntropyModule.backward", steps),
                Case("CrossEntropyModule.forward", cid, {"loss": p.values["loss"]}, shown))
        out.cases.append(gradient_case("CrossEntropyModule.backward", cid, d, p, {"dx": "x"}, shown))
        fresh = f"CrossEntropyModule.fresh.p{k}"
        steps = (*lay.labels("y", "y"), calls.Call("CrossEntropyModule", into="ce"),
                 calls.Call("backward", (lay.array("x"), calls.Slot("y")), on="ce", into="dx"),
                 calls.Save("dx", calls.Slot("dx")))
        out.add(calls.Script(fresh, "CrossEntropyModule.backward", steps),
                gradient_case("CrossEntropyModule.backward", fresh, d, p, {"dx": "x"}, shown,
                              setting="backward(x, y) on a fresh instance, with no forward before: the module "
                                      "is stateless"))
    out.functions += ["CrossEntropyModule.forward", "CrossEntropyModule.backward"]


def plan(d, points: int, seed: int) -> Plan:
    """modules.py's four classes (``d`` is not needed: the modules are fixed)."""
    count = max(3, points // 3)
    out = Plan([], [], {}, [])
    _linear(out, count, seed)
    for name in ("ELUModule", "SoftMaxModule"):
        _activation(out, name, count, seed)
    _cross_entropy(out, count, seed)
    return out
