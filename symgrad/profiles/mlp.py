"""Profile ``mlp``: homework 1's ``mlp.py`` (Linear -> f -> Linear -> g).

The class the homework grades, ``MLP(in1, out1, f, in2, out2, g)``, with
torch tensors at its boundary. Its backward pass is not written by hand: for
every (f, g) pair symgrad derives a batch network in the homework's layout
(rows are examples, ``x @ W1.T + b1`` with W1 of shape (out, in)) whose loss
is ``sum(y_hat * dJdy_hat)``, so the adjoint of each parameter is exactly the
vector-Jacobian product backward() must return for the upstream gradient
dJdy_hat. The losses are the composites ``mse`` and ``bce``, differentiated
with respect to y_hat. Inside, everything is numpy; no autograd anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..spec import Spec
from . import Profile
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


PROFILE = Profile("mlp", "mlp.py", "api/mlp.py.j2", None, context,
                  "homework 1: class MLP with forward/backward, mse_loss, bce_loss (torch at the boundary)")
