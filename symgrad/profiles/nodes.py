"""Course ``nodes``: homework 3's computation-graph node classes.

Each node class is declared below as an expression over its inputs (a tiny
spec: its node inputs are the spec's parameters, so each gets an adjoint); the
engine derives the backward pass, with the node's upstream gradient as the
adjoint of ``out`` (the spec's loss is ``sum(out * upstream)``). Printed with
the course's names (``self.W.out``, ``self.d_out``), every contribution is
*added* into a predecessor's ``d_out``, so a node used twice (ridge
regression's tied ``w``) gets both contributions.

Element-wise nodes are declared over vectors; their derived code is
element-wise (numpy broadcasting), so it serves any shape, scalars included.

Grading (:func:`plan`) builds each class on leaf nodes and calls it method by
method, then wires the homework's bundled graphs from the submission's classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import names as naming
from ..derive import Derivation, derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..evaluate import EvalContext
from ..graph import build_graph
from ..spec import Spec
from ..verify import env as envmod
from . import Course, calls
from .plan import Case, Plan
from .common import backward_exprs, backward_steps, forward_steps, helper_sources, names_used, read_lines

OUT = "out"
UPSTREAM = "upstream"    # the adjoint of out; the node's own d_out in the course's code


@dataclass(frozen=True)
class Arg:
    """A constructor argument. kind: node (differentiated) | index (a node holding
    an integer, not differentiated) | number (a plain number, not a node);
    positive: the node's formula needs positive values (a log)."""

    name: str
    kind: str = "node"
    shape: tuple = ()
    positive: bool = False


@dataclass(frozen=True)
class Derived:
    """An input the forward pass builds from the arguments (NLL's one-hot row)."""

    name: str
    shape: tuple
    code: str       # numpy, over self.<arg>.out
    value: Callable  # the same, over a dict of argument values (test inputs for verify)


@dataclass(frozen=True)
class NodeClass:
    name: str
    args: tuple
    expr: str
    doc: str
    derived: tuple = ()


def A(name, *shape, kind="node", positive=False):
    return Arg(name, kind, tuple(shape), positive)


def _one_hot(values: dict):
    return np.eye(np.size(values["y_hat"]))[int(values["y_true"])]


NODE_CLASSES = (
    NodeClass("VectorScalarAffineNode", (A("x", "d"), A("w", "d"), A("b")), "x @ w + b",
              "x . w + b for vectors x, w and a scalar b"),
    NodeClass("SquaredL2DistanceNode", (A("a", "d"), A("b", "d")), "sum((a - b)**2)",
              "||a - b||^2, the sum of squares (not the mean)"),
    NodeClass("L2NormPenaltyNode", (A("l2_reg", kind="number"), A("w", "d")), "l2_reg * sum(w**2)",
              "l2_reg * ||w||^2; l2_reg is a plain number, not a node"),
    NodeClass("SumNode", (A("a", "d"), A("b", "d")), "a + b", "a + b, element-wise"),
    NodeClass("AffineNode", (A("W", "m", "d"), A("x", "d"), A("b", "m")), "W @ x + b",
              "W @ x + b with W (m, d), x (d,), b (m,)"),
    NodeClass("TanhNode", (A("a", "d"),), "tanh(a)", "tanh, element-wise"),
    NodeClass("ReLUNode", (A("a", "d"),), "relu(a)", "max(a, 0), element-wise; derivative 0 at 0"),
    NodeClass("SigmoidNode", (A("a", "d"),), "sigmoid(a)", "the logistic sigmoid, element-wise"),
    NodeClass("SoftmaxNode", (A("z", "k"),), "softmax(z)", "exp(z) / sum(exp(z)) of a vector of scores"),
    NodeClass("NLLNode", (A("y_hat", "k", positive=True), A("y_true", kind="index")), "-log(sum(y_hat * y_onehot))",
              "-log(y_hat[y_true]), y_true a 0-d integer class index",
              (Derived("y_onehot", ("k",), "np.eye(np.size(self.y_hat.out))[self.y_true.out]", _one_hot),)),
)


#: The edition of the homework the plan checks and the classes it has. ReLUNode
#: and SigmoidNode are rendered (a derivation needs no homework) but not graded:
#: that homework has no such classes.
VERSION = ("homework 3's edition with ridge regression, MLP regression and multiclass graphs: eight classes, "
           "no ReLUNode or SigmoidNode")
VERSION_CLASSES = ("VectorScalarAffineNode", "SquaredL2DistanceNode", "L2NormPenaltyNode", "SumNode",
                   "AffineNode", "TanhNode", "SoftmaxNode", "NLLNode")


#: Bundled specs built from the node classes, as the homework wires them: (spec
#: node name, class, {constructor argument: spec name}) in order; the last one
#: is the loss. ``verify --profile nodes`` runs the whole graph for these.
GRAPHS = {
    "ridge_regression": (
        ("prediction", "VectorScalarAffineNode", {"x": "x", "w": "w", "b": "b"}),
        ("square_loss", "SquaredL2DistanceNode", {"a": "prediction", "b": "y"}),
        ("reg_loss", "L2NormPenaltyNode", {"l2_reg": "l2_reg", "w": "w"}),
        ("loss", "SumNode", {"a": "square_loss", "b": "reg_loss"})),
    "mlp_regression": (
        ("L", "AffineNode", {"W": "W1", "x": "x", "b": "b1"}),
        ("h", "TanhNode", {"a": "L"}),
        ("prediction", "VectorScalarAffineNode", {"x": "h", "w": "w2", "b": "b2"}),
        ("loss", "SquaredL2DistanceNode", {"a": "prediction", "b": "y"})),
    "multiclass": (
        ("z1", "AffineNode", {"W": "W1", "x": "x", "b": "b1"}),
        ("h", "TanhNode", {"a": "z1"}),
        ("z", "AffineNode", {"W": "W2", "x": "h", "b": "b2"}),
        ("p", "SoftmaxNode", {"z": "z"}),
        ("loss", "NLLNode", {"y_hat": "p", "y_true": "y"})),   # y one-hot in the spec, its index here
}


def node_class(name: str) -> NodeClass:
    return next(c for c in NODE_CLASSES if c.name == name)


def graded_classes() -> list:
    """The node classes of the homework's edition (:data:`VERSION`), in order."""
    return [c for c in NODE_CLASSES if c.name in VERSION_CLASSES]


def node_spec(node: NodeClass) -> Spec:
    """The node's expression as a spec: node inputs are parameters, the
    upstream gradient an input shaped like out."""
    inputs = {a.name: list(a.shape) for a in node.args if a.kind == "number"}
    inputs.update({x.name: list(x.shape) for x in node.derived})
    params = {a.name: list(a.shape) for a in node.args if a.kind == "node"}
    probe = Spec(name=node.name, inputs=dict(inputs), params=params, nodes={OUT: node.expr}, loss=f"sum({OUT})")
    out_shape = [str(d) if not d.is_Integer else int(d) for d in build_graph(probe).node(OUT).var.shape]
    inputs[UPSTREAM] = out_shape
    return Spec(name=node.name, description=node.doc, inputs=inputs, params=params,
                nodes={OUT: node.expr}, loss=f"sum({OUT} * {UPSTREAM})")


@dataclass(frozen=True)
class RenderedNode:
    """What the template places for one node class."""

    name: str
    doc: str
    expr: str
    args: tuple            # constructor arguments, in order
    predecessors: tuple    # the arguments that are nodes
    prepare: tuple         # lines both passes start with (derived inputs, sizes)
    forward: str           # the code of out
    backward: tuple        # Steps
    accumulate: tuple      # (argument, local adjoint) pairs: self.<arg>.d_out += <local>


def prepare_node(node: NodeClass, printer: NumpyPrinter) -> RenderedNode:
    d = derive(node_spec(node))
    where = {a.name: f"self.{a.name}.out" if a.kind != "number" else f"self.{a.name}" for a in node.args}
    where.update({OUT: f"self.{OUT}", UPSTREAM: "self.d_out"})
    local = NodeCodePrinter(where, printer)
    forward = forward_steps(d, local, inline=True)
    steps = backward_steps(d, local, inline_temps=True)
    used = names_used(backward_exprs(d, inline_temps=True) + [n.expr for n in d.graph.nodes])
    derived = {x.name: x.code for x in node.derived}
    sizes = [line for line in read_lines(d, used, lambda n: derived.get(n)) if "np.shape" in line]
    prepare = tuple(f"{x.name} = {x.code}" for x in node.derived) + tuple(
        _size_line(line, where) for line in sizes)
    return RenderedNode(
        node.name, node.doc, node.expr, tuple(a.name for a in node.args),
        tuple(a.name for a in node.args if a.kind != "number"), prepare, forward[-1].code, tuple(steps),
        tuple((a.name, f"d_{a.name}") for a in node.args if a.kind == "node"))


def _size_line(line: str, where: dict) -> str:
    size, _, rest = line.partition(" = np.shape(")
    array, _, axis = rest.partition(")")
    return f"{size} = np.shape({where.get(array, array)}){axis}"


class NodeCodePrinter(NumpyPrinter):
    """Prints with the node's names and records helpers on the module's printer."""

    def __init__(self, names, module_printer: NumpyPrinter):
        super().__init__(names)
        self.helpers = module_printer.helpers


def context(spec=None) -> dict:
    """What templates/api/nodes.py.j2 places: every node class's derived passes."""
    printer = NumpyPrinter()
    nodes = [prepare_node(node, printer) for node in NODE_CLASSES]
    return dict(header=HEADER.format(source="homework 3's node classes"),
                  helpers=helper_sources(printer), nodes=nodes)


# -- grading -----------------------------------------------------------------------

def _node_points(node, d, count, rng, ctx) -> list:
    """Random leaves in each argument's domain (positive where a log needs it, class indices)."""
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
        leaves[UPSTREAM] = envmod.draw(rng, ctx.shape(d.graph.inputs[UPSTREAM].shape))
        with np.errstate(all="ignore"):
            values = envmod.fill(d, leaves, ctx)
        values.update(extra)
        points.append(envmod.Point(values))
    return points


def _classes(node, leaves) -> int:
    sized = [np.size(leaves[a.name]) for a in node.args if a.kind == "node" and np.ndim(leaves[a.name])]
    return max(sized) if sized else 1


def _leaf_value(kind: str, key: str):
    return calls.integer(key) if kind == "index" else calls.array(key)


def plan(d: Derivation, points: int, seed: int) -> Plan:
    """Every node class of homework 3, method by method, each built on leaf
    nodes; gradients must be *added* into the predecessors' d_out. Then, when
    the spec is one the homework builds from them, its whole graph wired from
    the classes."""
    count = max(4, points // 3)
    out = Plan([], [], {}, [])
    rng = np.random.default_rng(seed)
    for node in graded_classes():
        dn = envmod.load_derivation(node_spec(node))
        ctx = EvalContext(envmod.test_sizes(dn))
        pts = _node_points(node, dn, count, rng, ctx)
        pts += envmod.kink_points(dn, ctx)
        out.functions += [f"{node.name}.{m}" for m in ("forward", "get_predecessors", "backward")]
        graph_args = [a for a in node.args if a.kind != "number"]
        for k, p in enumerate(pts):
            _node_cases(out, node, dn, graph_args, k, p, rng)
    if d.spec.name in GRAPHS:
        name = f"{d.spec.name} graph"
        out.functions.append(name)
        recipe = GRAPHS[d.spec.name]
        out.uses[name] = sorted({f"{cls}.{m}" for _, cls, _ in recipe for m in ("forward", "backward")})
        _graph_cases(out, d, recipe, name, count, rng)
    return out


def _node_cases(out: Plan, node, dn, graph_args, k, p, rng) -> None:
    prefix = f"{node.name}.p{k}"
    steps, args = [], []
    for a in node.args:
        key = f"{prefix}.{a.name}"
        out.arrays[key] = p.values[a.name]
        if a.kind == "number":
            args.append(calls.scalar(key))
        else:
            steps.append(calls.Leaf(a.name, _leaf_value(a.kind, key)))
            args.append(calls.Slot(a.name))
    # positionally, node_name last, as the homework's graphs and tests build nodes (any parameter names)
    steps.append(calls.Call(node.name, tuple(args) + (calls.Const("node"),), into="node"))
    steps += [calls.Call("forward", on="node"), calls.Save("out", calls.Attr("node", "out"))]
    if k < 2:   # its own call, so that a missing get_predecessors does not hide backward
        preds = [calls.Call("get_predecessors", on="node", into="preds"),
                 calls.Save("predecessors", calls.Members("preds", tuple(a.name for a in graph_args)))]
        out.add(calls.Script(f"{prefix}.predecessors", f"{node.name}.get_predecessors", tuple(steps + preds)),
                Case(f"{node.name}.get_predecessors", f"{prefix}.predecessors",
                     {"predecessors": np.arange(len(graph_args), dtype=float)}, {}, as_set=True,
                     after=(f"{node.name}.forward",)))
    accumulate = k % 2 == 1 and not p.kink
    baseline = {}
    for a in graph_args:
        shape = np.shape(p.values[a.name])
        before = envmod.draw(rng, shape) if accumulate and a.kind == "node" else np.zeros(shape)
        out.arrays[f"{prefix}.before.{a.name}"] = before
        baseline[f"d_{a.name}"] = before
        steps.append(calls.SetAttr(a.name, "d_out", calls.array(f"{prefix}.before.{a.name}")))
    out.arrays[f"{prefix}.upstream"] = p.values[UPSTREAM]
    steps.append(calls.SetAttr("node", "d_out", calls.array(f"{prefix}.upstream")))
    steps.append(calls.Call("backward", on="node"))
    grads = [a for a in node.args if a.kind == "node"]
    steps += [calls.Save(f"d_{a.name}", calls.Attr(a.name, "d_out")) for a in grads]
    shown = {a.name: p.values[a.name] for a in node.args}
    shown[UPSTREAM] = p.values[UPSTREAM]
    want = {f"d_{a.name}": p.values[naming.adjoint(a.name)] + baseline[f"d_{a.name}"] for a in grads}
    out.add(calls.Script(prefix, node.name, tuple(steps)),
            Case(f"{node.name}.forward", prefix, {"out": p.values["out"]}, shown))
    out.cases.append(Case(f"{node.name}.backward", prefix, want, shown, kind="gradient", on_kink=p.kink,
                          derivation=dn, point=p, wrt={f"d_{a.name}": a.name for a in grads},
                          baseline={k2: v for k2, v in baseline.items() if k2 in want and np.any(v)},
                          after=(f"{node.name}.forward",),
                          setting="the predecessors' d_out already held values; backward adds to them"
                          if accumulate else ""))


def _graph_cases(out: Plan, d, recipe, name, count, rng) -> None:
    """The spec's graph built from the submission's node classes: forward in
    order, d_out of the loss set to 1, backward in reverse order, as the
    homework's graph code does; the parameters' d_out against the derivation."""
    kinds = {}
    for _, cls, wiring in recipe:
        for a in node_class(cls).args:
            kinds.setdefault(wiring[a.name], a.kind)
    ctx = EvalContext(envmod.test_sizes(d))
    out.arrays["graph.one"] = np.asarray(1.0)
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
                out.arrays[key] = np.asarray(float(np.argmax(value)))
                steps.append(calls.Leaf(leaf, calls.integer(key)))
            else:
                out.arrays[key] = value
                if kinds.get(leaf) != "number":
                    steps.append(calls.Leaf(leaf, calls.array(key)))
        for node_name, cls, wiring in recipe:
            sources = [wiring[a.name] for a in node_class(cls).args]
            args = tuple(calls.scalar(f"{prefix}.{src}") if kinds.get(src) == "number" and src in leaves
                         else calls.Slot(src) for src in sources)
            steps.append(calls.Call(cls, args + (calls.Const(node_name),), into=node_name))
        steps += [calls.Call("forward", on=n) for n, _, _ in recipe]
        for leaf in leaves:
            if kinds.get(leaf) != "number":
                out.arrays[f"{prefix}.zero.{leaf}"] = np.zeros(np.shape(leaves[leaf]) if kinds.get(leaf) != "index"
                                                                else ())
                steps.append(calls.SetAttr(leaf, "d_out", calls.array(f"{prefix}.zero.{leaf}")))
        last = recipe[-1][0]
        steps.append(calls.SetAttr(last, "d_out", calls.array("graph.one")))
        steps += [calls.Call("backward", on=n) for n, _, _ in reversed(recipe)]
        steps.append(calls.Save("loss", calls.Attr(last, "out")))
        steps += [calls.Save(f"d_{p}", calls.Attr(p, "d_out")) for p in d.graph.params]
        want = {"loss": point.values["loss"]}
        want.update({f"d_{p}": point.values[naming.adjoint(p)] for p in d.graph.params})
        out.add(calls.Script(prefix, name, tuple(steps)),
                Case(name, prefix, want, point.leaves(d), kind="gradient", derivation=d, point=point,
                     wrt={f"d_{p}": p for p in d.graph.params}))


COURSE = Course("nodes", "homework 3: computation-graph node classes with forward/backward/get_predecessors",
                "nodes.py", "api/nodes.py.j2", context, plan=plan, version=VERSION)
