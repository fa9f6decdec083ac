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


def _square(x):
    # x * x: a float product gives inf on overflow where x ** 2.0 raises OverflowError
    return x * x


def _pow(x, e):
    # x ** e as numpy computes it: inf on overflow and at 0 ** -k (Python raises),
    # NaN for a negative base and a fractional exponent (Python gives a complex number)
    odd = e % 2.0 == 1.0
    try:
        r = x ** e
    except OverflowError:
        return math.copysign(math.inf, x) if odd else math.inf
    except ZeroDivisionError:
        return math.copysign(math.inf, x) if odd else math.inf
    return r if isinstance(r, float) else math.nan


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
