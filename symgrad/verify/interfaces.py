"""What to call in a student's file, per course interface, and what to expect.

A :class:`Plan` holds the calls the sandbox runs (plain-data scripts, see
``_runner.py``), the arrays they read, and :class:`Case` s: for each call,
the values each interface function must have produced, computed here from a
derivation. One planner per profile:

* ``pset3``: top-level functions (``relu``, ``mlp``, ``d_loss_d_W1``...) of
  the problem set, at random points and at points on the kinks;
* ``mlp``: homework 1's ``MLP`` class (``forward``, ``backward``,
  ``clear_grad_and_cache``) and ``mse_loss`` / ``bce_loss``, with float32
  torch tensors at the boundary as the course's tests use them;
* ``nodes``: homework 3's node classes, each built on leaf nodes, method by
  method (``forward``, ``get_predecessors``, ``backward``), with gradients
  that must be *added* into the predecessors' ``d_out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import names as naming
from ..errors import SymgradError
from ..evaluate import EvalContext, evaluate
from ..ir import Var
from ..rules import RULES, apply
from ..rules.elementwise import FUNCTIONS, R, X, from_sympy
from . import env as envmod
from .sandbox import function_call

RTOL = 1e-7
RTOL_FLOAT32 = 1e-4        # float32 tensors at the boundary: about 1e-6 relative error is rounding
SCALAR_PROBES = (-1.5, -0.25, 0.0, 0.5, 2.0)
ACCUMULATION_POINTS = 3     # points at which a second pass checks that gradients are added


@dataclass
class Case:
    """What one call must have produced for one interface function.

    Attributes:
        function: The interface function judged (``MLP.backward``).
        cid: The call whose saved values are read.
        want: Saved key -> expected array.
        shown: Inputs printed in a counterexample.
        kind: ``value``, ``activation`` (element-wise, kink diagnosis) or
            ``gradient`` (kink and mistake-catalogue diagnosis).
        on_kink: The inputs put some kinked function exactly on its kink.
        derivation, point, wrt: For the catalogue: the derivation, its test
            point, and which gradient (by name) each saved key is.
        baseline: Saved key -> what was there before the call; a result equal
            to ``want - baseline`` means the gradient was assigned, not added.
        as_set: Compare as sets (a list of predecessors).
        setting: What the call did beyond a plain call, said in a counterexample.
    """

    function: str
    cid: str
    want: dict
    shown: dict
    kind: str = "value"
    on_kink: bool = False
    derivation: object = None
    point: object = None
    wrt: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    as_set: bool = False
    setting: str = ""


@dataclass
class Plan:
    functions: list          # interface function names, in report order
    calls: list
    arrays: dict
    cases: list
    trace: tuple = ()        # top-level functions whose calls of each other are recorded
    torch: bool = False
    rtol: float = RTOL
    uses: dict = field(default_factory=dict)   # function -> interface functions it is built on


def _point_arrays(arrays: dict, k: int, values: dict, names) -> None:
    for name in names:
        arrays[f"p{k}.{name}"] = values[name]


# ---------------------------------------------------------------- pset3

def _scalar_truth(derivative: bool, fname: str, value: float) -> float:
    x = Var("x", (), "input")
    out = apply(fname, x)
    if derivative:
        out = from_sympy(FUNCTIONS[fname].derivative, {X: x, R: out})
    return float(evaluate(out, {"x": np.asarray(value)}, EvalContext({})))


def pset3_plan(d, points: list) -> Plan:
    """The problem set's functions, read from :mod:`symgrad.profiles.pset3`."""
    from ..profiles import pset3
    observed = pset3.observed_input(d)
    keys = pset3.dict_keys(d)
    variables = d.graph.variables()
    activations = []
    for node in d.graph.nodes:
        if RULES[node.expr.op].family == "elementwise" and node.expr.op not in activations:
            activations.append(node.expr.op)
    partials = pset3.partial_functions(d)
    calls, arrays, cases = [], {}, []
    for k, p in enumerate(points):
        _point_arrays(arrays, k, p.values, list(d.graph.inputs) + list(d.graph.params) +
                      [n.name for n in d.graph.nodes])
    for j, v in enumerate(SCALAR_PROBES):
        arrays[f"s{j}"] = np.asarray(v)

    def arg(name, k):
        if name == pset3.OBSERVED:
            name = observed
        if name == pset3.VARIABLE_DICT:
            return ["dict", {key: arg(key, k) for key in keys}]
        return ["scalar" if variables[name].ndim == 0 else "array", f"p{k}.{name}"]

    def scalar_functions(derivative):
        for op in activations:
            name = naming.course_derivative(op) if derivative else op
            for j, v in enumerate(SCALAR_PROBES):
                cid = f"{name}.s{j}"
                calls.append(function_call(cid, name, [["scalar", f"s{j}"]]))
                cases.append(Case(name, cid, {"": np.asarray(_scalar_truth(derivative, op, v))}, {"x": v},
                                  kind="activation", on_kink=v in RULES[op].kinks))

    scalar_functions(False)
    forward_args = [a for a in d.graph.inputs if a != observed] + list(d.graph.params)
    for k, p in enumerate(points):
        calls.append(function_call(f"loss.p{k}", "loss", [arg("y_predicted", k), arg(pset3.OBSERVED, k)]))
        cases.append(Case("loss", f"loss.p{k}", {"": p.values["loss"]}, p.leaves(d)))
    for k, p in enumerate(points):
        calls.append(function_call(f"mlp.p{k}", "mlp", [arg(a, k) for a in forward_args], keys))
        cases.append(Case("mlp", f"mlp.p{k}", {key: p.values[key] for key in keys}, p.leaves(d)))
    scalar_functions(True)
    for fn in partials:
        for k, p in enumerate(points):
            cid = f"{fn.name}.p{k}"
            calls.append(function_call(cid, fn.name, [arg(a, k) for a in fn.args]))
            cases.append(Case(fn.name, cid, {"": p.values[naming.adjoint(fn.wrt)]}, p.leaves(d), kind="gradient",
                              on_kink=p.kink, derivation=d, point=p, wrt={"": fn.wrt}))
    functions = activations + ["loss", "mlp"] + [naming.course_derivative(f) for f in activations] + \
        [fn.name for fn in partials]
    return Plan(functions, calls, arrays, cases, trace=tuple(functions))


# ---------------------------------------------------------------- mlp

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


def mlp_activations(d) -> tuple[str, str]:
    """(f, g) of a Linear -> f -> Linear -> g spec, or SymgradError saying what it is instead."""
    from ..profiles import mlp
    layers = []     # "Linear" per matrix product, then the activations, in graph order
    for node in d.graph.nodes:
        if node.entry == "loss":
            continue
        op = "identity" if node.expr.op == "alias" else node.expr.op
        if op == "matmul":
            layers.append("Linear")
        elif op in mlp.ACTIVATIONS or RULES[op].family == "elementwise":
            layers.append(op)
    if len(layers) != 4 or layers[0::2] != ["Linear", "Linear"] or not set(layers[1::2]) <= set(mlp.ACTIVATIONS):
        raise SymgradError(f"the mlp profile checks Linear -> f -> Linear -> g networks with f and g among "
                           f"{', '.join(mlp.ACTIVATIONS)}; spec {d.spec.name!r} is "
                           f"{' -> '.join(layers) or 'no such network'}")
    acts = layers[1::2]
    return acts[0], acts[1]


def mlp_plan(d, points_wanted: int, seed: int) -> Plan:
    """Homework 1's class MLP and its two losses, for the (f, g) of the spec."""
    from ..profiles import mlp
    f, g = mlp_activations(d)
    net = envmod.load_derivation(mlp.network_spec(f, g))
    pts, ctx = envmod.random_points(net, points_wanted, seed)
    pts = _float32(net, pts + envmod.kink_points(net, ctx), ctx)
    calls, arrays, cases = [], {}, []
    params = list(mlp.PARAMS)
    out1, in1 = pts[0].values["W1"].shape
    out2 = pts[0].values["W2"].shape[0]
    tensor = lambda k, name: ["tensor", f"p{k}.{name}", "float32"]  # noqa: E731
    for k, p in enumerate(pts):
        _point_arrays(arrays, k, p.values, ["x", mlp.UPSTREAM] + params)
        shown = {n: np.round(p.values[n], 6) for n in ["x"] + params}   # as drawn, before float32
        shown_up = dict(shown, dJdy_hat=np.round(p.values[mlp.UPSTREAM], 6))
        build = [["call", "net", None, "MLP", [["const", v] for v in (in1, out1, f, out1, out2, g)], {}]]
        build += [["setitem", "net", "parameters", name, tensor(k, name)] for name in params]
        forward = [["call", "y_hat", "net", "forward", [tensor(k, "x")], {}]]
        backward = [["call", None, "net", "backward", [tensor(k, mlp.UPSTREAM)], {}]]
        grads = [["save", mlp.grad_name(n), ["item", "net", "grads", mlp.grad_name(n)]] for n in params]
        truth = {mlp.grad_name(n): p.values[naming.adjoint(n)] for n in params}
        wrt = {mlp.grad_name(n): n for n in params}

        cid = f"forward.p{k}"
        calls.append({"id": cid, "func": "MLP.forward", "steps": build + forward + [["save", "", ["slot", "y_hat"]]]})
        cases.append(Case("MLP.forward", cid, {"": p.values[mlp.OUTPUT]}, shown))
        cid = f"backward.p{k}"
        calls.append({"id": cid, "func": "MLP.backward", "steps": build + forward + backward + grads})
        cases.append(Case("MLP.backward", cid, truth, shown_up, kind="gradient", on_kink=p.kink,
                          derivation=net, point=p, wrt=wrt))
        if k < ACCUMULATION_POINTS:
            cid = f"backward_twice.p{k}"
            calls.append({"id": cid, "func": "MLP.backward", "steps": build + forward + backward + backward + grads})
            cases.append(Case("MLP.backward", cid, {key: 2 * v for key, v in truth.items()},
                              shown_up, kind="gradient", on_kink=p.kink,
                              baseline=truth, setting="forward, then backward called twice: the gradients add up"))
            cid = f"clear.p{k}"
            clear = [["call", None, "net", "clear_grad_and_cache", [], {}]]
            calls.append({"id": cid, "func": "MLP.clear_grad_and_cache",
                          "steps": build + forward + backward + clear + grads})
            cases.append(Case("MLP.clear_grad_and_cache", cid, {key: np.zeros_like(v) for key, v in truth.items()},
                              shown, setting="forward, backward, then clear_grad_and_cache: every gradient is 0"))
    functions = ["MLP.forward", "MLP.backward", "MLP.clear_grad_and_cache"]
    for name in mlp.LOSSES:
        _mlp_loss_cases(name, points_wanted, seed, calls, arrays, cases)
        functions.append(f"{name}_loss")
    return Plan(functions, calls, arrays, cases, torch=True, rtol=RTOL_FLOAT32)


def _mlp_loss_cases(name, count, seed, calls, arrays, cases):
    from ..profiles import mlp
    ld = envmod.load_derivation(mlp.loss_spec(name))
    ctx = EvalContext(envmod.test_sizes(ld))
    rng = np.random.default_rng(seed + 7)
    shape = ctx.shape(ld.graph.params[mlp.OUTPUT].shape)
    fname = f"{name}_loss"
    for k in range(count):
        if name == "bce":   # probabilities and targets in [0, 1]
            y_hat = np.clip(np.round(rng.uniform(0.02, 0.98, shape), 3), 0.02, 0.98)
            y = np.round(rng.uniform(0.0, 1.0, shape), 3) if k % 2 else rng.integers(0, 2, shape).astype(float)
        else:
            y_hat, y = envmod.draw(rng, shape), envmod.draw(rng, shape)
        leaves = {mlp.OUTPUT: _as_float32(y_hat), "y": _as_float32(y)}
        point = envmod.Point(envmod.fill(ld, leaves, ctx))
        key = f"{name}.p{k}"
        arrays[f"{key}.y"], arrays[f"{key}.y_hat"] = leaves["y"], leaves[mlp.OUTPUT]
        cid = f"{fname}.p{k}"
        calls.append({"id": cid, "func": fname, "steps": [
            ["call", "result", None, fname, [["tensor", f"{key}.y", "float32"], ["tensor", f"{key}.y_hat", "float32"]],
             {}],
            ["save", "J", ["index", "result", 0]], ["save", "dJdy_hat", ["index", "result", 1]]]})
        cases.append(Case(fname, cid, {"J": point.values["loss"], "dJdy_hat": point.values[f"d_{mlp.OUTPUT}"]},
                          {n: np.round(v, 6) for n, v in leaves.items()}, kind="gradient", derivation=ld, point=point,
                          wrt={"dJdy_hat": mlp.OUTPUT}))


# ---------------------------------------------------------------- nodes

def _node_points(node, d, count, rng, ctx) -> list:
    """Random leaves in each argument's domain (positive where a log needs it, class indices)."""
    from ..profiles import nodes
    points = []
    for _ in range(count):
        leaves, extra = {}, {}
        for a in node.args:
            if a.kind == "index":
                continue
            var = d.graph.variables()[a.name]
            value = envmod.draw(rng, ctx.shape(var.shape))
            if a.positive:
                value = np.abs(value) + 0.1
            leaves[a.name] = value
        for a in node.args:
            if a.kind == "index":
                extra[a.name] = np.asarray(float(rng.integers(0, _classes(node, leaves))))
        for x in node.derived:
            leaves[x.name] = x.value({**leaves, **extra})
        leaves[nodes.UPSTREAM] = envmod.draw(rng, ctx.shape(d.graph.inputs[nodes.UPSTREAM].shape))
        with np.errstate(all="ignore"):
            values = envmod.fill(d, leaves, ctx)
        values.update(extra)
        points.append(envmod.Point(values))
    return points


def _classes(node, leaves) -> int:
    sized = [np.size(leaves[a.name]) for a in node.args if a.kind == "node" and np.ndim(leaves[a.name])]
    return max(sized) if sized else 1


def nodes_plan(d, count: int, seed: int) -> Plan:
    """Every node class of homework 3, method by method; then, when the spec is
    one the homework builds from them, its whole graph wired from the classes."""
    from ..profiles import nodes
    calls, arrays, cases, functions = [], {}, [], []
    uses = {}
    rng = np.random.default_rng(seed)
    for node in nodes.NODE_CLASSES:
        dn = envmod.load_derivation(nodes.node_spec(node))
        ctx = EvalContext(envmod.test_sizes(dn))
        pts = _node_points(node, dn, count, rng, ctx)
        pts += envmod.kink_points(dn, ctx)
        functions += [f"{node.name}.{m}" for m in ("forward", "get_predecessors", "backward")]
        graph_args = [a for a in node.args if a.kind != "number"]
        for k, p in enumerate(pts):
            prefix = f"{node.name}.p{k}"
            steps, kwargs = [], {}
            for a in node.args:
                key = f"{prefix}.{a.name}"
                arrays[key] = p.values[a.name]
                if a.kind == "number":
                    kwargs[a.name] = ["scalar", key]
                else:
                    steps.append(["leaf", a.name, ["int" if a.kind == "index" else "array", key]])
                    kwargs[a.name] = ["slot", a.name]
            kwargs["node_name"] = ["const", "node"]
            steps.append(["call", "node", None, node.name, [], kwargs])
            steps += [["call", None, "node", "forward", [], {}], ["save", "out", ["attr", "node", "out"]]]
            if k < 2:   # its own call, so that a missing get_predecessors does not hide backward
                preds = [["call", "preds", "node", "get_predecessors", [], {}],
                         ["save", "predecessors", ["members", "preds", [a.name for a in graph_args]]]]
                calls.append({"id": f"{prefix}.predecessors", "func": f"{node.name}.get_predecessors",
                              "steps": steps + preds})
                cases.append(Case(f"{node.name}.get_predecessors", f"{prefix}.predecessors",
                                  {"predecessors": np.arange(len(graph_args), dtype=float)}, {}, as_set=True))
            accumulate = k % 2 == 1 and not p.kink
            baseline = {}
            for a in graph_args:
                shape = np.shape(p.values[a.name])
                before = envmod.draw(rng, shape) if accumulate and a.kind == "node" else np.zeros(shape)
                arrays[f"{prefix}.before.{a.name}"] = before
                baseline[f"d_{a.name}"] = before
                steps.append(["setattr", a.name, "d_out", ["array", f"{prefix}.before.{a.name}"]])
            arrays[f"{prefix}.upstream"] = p.values[nodes.UPSTREAM]
            steps.append(["setattr", "node", "d_out", ["array", f"{prefix}.upstream"]])
            steps.append(["call", None, "node", "backward", [], {}])
            grads = [a for a in node.args if a.kind == "node"]
            steps += [["save", f"d_{a.name}", ["attr", a.name, "d_out"]] for a in grads]
            calls.append({"id": prefix, "func": node.name, "steps": steps})
            shown = {a.name: p.values[a.name] for a in node.args}
            shown[nodes.UPSTREAM] = p.values[nodes.UPSTREAM]
            cases.append(Case(f"{node.name}.forward", prefix, {"out": p.values["out"]}, shown))
            want = {f"d_{a.name}": p.values[naming.adjoint(a.name)] + baseline[f"d_{a.name}"] for a in grads}
            cases.append(Case(f"{node.name}.backward", prefix, want, shown, kind="gradient", on_kink=p.kink,
                              derivation=dn, point=p, wrt={f"d_{a.name}": a.name for a in grads},
                              baseline={k2: v for k2, v in baseline.items() if k2 in want and np.any(v)},
                              setting="the predecessors' d_out already held values; backward adds to them"
                              if accumulate else ""))
    if d.spec.name in nodes.GRAPHS:
        name = f"{d.spec.name} graph"
        functions.append(name)
        recipe = nodes.GRAPHS[d.spec.name]
        uses[name] = sorted({f"{cls}.{m}" for _, cls, _ in recipe for m in ("forward", "backward")})
        _graph_cases(d, recipe, name, count, rng, calls, arrays, cases)
    return Plan(functions, calls, arrays, cases, uses=uses)


def _graph_cases(d, recipe, name, count, rng, calls, arrays, cases):
    """The spec's graph built from the submission's node classes: forward in
    order, d_out of the loss set to 1, backward in reverse order, as the
    homework's graph code does; the parameters' d_out against the derivation."""
    from ..profiles import nodes
    kinds = {}
    for _, cls, wiring in recipe:
        for a in nodes.node_class(cls).args:
            kinds.setdefault(wiring[a.name], a.kind)
    ctx = EvalContext(envmod.test_sizes(d))
    arrays["graph.one"] = np.asarray(1.0)
    for k in range(count):
        leaves = {}
        for var in list(d.graph.inputs.values()) + list(d.graph.params.values()):
            shape = ctx.shape(var.shape)
            if kinds.get(var.name) == "index":     # a one-hot row in the spec, its index for the node
                leaves[var.name] = np.eye(shape[0])[rng.integers(shape[0])]
            else:
                leaves[var.name] = envmod.draw(rng, shape)
        with np.errstate(all="ignore"):
            point = envmod.Point(envmod.fill(d, leaves, ctx))
        prefix = f"graph.p{k}"
        steps = []
        for leaf, value in leaves.items():
            key = f"{prefix}.{leaf}"
            if kinds.get(leaf) == "index":
                arrays[key] = np.asarray(float(np.argmax(value)))
                steps.append(["leaf", leaf, ["int", key]])
            else:
                arrays[key] = value
                if kinds.get(leaf) != "number":
                    steps.append(["leaf", leaf, ["array", key]])
        for node_name, cls, wiring in recipe:
            kwargs = {arg: (["scalar", f"{prefix}.{src}"] if kinds.get(src) == "number" and src in leaves
                            else ["slot", src]) for arg, src in wiring.items()}
            kwargs["node_name"] = ["const", node_name]
            steps.append(["call", node_name, None, cls, [], kwargs])
        steps += [["call", None, n, "forward", [], {}] for n, _, _ in recipe]
        for leaf in leaves:
            if kinds.get(leaf) != "number":
                arrays[f"{prefix}.zero.{leaf}"] = np.zeros(np.shape(leaves[leaf]) if kinds.get(leaf) != "index" else ())
                steps.append(["setattr", leaf, "d_out", ["array", f"{prefix}.zero.{leaf}"]])
        last = recipe[-1][0]
        steps.append(["setattr", last, "d_out", ["array", "graph.one"]])
        steps += [["call", None, n, "backward", [], {}] for n, _, _ in reversed(recipe)]
        steps.append(["save", "loss", ["attr", last, "out"]])
        steps += [["save", f"d_{p}", ["attr", p, "d_out"]] for p in d.graph.params]
        calls.append({"id": prefix, "func": name, "steps": steps})
        want = {"loss": point.values["loss"]}
        want.update({f"d_{p}": point.values[naming.adjoint(p)] for p in d.graph.params})
        cases.append(Case(name, prefix, want, point.leaves(d), kind="gradient", derivation=d, point=point,
                          wrt={f"d_{p}": p for p in d.graph.params}))
