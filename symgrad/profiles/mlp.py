"""Course ``mlp``: homework 1's ``mlp.py`` (Linear -> f -> Linear -> g).

The class the homework grades, ``MLP(in1, out1, f, in2, out2, g)``, with
torch tensors at its boundary. Its backward pass is not written by hand: for
every (f, g) pair symgrad derives a batch network in the homework's layout
(rows are examples, ``x @ W1.T + b1`` with W1 of shape (out, in)) whose loss
is ``sum(y_hat * dJdy_hat)``, so the adjoint of each parameter is exactly the
vector-Jacobian product backward() must return for the upstream gradient
dJdy_hat. The losses are the composites ``mse`` and ``bce``, differentiated
with respect to y_hat. Inside, everything is numpy; no autograd anywhere.

Grading (:func:`plan`) constructs MLP positionally for the spec's (f, g) and
hands it float32 tensors, as the course's tests do.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from .. import names as naming
from ..derive import Derivation, derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..errors import SymgradError
from ..evaluate import EvalContext
from ..rules import RULES
from ..spec import Spec
from ..verify import env as envmod
from . import Course, calls
from .plan import Case, Plan, point_arrays
from .common import backward_exprs, backward_steps, forward_steps, helper_sources, names_used, read_lines

ACTIVATIONS = ("relu", "sigmoid", "identity")
LOSSES = {"mse": "mse", "bce": "bce"}          # course function prefix -> composite
UPSTREAM = "dJdy_hat"
OUTPUT = "y_hat"
PARAMS = {"W1": ["out1", "in1"], "b1": ["out1"], "W2": ["out2", "out1"], "b2": ["out2"]}


def grad_name(param: str) -> str:
    """The homework's key for dJ/d<param> in MLP.grads."""
    return f"dJd{param}"


def network_spec(f: str, g: str) -> Spec:
    """Linear -> f -> Linear -> g over a batch, with loss sum(y_hat * dJdy_hat)."""
    return Spec(name=f"mlp_{f}_{g}", description=f"Linear -> {f} -> Linear -> {g}",
                inputs={"x": ["n", "in1"], UPSTREAM: ["n", "out2"]}, params=dict(PARAMS),
                nodes={"z1": "x @ W1.T + b1", "z2": f"{f}(z1)", "z3": "z2 @ W2.T + b2", OUTPUT: f"{g}(z3)"},
                loss=f"sum({OUTPUT} * {UPSTREAM})")


def loss_spec(name: str) -> Spec:
    """J = loss(y_hat, y) over all elements; differentiated in y_hat."""
    return Spec(name=f"{name}_loss", inputs={"y": ["n", "m"]}, params={OUTPUT: ["n", "m"]}, nodes={},
                loss=f"{LOSSES[name]}({OUTPUT}, y)")


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple
    doc: str
    reads: tuple
    steps: tuple
    returns: tuple      # (key, local name) pairs of the returned dict, or one name


def network_functions(f: str, g: str, printer: NumpyPrinter) -> tuple[Function, Function]:
    d = derive(network_spec(f, g))
    forward = forward_steps(d, printer, inline=True)
    used = names_used([n.expr for n in d.graph.nodes if n.entry != "loss"])
    cached = ("x",) + tuple(s.target for s in forward)
    fwd = Function(f"forward_{f}_{g}", ("params", "x"), f"Linear -> {f} -> Linear -> {g}: every value backward needs",
                   tuple(read_lines(d, used, lambda n: f'params["{n}"]' if n in PARAMS else None)),
                   tuple(forward), tuple((n, n) for n in cached))
    steps = backward_steps(d, printer, inline_temps=True)
    used = names_used(backward_exprs(d, inline_temps=True))
    reads = read_lines(d, used, lambda n: f'params["{n}"]' if n in PARAMS else
                       None if n == UPSTREAM else f'cache["{n}"]')
    bwd = Function(f"backward_{f}_{g}", ("params", "cache", UPSTREAM),
                   f"dJ/dW1, dJ/db1, dJ/dW2, dJ/db2 for the upstream gradient {UPSTREAM}",
                   tuple(reads), tuple(steps), tuple((grad_name(p), f"d_{p}") for p in PARAMS))
    return fwd, bwd


def loss_function(name: str, printer: NumpyPrinter) -> Function:
    d = derive(loss_spec(name))
    value = forward_steps(d, printer, loss=True, inline=True)
    grad = backward_steps(d, printer, inline_temps=True)
    used = names_used(backward_exprs(d, inline_temps=True) + [n.expr for n in d.graph.nodes])
    reads = read_lines(d, used, lambda n: None)
    return Function(f"{name}_numpy", ("y", OUTPUT), f"({name.upper()} averaged over all elements, dJ/dy_hat)",
                    tuple(reads), tuple(value) + tuple(grad), ("loss", f"d_{OUTPUT}"))


def context(spec=None) -> dict:
    """What templates/api/mlp.py.j2 places: the nine networks' passes and the two losses."""
    printer = NumpyPrinter()
    networks = [(f, g) + network_functions(f, g, printer) for f, g in product(ACTIVATIONS, ACTIVATIONS)]
    losses = [loss_function(name, printer) for name in LOSSES]
    return dict(header=HEADER.format(source="homework 1's Linear -> f -> Linear -> g networks"),
                  helpers=helper_sources(printer), activations=ACTIVATIONS,
                  networks=networks, losses=losses, params=PARAMS, grads={p: grad_name(p) for p in PARAMS},
                  output=OUTPUT, upstream=UPSTREAM)


# -- grading -----------------------------------------------------------------------

RTOL_FLOAT32 = 1e-4        # float32 tensors at the boundary: about 1e-6 relative error is rounding
ACCUMULATION_POINTS = 3     # points at which a second pass checks that gradients are added


def _as_float32(value) -> np.ndarray:
    """The value a float32 tensor holds, as float64."""
    return np.asarray(value, dtype=np.float32).astype(np.float64)


def _float32(d, points, ctx):
    """The points again, computed from leaves rounded to float32 (what the tensors hold)."""
    out = []
    for p in points:
        leaves = {k: _as_float32(v) for k, v in p.leaves(d).items()}
        with np.errstate(all="ignore"):
            out.append(envmod.Point(envmod.fill(d, leaves, ctx), p.kink))
    return out


def activations_of(d: Derivation) -> tuple[str, str]:
    """(f, g) of a Linear -> f -> Linear -> g spec, or SymgradError saying what it is instead."""
    layers = []     # "Linear" per matrix product, then the activations, in graph order
    for node in d.graph.nodes:
        if node.entry == "loss":
            continue
        op = "identity" if node.expr.op == "alias" else node.expr.op
        if op == "matmul":
            layers.append("Linear")
        elif op in ACTIVATIONS or RULES[op].family == "elementwise":
            layers.append(op)
    if len(layers) != 4 or layers[0::2] != ["Linear", "Linear"] or not set(layers[1::2]) <= set(ACTIVATIONS):
        raise SymgradError(f"the mlp profile checks Linear -> f -> Linear -> g networks with f and g among "
                           f"{', '.join(ACTIVATIONS)}; spec {d.spec.name!r} is "
                           f"{' -> '.join(layers) or 'no such network'}")
    acts = layers[1::2]
    return acts[0], acts[1]


def plan(d: Derivation, points_wanted: int, seed: int) -> Plan:
    """Homework 1's class MLP and its two losses, for the (f, g) of the spec,
    with float32 torch tensors at the boundary as the course's tests use them."""
    f, g = activations_of(d)
    net = envmod.load_derivation(network_spec(f, g))
    pts, ctx = envmod.random_points(net, points_wanted, seed)
    pts = _float32(net, pts + envmod.kink_points(net, ctx), ctx)
    out = Plan([], [], {}, [], rtol=RTOL_FLOAT32)
    params = list(PARAMS)
    out1, in1 = pts[0].values["W1"].shape
    out2 = pts[0].values["W2"].shape[0]
    for k, p in enumerate(pts):
        point_arrays(out.arrays, k, p.values, ["x", UPSTREAM] + params)
        shown = {n: np.round(p.values[n], 6) for n in ["x"] + params}   # as drawn, before float32
        shown_up = dict(shown, dJdy_hat=np.round(p.values[UPSTREAM], 6))
        build = (calls.Call("MLP", tuple(calls.Const(v) for v in (in1, out1, f, out1, out2, g)), into="net"),)
        build += tuple(calls.SetItem("net", "parameters", name, calls.tensor(f"p{k}.{name}")) for name in params)
        forward = (calls.Call("forward", (calls.tensor(f"p{k}.x"),), on="net", into="y_hat"),)
        backward = (calls.Call("backward", (calls.tensor(f"p{k}.{UPSTREAM}"),), on="net"),)
        grads = tuple(calls.Save(grad_name(n), calls.Item("net", "grads", grad_name(n))) for n in params)
        truth = {grad_name(n): p.values[naming.adjoint(n)] for n in params}
        wrt = {grad_name(n): n for n in params}

        cid = f"forward.p{k}"
        out.add(calls.Script(cid, "MLP.forward", build + forward + (calls.Save("", calls.Slot("y_hat")),)),
                Case("MLP.forward", cid, {"": p.values[OUTPUT]}, shown))
        cid = f"backward.p{k}"
        out.add(calls.Script(cid, "MLP.backward", build + forward + backward + grads),
                Case("MLP.backward", cid, truth, shown_up, kind="gradient", on_kink=p.kink,
                     derivation=net, point=p, wrt=wrt, after=("MLP.forward",)))
        if k < ACCUMULATION_POINTS:
            # the homework and its tests never call backward twice: adding (+=) is a note, required by --strict
            cid = f"backward_twice.p{k}"
            out.add(calls.Script(cid, "MLP.backward", build + forward + backward + backward + grads),
                    Case("MLP.backward", cid, {key: 2 * v for key, v in truth.items()},
                         shown_up, kind="gradient", on_kink=p.kink, baseline=truth, strict=True,
                         after=("MLP.forward",),
                         setting="forward, then backward called twice: the gradients add up"))
            cid = f"clear.p{k}"
            clear = (calls.Call("clear_grad_and_cache", on="net"),)
            out.add(calls.Script(cid, "MLP.clear_grad_and_cache", build + forward + backward + clear + grads),
                    Case("MLP.clear_grad_and_cache", cid, {key: np.zeros_like(v) for key, v in truth.items()},
                         shown, after=("MLP.forward", "MLP.backward"),
                         setting="forward, backward, then clear_grad_and_cache: every gradient is 0"))
    out.functions = ["MLP.forward", "MLP.backward", "MLP.clear_grad_and_cache"]
    for name in LOSSES:
        _loss_cases(out, name, points_wanted, seed)
        out.functions.append(f"{name}_loss")
    return out


def _loss_cases(out: Plan, name: str, count: int, seed: int) -> None:
    ld = envmod.load_derivation(loss_spec(name))
    ctx = EvalContext(envmod.test_sizes(ld))
    rng = np.random.default_rng(seed + 7)
    shape = ctx.shape(ld.graph.params[OUTPUT].shape)
    fname = f"{name}_loss"
    for k in range(count):
        if name == "bce":   # probabilities and targets in [0, 1]
            y_hat = np.clip(np.round(rng.uniform(0.02, 0.98, shape), 3), 0.02, 0.98)
            y = np.round(rng.uniform(0.0, 1.0, shape), 3) if k % 2 else rng.integers(0, 2, shape).astype(float)
        else:
            y_hat, y = envmod.draw(rng, shape), envmod.draw(rng, shape)
        leaves = {OUTPUT: _as_float32(y_hat), "y": _as_float32(y)}
        point = envmod.Point(envmod.fill(ld, leaves, ctx))
        key = f"{name}.p{k}"
        out.arrays[f"{key}.y"], out.arrays[f"{key}.y_hat"] = leaves["y"], leaves[OUTPUT]
        cid = f"{fname}.p{k}"
        steps = (calls.Call(fname, (calls.tensor(f"{key}.y"), calls.tensor(f"{key}.y_hat")), into="result"),
                 calls.Save("J", calls.Index("result", 0)), calls.Save("dJdy_hat", calls.Index("result", 1)))
        out.add(calls.Script(cid, fname, steps),
                Case(fname, cid, {"J": point.values["loss"], "dJdy_hat": point.values[f"d_{OUTPUT}"]},
                     {n: np.round(v, 6) for n, v in leaves.items()}, kind="gradient", derivation=ld, point=point,
                     wrt={"dJdy_hat": OUTPUT}))


COURSE = Course("mlp", "homework 1: class MLP with forward/backward, mse_loss, bce_loss (torch at the boundary)",
                "mlp.py", "api/mlp.py.j2", context, plan=plan, packages=("numpy", "torch"),
                version="homework 1: MLP(in1, out1, f, in2, out2, g) with forward, backward, "
                        "clear_grad_and_cache, mse_loss, bce_loss; backward assigns or adds its gradients")
