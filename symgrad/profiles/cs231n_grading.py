"""Grading code written to CS231n's layers.py and fc_net.py (:func:`plan`).

The calls are the notebooks' calls: ``out, cache = affine_forward(x, w, b)``
then ``dx, dw, db = affine_backward(dout, cache)`` on that cache; losses on
integer labels; batch norm with a ``bn_param`` dict read back afterwards for
its running statistics; dropout with a seed; ``TwoLayerNet`` built, its
params replaced, then ``loss(X)`` and ``loss(X, y)``. Every expected value is
a derivation's value at a random point (or on a kink), so the mistake
catalogue can name what a wrong gradient did.

Values the call language has no literal for are made with plain method calls
(:func:`hold`): a plain object holding an argument, whose ``out`` is read
back into a slot (an int array of labels from a float one with ``astype``,
a dict the call mutates, the second item of a returned tuple).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import names as naming
from ..errors import SymgradError
from ..evaluate import EvalContext
from ..verify import env as envmod
from . import calls
from .cs231n_specs import SPECS, dropout_spec, relu_spec
from .plan import Case, Plan, point_arrays

EPS = 1e-5          # the course's default eps of batch and layer norm
MOMENTUM = 0.9      # and batch norm's default momentum
KEEP = 0.6          # the keep probability dropout is called with
SEED = 123          # the seed dropout is called with


def add_split(out: Plan, script, case: Case) -> None:
    """One call judged twice: its gradients (diagnosed by the mistake catalogue), then its other values."""
    grads = {k: v for k, v in case.want.items() if k in case.wrt}
    rest = {k: v for k, v in case.want.items() if k not in case.wrt}
    out.add(script, replace(case, want=grads))
    if rest:
        out.cases.append(replace(case, want=rest, kind="value", derivation=None, point=None, wrt={}))


def hold(slot: str, arg) -> tuple:
    """Steps leaving ``arg``'s value in ``slot``: a plain leaf holding it, its ``out`` read back."""
    return (calls.Leaf(slot + "_holder", arg),
            calls.Call("__getattribute__", (calls.Const("out"),), on=slot + "_holder", into=slot))


def labels(slot: str, name: str) -> tuple:
    """Steps leaving plan array ``name`` in ``slot`` as an int64 array (labels, indices)."""
    return hold(slot, calls.array(name)) + (calls.Call("astype", (calls.Const("int64"),), on=slot, into=slot),)


def item(slot: str, i: int, into: str) -> calls.Call:
    """``into = slot[i]`` (a cache out of a returned (out, cache) pair)."""
    return calls.Call("__getitem__", (calls.Const(i),), on=slot, into=into)


def _points(d, count, seed, kinks=False, fix=None):
    """Random points of the textbook derivation (and its kink points), leaves in ``fix`` set first."""
    pts, ctx = envmod.random_points(d, count, seed)
    if kinks:
        pts = pts + envmod.kink_points(d, ctx)[:3]
    if fix:
        pts = [envmod.Point(envmod.fill(d, dict(p.leaves(d), **fix), ctx), p.kink) for p in pts]
    return pts


def _shown(p, names):
    return {n: np.round(np.asarray(p.values[n], dtype=float), 6) for n in names}


def _layer(out: Plan, d, name: str, args: tuple, grads: tuple, count: int, seed: int, *, kinks=False,
           fix=None, extra=None) -> None:
    """``name_forward(*args[, extra])`` and ``name_backward(dout, cache)`` -> one gradient per ``grads``."""
    keys = {"x": "dx", "w": "dw", "b": "db", "gamma": "dgamma", "beta": "dbeta"}
    for k, p in enumerate(_points(d, count, seed, kinks, fix)):
        prefix = f"{name}.p{k}"
        point_arrays(out.arrays, k, {f"{name}.{n}": p.values[n] for n in args + ("dout",)},
                     [f"{name}.{n}" for n in args + ("dout",)])
        argv = tuple(calls.array(f"p{k}.{name}.{n}") for n in args) + ((extra,) if extra is not None else ())
        forward = (calls.Call(f"{name}_forward", argv, into="result"),)
        cid = f"{prefix}.forward"
        out.add(calls.Script(cid, f"{name}_forward", forward + (calls.Save("out", calls.Index("result", 0)),)),
                Case(f"{name}_forward", cid, {"out": p.values["out"]}, _shown(p, args), on_kink=p.kink))
        backward = (item("result", 1, "cache"),
                    calls.Call(f"{name}_backward", (calls.array(f"p{k}.{name}.dout"), calls.Slot("cache")),
                               into="grads"))
        saves = tuple(calls.Save(keys[g], calls.Index("grads", i) if len(grads) > 1 else calls.Slot("grads"))
                      for i, g in enumerate(grads))
        cid = f"{prefix}.backward"
        out.add(calls.Script(cid, f"{name}_backward", forward + backward + saves),
                Case(f"{name}_backward", cid, {keys[g]: p.values[naming.adjoint(g)] for g in grads},
                     _shown(p, args + ("dout",)), kind="gradient", on_kink=p.kink, derivation=d, point=p,
                     wrt={keys[g]: g for g in grads}))


def _loss(out: Plan, d, name: str, count: int, seed: int) -> None:
    """``loss, dx = name_loss(x, y)`` with integer labels."""
    for k, p in enumerate(_points(d, count, seed, kinks=name == "svm")):
        point_arrays(out.arrays, k, {f"{name}.x": p.values["x"], f"{name}.y": p.values["y"]},
                     [f"{name}.x", f"{name}.y"])
        cid = f"{name}_loss.p{k}"
        steps = labels("y", f"p{k}.{name}.y") + (
            calls.Call(f"{name}_loss", (calls.array(f"p{k}.{name}.x"), calls.Slot("y")), into="result"),
            calls.Save("loss", calls.Index("result", 0)), calls.Save("dx", calls.Index("result", 1)))
        add_split(out, calls.Script(cid, f"{name}_loss", steps),
                Case(f"{name}_loss", cid, {"loss": p.values["loss"], "dx": p.values[naming.adjoint("x")]},
                     _shown(p, ("x", "y")), kind="gradient", on_kink=p.kink, derivation=d, point=p,
                     wrt={"dx": "x"}))


def _batchnorm_statistics(out: Plan, d, count: int, seed: int) -> None:
    """bn_param's running averages after one train call, and test mode with them."""
    for k, p in enumerate(_points(d, count, seed + 1, fix={"eps": np.array(EPS)})):
        x = p.values["x"]
        point_arrays(out.arrays, k, {f"bn.{n}": p.values[n] for n in ("x", "gamma", "beta")},
                     [f"bn.{n}" for n in ("x", "gamma", "beta")])
        argv = tuple(calls.array(f"p{k}.bn.{n}") for n in ("x", "gamma", "beta"))
        cid = f"batchnorm_running.p{k}"
        steps = hold("bn_param", calls.DictArg({"mode": calls.Const("train")})) + (
            calls.Call("batchnorm_forward", argv + (calls.Slot("bn_param"),)),
            calls.Save("running_mean", calls.Key("bn_param", "running_mean")),
            calls.Save("running_var", calls.Key("bn_param", "running_var")))
        mean, var = (1 - MOMENTUM) * p.values["mu"], (1 - MOMENTUM) * p.values["sigma2"]
        out.add(calls.Script(cid, "batchnorm_forward", steps),
                Case("batchnorm_forward", cid, {"running_mean": mean, "running_var": var},
                     _shown(p, ("x", "gamma", "beta")),
                     setting="one train-mode call from bn_param = {'mode': 'train'}: the running averages"))
        rm, rv = np.round(x.mean(axis=0) + 0.5, 3), np.round(x.var(axis=0) + 0.5, 3)
        out.arrays[f"p{k}.bn.rm"], out.arrays[f"p{k}.bn.rv"] = rm, rv
        cid = f"batchnorm_test.p{k}"
        param = calls.DictArg({"mode": calls.Const("test"), "running_mean": calls.array(f"p{k}.bn.rm"),
                               "running_var": calls.array(f"p{k}.bn.rv")})
        steps = (calls.Call("batchnorm_forward", argv + (param,), into="result"),
                 calls.Save("out", calls.Index("result", 0)))
        want = p.values["gamma"] * (x - rm) / np.sqrt(rv + EPS) + p.values["beta"]
        out.add(calls.Script(cid, "batchnorm_forward", steps),
                Case("batchnorm_forward", cid, {"out": want}, dict(_shown(p, ("x", "gamma", "beta")),
                                                                   running_mean=rm, running_var=rv),
                     setting="test mode: normalized by the running mean and variance given in bn_param"))


def _dropout(out: Plan, count: int, seed: int) -> None:
    """dropout_forward in train mode (the mask np.random.rand draws after np.random.seed(seed), < p, over p),
    test mode (x itself), and dropout_backward through that mask."""
    d = envmod.load_derivation(dropout_spec())
    for k, p in enumerate(_points(d, count, seed)):
        x = p.values["x"]
        mask = (np.random.RandomState(SEED).rand(*x.shape) < KEEP) / KEEP
        q = envmod.Point(envmod.fill(d, dict(p.leaves(d), mask=mask), EvalContext(envmod.test_sizes(d))))
        point_arrays(out.arrays, k, {"drop.x": x, "drop.dout": q.values["dout"]}, ["drop.x", "drop.dout"])
        for mode in ("train", "test"):
            param = {"mode": calls.Const(mode), "p": calls.Const(KEEP), "seed": calls.Const(SEED)}
            forward = (calls.Call("dropout_forward", (calls.array(f"p{k}.drop.x"), calls.DictArg(param)),
                                  into="result"),)
            cid = f"dropout_{mode}.p{k}"
            out.add(calls.Script(cid, "dropout_forward", forward + (calls.Save("out", calls.Index("result", 0)),)),
                    Case("dropout_forward", cid, {"out": q.values["out"] if mode == "train" else x},
                         _shown(q, ("x",)), setting=f"{mode} mode, p = {KEEP}, seed = {SEED}"))
            cid = f"dropout_backward_{mode}.p{k}"
            steps = forward + (item("result", 1, "cache"),
                               calls.Call("dropout_backward", (calls.array(f"p{k}.drop.dout"), calls.Slot("cache")),
                                          into="dx"), calls.Save("dx", calls.Slot("dx")))
            want = q.values[naming.adjoint("x")] if mode == "train" else q.values["dout"]
            out.add(calls.Script(cid, "dropout_backward", steps),
                    Case("dropout_backward", cid, {"dx": want}, _shown(q, ("x", "dout")),
                         setting=f"after dropout_forward in {mode} mode, p = {KEEP}, seed = {SEED}"))


def _two_layer(out: Plan, d, count: int, seed: int) -> None:
    """TwoLayerNet(D, H, C, reg=...) with its params set: loss(X) scores, loss(X, y) -> (loss, grads);
    FullyConnectedNet([H], ...) with the same params: loss(X, y)."""
    params = ("W1", "b1", "W2", "b2")
    for k, p in enumerate(_points(d, count, seed, kinks=True)):
        D, H = p.values["W1"].shape
        C = p.values["W2"].shape[1]
        names = ("X", "y", "reg") + params
        point_arrays(out.arrays, k, {f"net.{n}": p.values[n] for n in names}, [f"net.{n}" for n in names])
        build = (calls.Call("TwoLayerNet", (calls.Const(D), calls.Const(H), calls.Const(C)),
                            {"reg": calls.scalar(f"p{k}.net.reg")}, into="net"),)
        build += tuple(calls.SetItem("net", "params", n, calls.array(f"p{k}.net.{n}")) for n in params)
        cid = f"two_layer_scores.p{k}"
        steps = build + (calls.Call("loss", (calls.array(f"p{k}.net.X"),), on="net", into="scores"),
                         calls.Save("scores", calls.Slot("scores")))
        out.add(calls.Script(cid, "TwoLayerNet.loss", steps),
                Case("TwoLayerNet.loss", cid, {"scores": p.values["scores"]}, _shown(p, ("X",) + params),
                     on_kink=p.kink, setting="loss(X): the class scores"))
        cid = f"two_layer_loss.p{k}"
        steps = build + labels("y", f"p{k}.net.y") + (
            calls.Call("loss", (calls.array(f"p{k}.net.X"), calls.Slot("y")), on="net", into="result"),
            calls.Save("loss", calls.Index("result", 0)), item("result", 1, "grads"))
        steps += tuple(calls.Save(n, calls.Key("grads", n)) for n in params)
        want = dict({"loss": p.values["loss"]}, **{n: p.values[naming.adjoint(n)] for n in params})
        add_split(out, calls.Script(cid, "TwoLayerNet.loss", steps),
                Case("TwoLayerNet.loss", cid, want, _shown(p, names), kind="gradient", on_kink=p.kink,
                     derivation=d, point=p, wrt={n: n for n in params},
                     setting="loss(X, y): (loss, grads) with the L2 penalty 0.5 * reg * sum(W**2)"))
        # FullyConnectedNet with one hidden layer, no normalization or dropout: the same network
        build = (calls.Call("FullyConnectedNet", (calls.Const([H]),),
                            {"input_dim": calls.Const(D), "num_classes": calls.Const(C),
                             "reg": calls.scalar(f"p{k}.net.reg"), "dtype": calls.Const("float64")}, into="net"),)
        build += tuple(calls.SetItem("net", "params", n, calls.array(f"p{k}.net.{n}")) for n in params)
        cid = f"fc_net_loss.p{k}"
        steps = build + labels("y", f"p{k}.net.y") + (
            calls.Call("loss", (calls.array(f"p{k}.net.X"), calls.Slot("y")), on="net", into="result"),
            calls.Save("loss", calls.Index("result", 0)), item("result", 1, "grads"))
        steps += tuple(calls.Save(n, calls.Key("grads", n)) for n in params)
        add_split(out, calls.Script(cid, "FullyConnectedNet.loss", steps),
                  Case("FullyConnectedNet.loss", cid, want, _shown(p, names), kind="gradient", on_kink=p.kink,
                       derivation=d, point=p, wrt={n: n for n in params},
                       setting=f"FullyConnectedNet([{H}], input_dim={D}, num_classes={C}, reg=reg, "
                               "dtype='float64'), params set, then loss(X, y)"))


FUNCTIONS = ["affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss", "svm_loss",
             "batchnorm_forward", "batchnorm_backward", "layernorm_forward", "layernorm_backward",
             "dropout_forward", "dropout_backward", "TwoLayerNet.loss", "FullyConnectedNet.loss"]


def plan(d, points_wanted: int, seed: int) -> Plan:
    """The notebooks' calls of every graded function, for any of the course's bundled specs."""
    if d.spec.name not in SPECS:
        raise SymgradError(f"the cs231n profile grades the course's layers and nets, derived from its bundled "
                           f"specs ({', '.join(SPECS)}); spec {d.spec.name!r} is not one of them")
    count = max(1, min(points_wanted, 6))
    layers = [f for f in FUNCTIONS if "." not in f and f != "svm_loss"]
    out = Plan(list(FUNCTIONS), [], {}, [], uses={"FullyConnectedNet.loss": layers})
    spec = {name: envmod.load_derivation(name) for name in SPECS}
    _layer(out, spec["cs231n_affine"], "affine", ("x", "w", "b"), ("x", "w", "b"), count, seed)
    _layer(out, envmod.load_derivation(relu_spec()), "relu", ("x",), ("x",), count, seed, kinks=True)
    _loss(out, spec["cs231n_softmax"], "softmax", count, seed)
    _loss(out, spec["cs231n_svm"], "svm", count, seed)
    eps = {"eps": np.array(EPS)}
    norm = {"batchnorm": calls.DictArg({"mode": calls.Const("train")}), "layernorm": calls.DictArg({})}
    for name in ("batchnorm", "layernorm"):
        _layer(out, spec[f"cs231n_{name}"], name, ("x", "gamma", "beta"), ("x", "gamma", "beta"), count, seed,
               fix=eps, extra=norm[name])
    _batchnorm_statistics(out, spec["cs231n_batchnorm"], count, seed)
    _dropout(out, count, seed)
    _two_layer(out, spec["cs231n_two_layer"], count, seed)
    return out
