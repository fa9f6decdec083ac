"""Derivation and code generation cost: linear in depth, independent of width.

Ratios only, checked loosely (CI machines are noisy); benchmarks/RESULTS.md
has the measured times.
"""

import gc
import time

from symgrad import Spec, derive
from symgrad.emit.numpy_module import render_module
from symgrad.emit.printers import LatexIRPrinter


def mlp(depth, width):
    params, nodes, prev = {}, {}, "X"
    for i in range(1, depth + 1):
        params[f"W{i}"] = [width, width]
        params[f"b{i}"] = [width]
        nodes[f"H{i}"] = f"{'relu' if i < depth else 'identity'}({prev} @ W{i} + b{i})"
        prev = f"H{i}"
    return Spec(name="deep", inputs={"X": ["n", width], "Y": ["n", width]}, params=params,
                nodes=nodes, loss=f"mse({prev}, Y)")


def once(depth, width):
    spec = mlp(depth, width)
    gc.collect()     # no case pays for the garbage of another
    t = time.perf_counter()
    d = derive(spec)
    printer = LatexIRPrinter()
    for p in d.graph.params:
        printer.doprint(d.grad(p))
    render_module(d)
    return time.perf_counter() - t


def ratio(a, b, rounds=4):
    """Best time of case a over best time of case b, the two run alternately."""
    once(2, 4)   # warm caches
    best_a = best_b = float("inf")
    for _ in range(rounds):
        best_a = min(best_a, once(*a))
        best_b = min(best_b, once(*b))
    return best_a / best_b


def test_cost_is_about_linear_in_depth():
    r = ratio((40, 8), (8, 8))
    assert r < 12, f"40 layers cost {r:.1f}x 8 layers (linear would be 5x)"


def test_cost_does_not_depend_on_width():
    r = ratio((20, 1024), (20, 8))
    assert r < 1.5, f"width 1024 costs {r:.2f}x width 8"
