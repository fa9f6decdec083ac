"""Profile ``nodes``: homework 3's computation-graph node classes.

Each node class is declared below as an expression over its inputs (a tiny
spec: its node inputs are the spec's parameters, so each gets an adjoint); the
engine derives the backward pass, with the node's upstream gradient as the
adjoint of ``out`` (the spec's loss is ``sum(out * upstream)``). Printed with
the course's names (``self.W.out``, ``self.d_out``), every contribution is
*added* into a predecessor's ``d_out``, so a node used twice (ridge
regression's tied ``w``) gets both contributions.

Element-wise nodes are declared over vectors; their derived code is
element-wise (numpy broadcasting), so it serves any shape, scalars included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..graph import build_graph
from ..spec import Spec
from . import Profile
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


PROFILE = Profile("nodes", "nodes.py", "api/nodes.py.j2", None, context,
                  "homework 3: computation-graph node classes with forward/backward/get_predecessors")
