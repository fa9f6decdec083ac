"""Derivation and code generation cost: linear in depth, independent of width.

Ratios only, checked loosely (CI machines are noisy); benchmarks/RESULTS.md
has the measured times.
"""

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


def seconds(depth, width, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        spec = mlp(depth, width)
        t = time.perf_counter()
        d = derive(spec)
        printer = LatexIRPrinter()
        for p in d.graph.params:
            printer.doprint(d.grad(p))
        render_module(d)
        best = min(best, time.perf_counter() - t)
    return best


def test_cost_is_about_linear_in_depth():
    seconds(2, 4)   # warm caches
    ratio = seconds(40, 8) / seconds(8, 8)
    assert ratio < 12, f"40 layers cost {ratio:.1f}x 8 layers (linear would be 5x)"


def test_cost_does_not_depend_on_width():
    seconds(2, 4)
    ratio = seconds(20, 1024) / seconds(20, 8)
    assert ratio < 2, f"width 1024 costs {ratio:.2f}x width 8"
