"""A course that lives outside symgrad: what a new course needs and nothing else.

Its interface: one function, ``gradients(<inputs>, <params>)``, returning
dL/dp for every parameter p of the spec, by name. Registered by a test with
one line in :data:`symgrad.profiles.COURSES`; its template sits next to it.
"""

from pathlib import Path

from symgrad import names as naming
from symgrad.derive import derive
from symgrad.emit.numpy_module import HEADER, source_label
from symgrad.emit.printers import NumpyPrinter
from symgrad.escape import py_comment
from symgrad.profiles import Course, calls
from symgrad.profiles.common import (backward_exprs, backward_steps, forward_steps, helper_sources, names_used,
                                     read_lines)
from symgrad.profiles.plan import Case, Plan, point_arrays
from symgrad.verify import env as envmod

FUNCTION = "gradients"


def arguments(d) -> list:
    return list(d.graph.inputs) + list(d.graph.params)


def context(spec) -> dict:
    """The data toy.py.j2 places: the arguments, the body lines, the parameters."""
    d = derive(spec)
    printer = NumpyPrinter()
    steps = forward_steps(d, printer, inline=True) + backward_steps(d, printer, inline_temps=True)
    used = names_used(backward_exprs(d, inline_temps=True) + [n.expr for n in d.graph.nodes])
    lines = read_lines(d, used, lambda name: None) + [f"{s.target} = {s.code}" for s in steps]
    return dict(header=HEADER.format(source=py_comment(source_label(d.graph.spec))), function=FUNCTION,
                helpers=helper_sources(printer), args=arguments(d), lines=lines,
                grads={p: naming.adjoint(p) for p in d.graph.params})


def plan(d, points: int, seed: int) -> Plan:
    """``gradients`` at random points, every parameter's gradient against the derivation."""
    pts, _ = envmod.random_points(d, points, seed)
    out = Plan([FUNCTION], [], {}, [])
    params = list(d.graph.params)
    for k, p in enumerate(pts):
        point_arrays(out.arrays, k, p.values, arguments(d))
        cid = f"{FUNCTION}.p{k}"
        out.add(calls.function_call(cid, FUNCTION, [calls.array(f"p{k}.{a}") for a in arguments(d)], params),
                Case(FUNCTION, cid, {q: p.values[naming.adjoint(q)] for q in params}, p.leaves(d), kind="gradient",
                     derivation=d, point=p, wrt={q: q for q in params}))
    return out


COURSE = Course("toy", "a test's course: gradients(inputs, params) -> {param: dL/dparam}", "toy.py", "toy.py.j2",
                context, default_spec="linear_regression", plan=plan, template_dir=Path(__file__).parent)
