"""Finite-difference check of generated code.

The generated module is loaded from its text and its gradients compared with
a fourth-order central difference of its own loss, in float64, at random
points (:mod:`symgrad.points`: sizes 3, 5, 7..., each input and parameter in
the sampling domain its operations declare; a point where the loss is not
finite is drawn again). A point where some kink (ReLU at 0) lies within the stencil of a
perturbation is detected by comparing which side of every kink each
pre-activation is on; the checker says which entry of which array crossed
which kink (:class:`KinkCrossing`, in ``NumericCheck.notes``) and draws the
point again instead of reporting a false failure. Relative errors are measured
against the largest gradient entry as a floor, so the round-off of a finite
difference of a gradient that is exactly 0 is not mistaken for an error.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..derive import Derivation
from ..errors import SymgradError
from .. import points as test_points
from ..evaluate import EvalContext, evaluate
from ..spec import LOSS
from ..ir import Var

TOLERANCE = 1e-6


@dataclass
class ParamCheck:
    name: str
    shape: tuple
    max_rel_error: float
    entries_checked: int
    worst: tuple = ()        # (index, analytic, numeric)
    scale: float = 0.0       # largest gradient entry seen
    raw: tuple = field(default=(), repr=False, compare=False)   # (analytic, numeric, indices) checked

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= TOLERANCE


@dataclass
class NumericCheck:
    sizes: dict
    params: list
    points: int
    redraws: int
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.params)


def load_module(text: str, name: str):
    """Import generated code (our own output, never a user string) as a module."""
    folder = Path(tempfile.mkdtemp(prefix="symgrad-"))
    path = folder / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"symgrad_generated_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kinked_nodes(d: Derivation) -> list[tuple[str, tuple]]:
    """(name of the array fed to a kinked function, kink points): the generated module's
    forward cache holds that array, so the side of every kink can be read from it."""
    return [(arg.name, kinks) for _, arg, kinks in test_points.kinked_arguments(d.graph) if isinstance(arg, Var)]


def _known(params: dict, inputs: dict, cache: dict) -> dict:
    """Every array at a point: a kinked function may read a parameter or an input directly
    (``relu(W)``), which the forward cache does not hold."""
    return {**inputs, **params, **cache}


def _sides(values: dict, kinks) -> list:
    return [np.sign(np.asarray(values[name])[..., None] - np.asarray(points)) for name, points in kinks]


@dataclass(frozen=True)
class KinkCrossing:
    """A finite-difference stencil that crosses a kink: what the checker reports instead of a failure."""

    node: str          # the array fed to the kinked function
    index: tuple       # the entry of that array that crossed
    value: float       # its value at the drawn point
    kink: float        # the kink it crossed
    param: str         # the parameter being moved
    param_index: tuple
    reach: float       # how far the stencil moved that parameter entry

    def describe(self) -> str:
        where = f"[{', '.join(map(str, self.index))}]" if self.index else ""
        pwhere = f"[{', '.join(map(str, self.param_index))}]" if self.param_index else ""
        return (f"{self.node}{where} = {self.value:.3g} lies within the difference step of the kink at "
                f"{self.kink:g} (moving {self.param}{pwhere} by +-{self.reach:g} crosses it); "
                "drew another point instead of reporting a false failure")


def _crossing(cache, kinks, base_sides, base_cache, name, idx, reach) -> KinkCrossing | None:
    for (node, points), now, before in zip(kinks, _sides(cache, kinks), base_sides):
        moved = np.argwhere(now != before)
        if len(moved):
            where = tuple(int(i) for i in moved[0])
            value = np.asarray(base_cache[node])[where[:-1]]
            return KinkCrossing(node, where[:-1], float(value), float(points[where[-1]]), name,
                                tuple(int(i) for i in idx), reach)
    return None


def draw_point(d: Derivation, sizes: dict, rng) -> tuple[dict, dict]:
    """(params, inputs): standard normal entries (not rounded), each leaf in its declared
    sampling domain (:func:`symgrad.points.draw_leaves`); a scalar as np.float64."""
    graph = d.graph
    leaves = test_points.draw_leaves(graph, list(graph.params.values()) + list(graph.inputs.values()),
                                EvalContext(sizes), rng, rounded=False)
    leaves = {n: np.float64(v) if np.ndim(v) == 0 and np.asarray(v).dtype.kind == "f" else v
              for n, v in leaves.items()}
    return ({n: leaves[n] for n in graph.params}, {n: leaves[n] for n in graph.inputs})


def check_module(d: Derivation, module, *, sizes=None, seed=0, points=3, max_entries=400, step=1e-3,
                 max_redraws=50) -> NumericCheck:
    """Compare module.backward with finite differences of module.forward at several points.

    The result holds, per parameter, the worst error over all points.
    """
    rng = np.random.default_rng(seed)
    runs = [_check_one_point(d, module, sizes, rng, max_entries, step, max_redraws) for _ in range(points)]
    merged = []
    for i in range(len(runs[0].params)):
        worst = max((run.params[i] for run in runs), key=lambda p: p.max_rel_error)
        merged.append(dataclasses.replace(worst, entries_checked=sum(r.params[i].entries_checked for r in runs),
                                          scale=max(r.params[i].scale for r in runs)))
    for _ in range(points if d.spec.extra_gradients else 0):
        extra = check_extra(d, module, sizes or test_points.check_sizes(d.graph), rng, max_entries, step)
        merged = _worst(merged, extra)
    notes = [n for r in runs for n in r.notes]
    return NumericCheck(runs[0].sizes, merged, sum(r.points for r in runs), sum(r.redraws for r in runs), notes)


def _worst(merged: list, more: list) -> list:
    """merged extended by, or merged entry-wise with, ``more`` (the worst error of each name)."""
    have = {p.name: i for i, p in enumerate(merged)}
    out = list(merged)
    for p in more:
        if p.name not in have:
            out.append(p)
        elif p.max_rel_error > out[have[p.name]].max_rel_error:
            out[have[p.name]] = dataclasses.replace(p, entries_checked=p.entries_checked
                                                    + out[have[p.name]].entries_checked)
    return out


def _check_one_point(d, module, sizes, rng, max_entries, step, max_redraws) -> NumericCheck:
    graph = d.graph
    sizes = sizes or test_points.check_sizes(graph)
    kinks = kinked_nodes(d)
    redraws = 0
    notes = []
    while True:
        params, inputs = draw_point(d, sizes, rng)
        with np.errstate(all="ignore"):
            cache = module.forward(params, inputs)
        if not np.isfinite(cache["loss"]):
            redraws += 1
            if redraws > max_redraws:
                raise SymgradError(f"{graph.spec.source}: the loss is not finite at any of {max_redraws} "
                                   "points drawn in the operations' declared domains")
            notes.append("the loss was not finite at a point; drew another")
            continue
        grads = module.backward(params, inputs, cache)
        known = _known(params, inputs, cache)
        base_sides = _sides(known, kinks)
        results, crossing = [], None
        for name in params:
            result = _check_param(module, params, inputs, name, grads[name], kinks, base_sides, known,
                                  rng, max_entries, step)
            if isinstance(result, KinkCrossing):
                crossing = result
                break
            results.append(result)
        if crossing is None:
            results = _rescore(results)
        vanished = crossing is None and all(p.scale < 1e-8 for p in results)
        if vanished and redraws < max_redraws:
            redraws += 1
            notes.append("the gradient vanished at a point (every unit inactive); drew another")
            continue
        if crossing is None:
            return NumericCheck({str(k): v for k, v in sizes.items()}, results, 1 + redraws, redraws, notes)
        redraws += 1
        notes.append(crossing.describe())
        if redraws > max_redraws:
            raise SymgradError(f"{graph.spec.source}: could not find a point away from every kink "
                               f"after {max_redraws} tries; last: {crossing.describe()}")


def _rescore(results: list) -> list:
    """Relative errors with one floor for the whole gradient: 1e-3 of its largest entry.

    An entry that is truly 0 (a dead unit's weights) has a finite difference made
    of round-off alone (about 1e-13 |L|); compared with itself it would look 100%
    wrong, compared with the gradient's scale it is the noise it is.
    """
    scale = max((p.scale for p in results), default=0.0)
    floor = max(1e-3 * scale, 1e-12)
    out = []
    for p in results:
        picked, numeric, indices = p.raw
        rel = np.abs(picked - numeric) / np.maximum(np.maximum(np.abs(picked), np.abs(numeric)), floor)
        worst = int(np.argmax(rel)) if len(rel) else 0
        out.append(dataclasses.replace(
            p, max_rel_error=float(rel.max(initial=0.0)),
            worst=(indices[worst], float(picked[worst]), float(numeric[worst])) if len(rel) else ()))
    return out


def _entries(name, value, analytic, rng, max_entries):
    """The gradient as float64 with its shape checked, and which of its entries to difference
    (all of them, or max_entries drawn at random)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != value.shape:
        raise SymgradError(f"gradient of {name} has shape {analytic.shape}, expected {value.shape}")
    indices = list(np.ndindex(*value.shape))
    if len(indices) > max_entries:
        indices = [indices[i] for i in sorted(rng.choice(len(indices), max_entries, replace=False))]
    return analytic, indices


def _check_param(module, params, inputs, name, analytic, kinks, base_sides, base_cache, rng, max_entries, step):
    value = np.asarray(params[name], dtype=np.float64)
    analytic, indices = _entries(name, value, analytic, rng, max_entries)
    numeric = np.zeros(len(indices))
    for k, idx in enumerate(indices):
        losses = []
        for offset in (2, 1, -1, -2):
            moved = value.copy()
            moved[idx] += offset * step
            trial = dict(params)
            trial[name] = moved if moved.shape else np.float64(moved)
            with np.errstate(all="ignore"):
                cache = module.forward(trial, inputs)
            crossing = _crossing(_known(trial, inputs, cache), kinks, base_sides, base_cache, name, idx,
                                 2 * step)
            if crossing is not None:
                return crossing
            losses.append(float(cache["loss"]))
        f2, f1, m1, m2 = losses
        numeric[k] = (-f2 + 8 * f1 - 8 * m1 + m2) / (12 * step)
    picked = np.array([analytic[idx] for idx in indices])
    scale = max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(picked), initial=0.0))
    return ParamCheck(name, value.shape, 0.0, len(indices), (), float(scale), raw=(picked, numeric, indices))


# ---------------------------------------------------------------- extra adjoints
# Finite-difference check of the extra adjoints a spec asks for (``gradients = [...]``,
# ``grad = true`` inputs).
#
# The module's adjoint of an input is compared with a central difference of the
# loss in that input's entries; a node's with the loss's difference when the
# node's value is moved and everything after it recomputed. The generated forward
# cannot start from a node, so the loss is recomputed here from the rule table's
# forward forms (:mod:`symgrad.evaluate`), which the derivation does not use. A
# point where a move crosses a kink is drawn again, as for parameters.


def _loss_from(d: Derivation, leaves: dict, ctx: EvalContext, fixed: dict) -> dict:
    """Every node's value with the nodes in ``fixed`` held at the given values."""
    values = dict(leaves)
    for node in d.graph.nodes:
        values[node.name] = fixed[node.name] if node.name in fixed else evaluate(node.expr, values, ctx)
    return values


def check_extra(d: Derivation, module, sizes: dict, rng, max_entries=400, step=1e-3, max_redraws=50) -> list:
    """One :class:`~symgrad.check.ParamCheck` per extra adjoint, at one point."""
    extra = d.spec.extra_gradients
    if not extra:
        return []
    ctx = EvalContext(sizes)
    kinks = kinked_nodes(d)
    for _ in range(max_redraws):
        params, inputs = draw_point(d, sizes, rng)
        leaves = {**params, **inputs}
        with np.errstate(all="ignore"):
            cache = module.forward(params, inputs)
            if not np.isfinite(cache["loss"]):
                continue
            grads = module.backward(params, inputs, cache)
            base = _loss_from(d, leaves, ctx, {})
            results = [_check_one(d, name, grads[name], leaves, base, ctx, kinks, rng, max_entries, step)
                       for name in extra]
        if all(r is not None for r in results):
            return _rescore(results)
    raise SymgradError(f"{d.spec.source}: could not find a point away from every kink for the gradients of "
                       f"{', '.join(extra)} after {max_redraws} tries")


def _check_one(d, name, analytic, leaves, base, ctx, kinks, rng, max_entries, step):
    value = np.asarray(base[name], dtype=np.float64)
    analytic, indices = _entries(name, value, analytic, rng, max_entries)
    base_sides = _sides(base, kinks)
    numbers = np.zeros(len(indices))
    for k, idx in enumerate(indices):
        # relative to the entry: an intermediate may be small (exp of a shifted logit), and moving it
        # by a fixed 1e-3 would measure the curvature, not the slope
        entry = abs(float(value[idx]))
        estimates = []
        # an entry below the floor (a probability of 1e-6 under a log) is also moved by a step
        # relative to itself; the finite estimate with the smaller error bound is kept
        for h in [step * max(entry, 1e-4)] + ([step * entry] if 0 < entry < 1e-4 else []):
            losses = []
            for offset in (2, 1, -1, -2):
                moved = value.copy()
                moved[idx] += offset * h
                if name in d.graph.inputs:
                    values = _loss_from(d, {**leaves, name: moved}, ctx, {})
                else:
                    values = _loss_from(d, leaves, ctx, {name: moved})
                if any(np.any(a != b) for a, b in zip(_sides(values, kinks), base_sides)):
                    return None
                losses.append(float(values[LOSS]))
            estimates.append(_difference(losses, h))
        finite = [e for e in estimates if np.isfinite(e[0])]     # a larger step may leave the domain (log)
        numbers[k] = min(finite)[1] if finite else estimates[0][1]
    picked = np.array([analytic[idx] for idx in indices])
    scale = max(np.max(np.abs(numbers), initial=0.0), np.max(np.abs(picked), initial=0.0))
    return ParamCheck(name, value.shape, 0.0, len(indices), (), float(scale),
                              raw=(picked, numbers, indices))


def _difference(losses: list, h: float) -> tuple[float, float]:
    """(error bound, fourth-order central difference) from the losses at +2h, +h, -h, -2h.

    The bound is the truncation error, taken as the distance to the second-order
    difference (which errs more), plus the round-off: 18 ulps of the loss over 12h.
    It depends on the losses only, never on the gradient the difference is held against.
    """
    f2, f1, m1, m2 = losses
    fourth = (-f2 + 8 * f1 - 8 * m1 + m2) / (12 * h)
    second = (f1 - m1) / (2 * h)
    roundoff = 18 * np.finfo(float).eps * max(map(abs, losses)) / (12 * h)
    return abs(fourth - second) + roundoff, fourth
