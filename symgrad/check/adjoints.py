"""Finite-difference check of the extra adjoints a spec asks for (``gradients = [...]``,
``grad = true`` inputs).

The module's adjoint of an input is compared with a central difference of the
loss in that input's entries; a node's with the loss's difference when the
node's value is moved and everything after it recomputed. The generated forward
cannot start from a node, so the loss is recomputed here from the rule table's
forward forms (:mod:`symgrad.evaluate`), which the derivation does not use. A
point where a move crosses a kink is drawn again, as for parameters.
"""

from __future__ import annotations

import numpy as np

from ..derive import Derivation
from ..errors import SymgradError
from ..evaluate import EvalContext, evaluate
from ..spec import LOSS
from . import numeric


def _loss_from(d: Derivation, leaves: dict, ctx: EvalContext, fixed: dict) -> dict:
    """Every node's value with the nodes in ``fixed`` held at the given values."""
    values = dict(leaves)
    for node in d.graph.nodes:
        values[node.name] = fixed[node.name] if node.name in fixed else evaluate(node.expr, values, ctx)
    return values


def check_extra(d: Derivation, module, sizes: dict, rng, max_entries=400, step=1e-3, max_redraws=50) -> list:
    """One :class:`~symgrad.check.numeric.ParamCheck` per extra adjoint, at one point."""
    extra = d.spec.extra_gradients
    if not extra:
        return []
    ctx = EvalContext(sizes)
    kinks = numeric.kinked_nodes(d)
    for _ in range(max_redraws):
        params, inputs = numeric.draw_point(d, sizes, rng)
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
            return numeric._rescore(results)
    raise SymgradError(f"{d.spec.source}: could not find a point away from every kink for the gradients of "
                       f"{', '.join(extra)} after {max_redraws} tries")


def _check_one(d, name, analytic, leaves, base, ctx, kinks, rng, max_entries, step):
    value = np.asarray(base[name], dtype=np.float64)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != value.shape:
        raise SymgradError(f"gradient of {name} has shape {analytic.shape}, expected {value.shape}")
    indices = list(np.ndindex(*value.shape))
    if len(indices) > max_entries:
        indices = [indices[i] for i in sorted(rng.choice(len(indices), max_entries, replace=False))]
    base_sides = numeric._sides(base, kinks)
    numbers = np.zeros(len(indices))
    for k, idx in enumerate(indices):
        losses = []
        for offset in (2, 1, -1, -2):
            moved = value.copy()
            moved[idx] += offset * step
            if name in d.graph.inputs:
                values = _loss_from(d, {**leaves, name: moved}, ctx, {})
            else:
                values = _loss_from(d, leaves, ctx, {name: moved})
            if any(np.any(a != b) for a, b in zip(numeric._sides(values, kinks), base_sides)):
                return None
            losses.append(float(values[LOSS]))
        f2, f1, m1, m2 = losses
        numbers[k] = (-f2 + 8 * f1 - 8 * m1 + m2) / (12 * step)
    picked = np.array([analytic[idx] for idx in indices])
    scale = max(np.max(np.abs(numbers), initial=0.0), np.max(np.abs(picked), initial=0.0))
    return numeric.ParamCheck(name, value.shape, 0.0, len(indices), (), float(scale),
                              raw=(picked, numbers, indices))
