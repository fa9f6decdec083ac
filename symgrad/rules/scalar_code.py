"""Float implementations for straight-line scalar code (numpy_scalar), one per function.

Each rule that has one names it in its ``scalar_code`` entry; the generated
module gets a copy of the function's source, so the names and bodies here are
what a reader of a generated module sees. They follow numpy's conventions at
the edges (inf instead of OverflowError, -inf at log(0), NaN in -> NaN out).
"""

from __future__ import annotations

import math


def _exp(x):
    # math.exp raises on overflow (x > 709.78); numpy's exp gives inf there (and NaN for NaN)
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x):
    # math.log raises at 0 and below; numpy's log gives -inf and nan
    return math.log(x) if x > 0.0 else (-math.inf if x == 0.0 else math.nan)


def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x):
    # log(1 + e^x) without overflow; the fused form of log(sigmoid) needs it
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


def _expm1(x):
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf
