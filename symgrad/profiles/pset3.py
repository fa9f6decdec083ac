"""Course ``pset3``: problem set 3's interface, one function per partial.

The course's functions take ``variable_dict`` (the forward values ``mlp``
returns), then exactly the parameters the formula uses, in declaration order,
then ``y_observed``. Those argument lists are read off the derivation, not
written down: a partial's formula is its named view with every adjoint it
mentions expanded transitively and every temporary replaced by its definition;
the parameters left in it are its arguments. So a spec with other sizes or
layers gets the right functions without touching the template.

The spec must have exactly one *observed* input: an input used by the loss
only (problem set 3's ``y``). Every other input is data that ``variable_dict``
carries, with the named nodes.

Grading (:func:`plan`) calls each function with the arguments the renderer
gave it, at random points and at points on the kinks.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .. import names as naming
from ..derive import Derivation, derive
from ..emit.numpy_module import HEADER, source_label
from ..escape import py_comment
from ..emit.printers import NumpyPrinter
from ..errors import SpecError
from ..evaluate import EvalContext, evaluate
from ..ir import Apply, Const, Expr, Var, free_vars, walk
from ..rewrite import substitute
from ..rules import RULES, Printed, apply
from ..rules.core import ATOM
from ..rules.elementwise import FUNCTIONS, R, X, from_sympy
from ..spec import LOSS
from ..verify import env as envmod
from . import Course, calls
from .common import names_used
from .plan import Case, Plan, point_arrays

VARIABLE_DICT = "variable_dict"
OBSERVED = "y_observed"


@dataclass(frozen=True)
class PartialFunction:
    """One course function ``name(variable_dict, *params, y_observed)``.

    Attributes:
        name: The course's function name, e.g. ``d_loss_d_W1``.
        wrt: The graph name the partial is taken with respect to (``W1``).
        args: The full argument list, ``variable_dict`` first, ``y_observed`` last.
        expr: The formula in variable_dict entries, parameters and the observed
            input only (adjoints expanded, temporaries inlined).
        local: The same formula with adjoints of other partials kept as
            variables (``d_r1``), for code that calls the earlier functions.
        reads: The variable_dict keys the formula uses, in graph order.
    """

    name: str
    wrt: str
    args: tuple
    expr: Expr
    local: Expr
    reads: tuple

    @property
    def params(self) -> tuple:
        """The parameters among the arguments (between variable_dict and y_observed)."""
        return self.args[1:-1]


def observed_input(d: Derivation) -> str:
    """The one input that only the loss uses (the target, ``y``)."""
    graph = d.graph
    used_by_nodes: set[str] = set()
    for node in graph.nodes:
        if node.entry != LOSS:
            used_by_nodes |= {v.name for v in walk(node.expr) if isinstance(v, Var)}
    candidates = [name for name in graph.inputs if name not in used_by_nodes]
    if len(candidates) != 1:
        raise SpecError(f"the pset3 profile needs exactly one input used only by the loss (the observed "
                        f"value), found {len(candidates)}: {', '.join(candidates) or 'none'}",
                        source=d.spec.source, node="inputs")
    return candidates[0]


def dict_keys(d: Derivation) -> list[str]:
    """The keys of ``variable_dict``: data inputs, then the named nodes, in order."""
    observed = observed_input(d)
    keys = [name for name in d.graph.inputs if name != observed]
    keys += [n.name for n in d.graph.entry_nodes() if n.entry != LOSS]
    return keys


def _order(d: Derivation, targets) -> list[str]:
    """The course's order: top of the network first; a parameter right after the
    adjoint that completes it, before the node input of the same layer."""
    position = {n.name: i for i, n in enumerate(d.graph.nodes)}
    entry_of = {n.name: n.entry for n in d.graph.nodes}
    entry_position = {n.entry: i for i, n in enumerate(d.graph.entry_nodes())}

    def first_consumer(name: str) -> int:
        users = [entry_position[entry_of[c.source]] for c in d.contributions[name]]
        return min(users)

    def key(name):
        return (-first_consumer(name), 0 if name in d.graph.params else 1, position.get(name, 0))
    return sorted(targets, key=key)


def partial_functions(d: Derivation) -> list[PartialFunction]:
    """Every course partial of a derivation, in the course's order.

    One function per named node that reaches the loss and per parameter.
    """
    graph = d.graph
    keys = dict_keys(d)
    temps = d.temporary_values()
    named_targets = [t for t in d.order if t in graph.params or not graph.node(t).temp]

    full: dict[str, Expr] = {}
    mapping = dict(temps)
    for target in d.order:
        expr = substitute(d.adjoint(target), mapping)
        full[target] = expr
        mapping[naming.adjoint(target)] = expr

    local_mapping = d.entry_mapping()

    out = []
    for target in _order(d, named_targets):
        expr = full[target]
        used = {v.name for v in walk(expr) if isinstance(v, Var)}
        params = tuple(p for p in graph.params if p in used)
        reads = tuple(k for k in keys if k in used)
        local = substitute(d.adjoint(target), local_mapping)
        out.append(PartialFunction(naming.course_partial(target), target,
                                   (VARIABLE_DICT,) + params + (OBSERVED,), expr, local, reads))
    return out


def loss_formula(d: Derivation) -> Expr:
    """The loss entry with temporaries inlined."""
    return substitute(d.graph.node(LOSS).expr, d.temporary_values())


def loss_arguments(d: Derivation) -> tuple:
    """``loss``'s arguments: what the loss formula reads (``y_predicted``), then ``y_observed``."""
    observed = observed_input(d)
    return tuple(v.name for v in free_vars(loss_formula(d)) if v.name != observed) + (OBSERVED,)


def calls_in(fn: PartialFunction) -> list[str]:
    """The adjoints of other partials the local formula mentions (``d_r1``), in order."""
    out: list[str] = []
    for v in walk(fn.local):
        if isinstance(v, Var) and v.role == "adjoint" and v.name not in out:
            out.append(v.name)
    return out


# -- rendering -------------------------------------------------------------------

class CoursePrinter(NumpyPrinter):
    """The numpy printer, with element-wise operations renamed to the course's
    functions (``step`` -> ``relu_derivative``)."""

    def __init__(self, names=None, functions=None):
        super().__init__(names)
        self.functions = functions or {}

    def print(self, e: Expr) -> Printed:
        if isinstance(e, Apply) and e.op in self.functions:
            return Printed(f"{self.functions[e.op]}({self.print(e.args[0]).text})", ATOM)
        return super().print(e)


@dataclass(frozen=True)
class Function:
    """A function of the rendered file: signature, docstring, body lines."""

    name: str
    args: tuple
    doc: str
    body: tuple


def derivative_functions(d: Derivation) -> tuple[list[Function], dict[str, str], NumpyPrinter]:
    """``relu_derivative(x)`` for each element-wise function the network applies,
    its body printed from the rule table's derivative; and the renames that let
    the partials call it."""
    printer = NumpyPrinter()
    functions, renames = [], {}
    used: dict[str, Apply] = {}
    for node in d.graph.nodes:
        for e in walk(node.expr):
            if isinstance(e, Apply) and RULES[e.op].family == "elementwise" and RULES[e.op].differentiable(0):
                used.setdefault(e.op, e)
    for op, first in used.items():
        x = Var("x", (), "input")
        result = Var("r", (), "node")
        derivative = RULES[op].vjp(0)(Const(1), result, x, **first.kw)
        if any(v == result for v in walk(derivative)):
            derivative = substitute(derivative, {"r": apply(op, x, **first.kw)})
        name = naming.course_derivative(op)
        functions.append(Function(name, ("x",), f"d{op}/dx at x (a number or an array)",
                                  ("x = np.asarray(x)", f"return {printer.doprint(derivative)}")))
        if isinstance(derivative, Apply) and derivative.args == (x,) and not first.kw:
            renames[derivative.op] = name
    return functions, renames, printer


def context(spec) -> dict:
    """What templates/api/pset3.py.j2 places, for a spec (a Spec, path or bundled name)."""
    d = derive(spec)
    graph = d.graph
    observed = observed_input(d)
    temps = d.temporary_values()
    derivatives, renames, helper_printer = derivative_functions(d)
    printer = CoursePrinter({observed: OBSERVED}, renames)
    printer.helpers = helper_printer.helpers

    data = [name for name in graph.inputs if name != observed]
    nodes = [n for n in graph.entry_nodes() if n.entry != LOSS]
    values = [substitute(n.expr, temps) for n in nodes]
    helper_printer.uses_dtype = False
    steps = tuple(f"{n.name} = {helper_printer.doprint(v)}" for n, v in zip(nodes, values))
    args = tuple(data) + tuple(graph.params)
    forward = _prelude(d, values, {a: a for a in args}, helper_printer.uses_dtype, list(graph.params)) + steps + (
        "variable_dict = {}",) + tuple(f'variable_dict["{k}"] = {k}' for k in dict_keys(d)) + (
        "return variable_dict",)
    mlp = Function("mlp", args, "The forward pass: every node's value, by name", forward)

    loss_expr = loss_formula(d)
    loss_args = loss_arguments(d)
    printer.uses_dtype = False
    code = printer.doprint(loss_expr)
    where = {a: a for a in loss_args} | {observed: OBSERVED}
    loss = Function("loss", loss_args, "The loss of one example",
                    _prelude(d, [loss_expr], where, printer.uses_dtype, list(loss_args)) + (f"return {code}",))

    partials = []
    by_adjoint = {}
    for fn in partial_functions(d):
        printer.uses_dtype = False
        code = printer.doprint(fn.local)
        where = {k: f'{VARIABLE_DICT}["{k}"]' for k in dict_keys(d)} | {p: p for p in fn.params} | {
            observed: OBSERVED}
        body = list(_prelude(d, [fn.local], where, printer.uses_dtype, [f"*{VARIABLE_DICT}.values()"]))
        body += [f'{k} = {VARIABLE_DICT}["{k}"]' for k in fn.reads if _mentions(fn.local, k)]
        for adj in calls_in(fn):
            body.append(f"{adj} = {by_adjoint[adj]}")
        body.append(f"return {code}")
        partials.append(Function(fn.name, fn.args, f"dloss/d{fn.wrt}, shaped like {fn.wrt}", tuple(body)))
        by_adjoint[naming.adjoint(fn.wrt)] = f"{fn.name}({', '.join(fn.args)})"

    helpers = [inspect.getsource(f).rstrip() for _, f in sorted(helper_printer.helpers.items())]
    return dict(header=HEADER.format(source=py_comment(source_label(graph.spec))),
                  name=graph.name, description=graph.spec.description, helpers=helpers,
                  functions=[loss, mlp] + derivatives + partials)


def _prelude(d: Derivation, exprs, where: dict, uses_dtype: bool, dtype_of: list) -> tuple:
    """Lines reading the symbolic sizes the code uses (from an array the function
    can reach) and, when it builds arrays, the dtype to build them in."""
    used = names_used(exprs)
    lines = []
    for size in sorted(d.graph.sizes):
        if size not in used:
            continue
        shapes = {name: var.shape for name, var in d.graph.variables().items() if name in where}
        found = [(name, axis) for name, shape in shapes.items() for axis, dim in enumerate(shape)
                 if str(dim) == size]
        if not found:
            raise SpecError(f"the pset3 profile cannot read size {size!r} from the arguments of a function "
                            "that needs it", source=d.spec.source)
        name, axis = found[0]
        lines.append(f"{size} = np.shape({where[name]})[{axis}]")
    if uses_dtype:
        lines.append(f"dtype = np.result_type({', '.join(dtype_of)})")
    return tuple(lines)


def _mentions(e: Expr, name: str) -> bool:
    return any(isinstance(v, Var) and v.name == name and v.role != "adjoint" for v in walk(e))


# -- grading -----------------------------------------------------------------------

SCALAR_PROBES = (-1.5, -0.25, 0.0, 0.5, 2.0)


def _scalar_truth(derivative: bool, fname: str, value: float) -> float:
    x = Var("x", (), "input")
    out = apply(fname, x)
    if derivative:
        out = from_sympy(FUNCTIONS[fname].derivative, {X: x, R: out})
    return float(evaluate(out, {"x": np.asarray(value)}, EvalContext({})))


def plan(d: Derivation, points: int, seed: int) -> Plan:
    """The problem set's functions at random points and at points on the kinks,
    called as the course's tests call them."""
    pts, ctx = envmod.random_points(d, points, seed)
    pts += envmod.kink_points(d, ctx)
    observed = observed_input(d)
    keys = dict_keys(d)
    variables = d.graph.variables()
    activations = []
    for node in d.graph.nodes:
        if RULES[node.expr.op].family == "elementwise" and node.expr.op not in activations:
            activations.append(node.expr.op)
    partials = partial_functions(d)
    out = Plan([], [], {}, [])
    for k, p in enumerate(pts):
        point_arrays(out.arrays, k, p.values, list(d.graph.inputs) + list(d.graph.params) +
                     [n.name for n in d.graph.nodes])
    for j, v in enumerate(SCALAR_PROBES):
        out.arrays[f"s{j}"] = np.asarray(v)

    def arg(name, k):
        if name == OBSERVED:
            name = observed
        if name == VARIABLE_DICT:
            return calls.DictArg({key: arg(key, k) for key in keys})
        return (calls.scalar if variables[name].ndim == 0 else calls.array)(f"p{k}.{name}")

    def scalar_functions(derivative):
        for op in activations:
            name = naming.course_derivative(op) if derivative else op
            for j, v in enumerate(SCALAR_PROBES):
                cid = f"{name}.s{j}"
                out.add(calls.function_call(cid, name, [calls.scalar(f"s{j}")]),
                        Case(name, cid, {"": np.asarray(_scalar_truth(derivative, op, v))}, {"x": v},
                             kind="activation", on_kink=v in RULES[op].kinks))

    scalar_functions(False)
    forward_args = [a for a in d.graph.inputs if a != observed] + list(d.graph.params)
    for k, p in enumerate(pts):
        out.add(calls.function_call(f"loss.p{k}", "loss", [arg(a, k) for a in loss_arguments(d)]),
                Case("loss", f"loss.p{k}", {"": p.values["loss"]}, p.leaves(d)))
    for k, p in enumerate(pts):
        out.add(calls.function_call(f"mlp.p{k}", "mlp", [arg(a, k) for a in forward_args], keys),
                Case("mlp", f"mlp.p{k}", {key: p.values[key] for key in keys}, p.leaves(d)))
    scalar_functions(True)
    for fn in partials:
        for k, p in enumerate(pts):
            cid = f"{fn.name}.p{k}"
            out.add(calls.function_call(cid, fn.name, [arg(a, k) for a in fn.args]),
                    Case(fn.name, cid, {"": p.values[naming.adjoint(fn.wrt)]}, p.leaves(d), kind="gradient",
                         on_kink=p.kink, derivation=d, point=p, wrt={"": fn.wrt}))
    out.functions = activations + ["loss", "mlp"] + [naming.course_derivative(f) for f in activations] + \
        [fn.name for fn in partials]
    out.trace = tuple(out.functions)
    return out


COURSE = Course("pset3", "problem set 3: mlp(x, W0, W1, W2) and one function per partial",
                "pset3.py", "api/pset3.py.j2", context, default_spec="pset3", plan=plan,
                version="2023's 1-3-3-1 net (spec pset3); Fall 2024's 1-4-2-1 net is spec pset3_fa24",
                variants=("pset3", "pset3_fa24"), preload=("torch", "matplotlib"))
