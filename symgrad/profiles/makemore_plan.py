"""Grading the makemore_backprop interface: the calls the sandbox makes and what each
adjoint must be.

A submission defines ``backward(params, cache, Xb, Yb)`` returning a dict of the
exercise's 26 adjoints, and each fused function (``dlogits_fused``,
``dhprebn_fused``) with the arguments the profile's own takes, called by name. Each adjoint is judged as a
function of its own (``backward.dcounts_sum_inv``), and the plan records which
adjoints each rests on (its consumers' adjoints), so a report says of a wrong
adjoint whether it only inherits a wrong one upstream: the first wrong adjoint
whose inputs are all correct is the mistake.

Test points: float32 tensors, as the exercise has them, at the scales it
initialises its parameters (small output weights, batch-norm gain near 1, bias
near 0, so that no adjoint is zero or tiny by accident); batches of 32 and of 7
(a size written as 32 shows); every batch repeats a character index, so dC must
add the rows of repeated indices. Expected values are the derivation's, in
float64, from the float32 leaves.
"""

from __future__ import annotations

import numpy as np

from .. import names as naming
from ..derive import Derivation
from ..errors import SymgradError
from ..evaluate import EvalContext
from ..spec import LOSS
from ..ir import dim
from . import calls
from .makemore_render import ADJOINTS, PARAMS, exercise_name, fused_arguments
from .plan import Case, Plan

RTOL = 1e-5            # float32 at the boundary: the profile's own code is within 1e-8 of float64 here
BATCHES = (32, 7)
SCALES = {"C": 1.0, "W1": "fan_in", "b1": 0.1, "W2": 0.1, "b2": 0.1, "bngain": 0.1, "bnbias": 0.1}


def _needs(d: Derivation) -> None:
    have = set(d.graph.params) | set(d.spec.extra_gradients)
    missing = [t for t in ADJOINTS if t not in have] + [n for n in ("Xb", "Yb") if n not in d.graph.inputs]
    if missing:
        raise SymgradError(f"the makemore_backprop profile grades the makemore net; spec {d.spec.name!r} has no "
                           f"{', '.join(missing)} (its parameters and gradients must be the exercise's)")


def _leaves(d: Derivation, ctx: EvalContext, rng) -> dict:
    out = {}
    for name, var in d.graph.params.items():
        shape = ctx.shape(var.shape)
        scale = SCALES.get(name, 1.0)
        if scale == "fan_in":
            scale = (5 / 3) / np.sqrt(shape[0])
        value = rng.standard_normal(shape) * scale + (1.0 if name == "bngain" else 0.0)
        out[name] = value.astype(np.float32).astype(np.float64)
    xb = ctx.shape(d.graph.inputs["Xb"].shape)
    size = int(d.spec.kinds["Xb"].bound)
    ix = rng.integers(0, size, xb)
    ix[1] = ix[0]                    # a repeated context, and a repeated character within one
    ix[2, 0] = ix[2, -1]
    out["Xb"] = ix
    out["Yb"] = rng.integers(0, int(d.spec.kinds["Yb"].bound), ctx.shape(d.graph.inputs["Yb"].shape))
    return out


def _uses(d: Derivation) -> dict:
    """backward.d<t> -> the adjoints t's own formula reads (its consumers' adjoints)."""
    entry = d.entry_contributions()
    out = {}
    for t in ADJOINTS:
        sources = dict.fromkeys(c.source for c in entry.get(t, []))
        out[f"backward.{exercise_name(t)}"] = [f"backward.{exercise_name(s)}" for s in sources if s in ADJOINTS]
    return out


def plan(d: Derivation, points: int, seed: int) -> Plan:
    _needs(d)
    fused = fused_arguments(d)
    out = Plan([f"backward.{exercise_name(t)}" for t in ADJOINTS] + list(fused),
               [], {}, [], rtol=RTOL, uses=_uses(d))
    rng = np.random.default_rng(seed)
    (size,) = list(d.graph.sizes)
    forward = [n.name for n in d.graph.nodes if not n.temp and n.entry != "loss"]
    for k in range(max(2, min(points, 4))):
        ctx = EvalContext({dim(size): BATCHES[k % len(BATCHES)]})
        leaves = _leaves(d, ctx, rng)
        with np.errstate(all="ignore"):
            values = d.values(leaves, ctx)
        key = f"p{k}"
        for name in list(PARAMS) + forward + ["Xb", "Yb"]:
            out.arrays[f"{key}.{name}"] = np.asarray(values[name], dtype=float)
        for start in d.spec.fused.values():
            if start != LOSS:
                out.arrays[f"{key}.{exercise_name(start)}"] = np.asarray(values[naming.adjoint(start)], dtype=float)
        labels = {n: calls.Tensor(f"{key}.{n}", "int64") for n in ("Xb", "Yb")}
        shown = {n: leaves[n] for n in ("Xb", "Yb")}
        params = calls.DictArg({n: calls.tensor(f"{key}.{n}") for n in PARAMS})
        cache = calls.DictArg({n: calls.tensor(f"{key}.{n}") for n in forward})
        keys = [exercise_name(t) for t in ADJOINTS]
        cid = f"backward.{key}"
        out.add(calls.Script(cid, "backward", (calls.Call("backward", (params, cache, labels["Xb"], labels["Yb"]),
                                                         into="result"),)
                             + tuple(calls.Save(name, calls.Key("result", name)) for name in keys)))
        for t in ADJOINTS:
            out.cases.append(Case(f"backward.{exercise_name(t)}", cid,
                                  {exercise_name(t): values[naming.adjoint(t)]}, shown))
        for (name, args), target in zip(fused.items(), d.spec.fused):
            cid = f"{name}.{key}"
            kwargs = {a: labels[a] if a in labels else calls.tensor(f"{key}.{a}") for a in args}
            out.add(calls.Script(cid, name, (calls.Call(name, kwargs=kwargs, into="result"),
                                             calls.Save("", calls.Slot("result")))),
                    Case(name, cid, {"": values[naming.adjoint(target)]}, shown))
    return out
