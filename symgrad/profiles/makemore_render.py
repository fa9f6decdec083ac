"""What the makemore_backprop profile writes: the makemore derivation printed as torch.

``backward(params, cache, Xb, Yb)`` (one statement per adjoint of the bundled
``makemore`` spec's derivation, :func:`backward_function`) and one function per
entry of the spec's ``[fused]`` table (``dlogits_fused``, ``dhprebn_fused``,
:func:`fused_functions`): the textbook closed form where
:func:`symgrad.fused_view.closed_form` finds one, else the derivation's adjoint
with the adjoints between the two substituted in. :class:`TorchPrinter` prints
an expression as torch; the helpers it calls are :mod:`.makemore_torch`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import names as naming
from ..derive import Derivation, derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from ..errors import SymgradError
from ..ir import Apply, Const, Expr, Var, walk
from ..rewrite import substitute
from ..rules import Printed
from ..rules.core import ATOM, POSTFIX, wrap
from .common import helper_sources
from ..spec import LOSS
from ..fused_view import fused_views
from .common import Step, backward_exprs, backward_steps, names_used
from . import makemore_torch

SPEC = "makemore"
PARAMS = ("C", "W1", "b1", "bngain", "bnbias", "W2", "b2")
#: the exercise's adjoints, in the order it asks for them
ADJOINTS = ("logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes",
            "logits", "h", "W2", "b2", "hpreact", "bngain", "bnbias", "bnraw", "bnvar_inv", "bnvar", "bndiff2",
            "bndiff", "bnmeani", "hprebn", "embcat", "W1", "b1", "emb", "C")


def exercise_name(target: str) -> str:
    """The exercise's name of an adjoint: dlogprobs, dC."""
    return f"d{target}"


# -- printing as torch -------------------------------------------------------------

#: operations whose numpy form is plain Python operators, so the same text is torch
OPERATORS = {"add", "sub", "mul", "div", "neg", "pow", "matmul", "transpose", "alias"}


def _axis(node) -> str:
    axis = node.kw.get("axis")
    return str(axis[0] if isinstance(axis, tuple) and len(axis) == 1 else axis)


def _reduce(fn):
    def form(args, node, ctx):
        axis = node.kw.get("axis")
        if axis is None:
            text = f"torch.{fn}({args[0].text})"
            if node.kw.get("keepdims"):
                text = f"{text}.reshape({ctx.shape((1,) * node.args[0].ndim)})"
            return Printed(text, POSTFIX)
        return Printed(f"torch.{fn}({args[0].text}, dim={_axis(node)}, keepdim={bool(node.kw.get('keepdims'))})",
                       POSTFIX)
    return form


def _broadcast(args, node, ctx):
    x = node.args[0]
    if isinstance(x, Const):
        return Printed(f"torch.full({ctx.shape(node.shape)}, {args[0].text}, dtype=dtype)", POSTFIX)
    return Printed(f"{wrap(args[0], POSTFIX)}.expand({ctx.shape(node.shape)})", POSTFIX)


def _helper(name):
    def form(args, node, ctx):
        ctx.helper(getattr(makemore_torch, name))
        extra = {"first_extremum": lambda: [_axis(node), str(bool(node.kw.get("lowest")))],
                 "scatter_rows": lambda: [ctx.dim(node.kw["size"])],
                 "one_hot": lambda: [ctx.dim(node.kw["classes"]), "dtype"]}[name]()
        return Printed(f"{name}({', '.join([a.text for a in args] + extra)})", ATOM)
    return form


def _function(fn, axis=False):
    def form(args, node, ctx):
        more = f", dim={_axis(node)}" if axis else ""
        return Printed(f"torch.{fn}({args[0].text}{more})", ATOM)
    return form


TORCH = {
    "sum": _reduce("sum"), "mean": _reduce("mean"), "broadcast_to": _broadcast,
    "expand_dims": lambda args, node, ctx: Printed(f"{wrap(args[0], POSTFIX)}.unsqueeze({_axis(node)})", POSTFIX),
    "reshape": lambda args, node, ctx: Printed(f"{wrap(args[0], POSTFIX)}.reshape({ctx.shape(node.shape)})",
                                               POSTFIX),
    "first_extremum": _helper("first_extremum"), "scatter_rows": _helper("scatter_rows"),
    "one_hot": _helper("one_hot"),
    "exp": _function("exp"), "expm1": _function("expm1"), "log": _function("log"), "tanh": _function("tanh"),
    "log_softmax": _function("log_softmax", axis=True), "softmax": _function("softmax", axis=True),
}


class TorchPrinter(NumpyPrinter):
    """IR -> torch source: each operation's torch form, or its numpy form where that is
    Python operators only; any other operation is refused by name (never printed as numpy)."""

    def helper(self, fn):
        self.helpers[fn.__name__] = fn

    def print(self, e: Expr) -> Printed:
        if isinstance(e, Apply):
            if e.op in TORCH:
                return TORCH[e.op]([self.print(a) for a in e.args], e, self)
            if e.op not in OPERATORS:
                raise SymgradError(f"the makemore_backprop profile has no torch form for {e.op!r}")
        return super().print(e)


# -- what the template places ------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple
    doc: str
    reads: tuple      # lines
    steps: tuple      # common.Step
    returns: tuple    # (key, local) pairs, or one local name


def _sizes(d: Derivation, used: set, where) -> list[str]:
    """``B = Xb.shape[0]``: each symbolic size the code uses, read off an array it has."""
    return [f"{size} = {where(array)}.shape[{axis}]"
            for size, (array, axis) in sorted(d.graph.sizes.items()) if size in used]


def backward_function(d: Derivation, printer: TorchPrinter) -> Function:
    steps = backward_steps(d, printer, inline_temps=True)
    used = names_used(backward_exprs(d, inline_temps=True))
    reads = [f'{n} = params["{n}"]' for n in PARAMS if n in used]
    reads += [f'{n.name} = cache["{n.name}"]' for n in d.graph.nodes if not n.temp and n.name in used]
    reads += _sizes(d, used, lambda a: a)
    reads.append('dtype = params["C"].dtype')
    adjoints = {s.target for s in steps}
    missing = [t for t in ADJOINTS if naming.adjoint(t) not in adjoints]
    if missing:
        raise SymgradError(f"the makemore derivation gives no adjoint of {', '.join(missing)}")
    return Function("backward", ("params", "cache", "Xb", "Yb"),
                    "Every adjoint the exercise asks for, by its name (dlogprobs ... dC)",
                    tuple(reads), tuple(steps), tuple((exercise_name(t), naming.adjoint(t)) for t in ADJOINTS))


def fused_function(name: str, expr: Expr, d: Derivation, printer: TorchPrinter, doc: str) -> Function:
    """One statement: ``name``'s formula, its arguments the arrays it reads (adjoints by
    the exercise's names), in the order the spec declares them."""
    prefix = naming.adjoint("")
    upstream = {v.name: Var(exercise_name(v.name[len(prefix):]), v.shape, "input")
                for v in walk(expr) if isinstance(v, Var) and v.role == "adjoint"}
    expr = substitute(expr, upstream)
    rename = {v.name for v in upstream.values()}
    used = names_used([expr])
    order = sorted(rename) + list(d.graph.params) + [n.name for n in d.graph.nodes] + list(d.graph.inputs)
    args = tuple(dict.fromkeys(n for n in order if n in used))
    sizes = _sizes(d, used, lambda a: a if a in args else args[0])
    code = printer.doprint(expr)
    dtype = ("dtype = " + next(a for a in args if a not in d.graph.inputs) + ".dtype",) if "dtype" in code else ()
    return Function(name, args, doc, tuple(sizes) + dtype, (Step("out", code),), ("out",))


def fused_functions(d: Derivation, printer: TorchPrinter) -> list[Function]:
    """One function per [fused] entry: d<target>_fused(<the arrays its formula reads>)."""
    out = []
    for view in fused_views(d):
        expr = view.closed if view.closed is not None else view.expr
        start = "the loss" if view.start == LOSS else f"d{view.start}"
        how = ("its closed form, equal to the derivation's at random points" if view.closed is not None
               else "the derivation's steps composed")
        out.append(fused_function(f"{exercise_name(view.target)}_fused", expr, d, printer,
                                  f"dL/d{view.target} in one formula from {start}: {how}"))
    return out


def fused_arguments(d: Derivation) -> dict:
    """Fused function name -> its arguments, in order (the grading plan calls them by name)."""
    return {f.name: f.args for f in fused_functions(d, TorchPrinter())}


def context(spec=None) -> dict:
    """What templates/api/makemore_backprop.py.j2 places."""
    d = derive(spec if spec is not None else SPEC)
    printer = TorchPrinter()
    functions = [backward_function(d, printer)] + fused_functions(d, printer)
    return dict(header=HEADER.format(source=f"the {d.spec.name} spec (makemore part 4, backprop ninja)"),
                helpers=helper_sources(printer),
                functions=functions, adjoints=[exercise_name(t) for t in ADJOINTS], params=PARAMS)
