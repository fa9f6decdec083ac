"""Limits on what a spec may ask for: size bombs and constants too large to compute with."""

from __future__ import annotations

import math

from .errors import SpecError
from .ir import Apply, Expr, as_sympy, show_shape

MAX_EXPONENT = 64
MAX_ELEMENTS = 10 ** 8   # fixed sizes only: no intermediate may be larger (size bombs such as ones(1e6, 1e6))
MAX_CONSTANT_BITS = 4096  # numerator and denominator of a folded constant (1e-300 takes 997)


def elements(shape, sizes: dict | None = None) -> int:
    """How many entries an array of ``shape`` holds: fixed sizes only, or every
    size when ``sizes`` gives the symbolic ones their values."""
    count = 1
    for d in shape:
        d = as_sympy(d)
        if d.is_Integer:
            count *= int(d)
        elif sizes is not None:
            count *= int(d.xreplace(sizes))
    return count


def check_elements(expr: Expr, limit: int = MAX_ELEMENTS, *, sizes: dict | None = None,
                   total: int | None = None) -> None:
    """Refuse size bombs (``ones(1e6, 1e6)``, ``broadcast_to(x, 1000, 1000, 4, 4)``)
    before anything is evaluated: every distinct sub-expression holds at most
    ``limit`` entries and, when ``total`` is given, all of them together at most
    ``total``. Without ``sizes`` only fixed sizes count (a spec, whose symbolic
    sizes are the user's to choose); with them (an answer, evaluated at test
    sizes) every size counts. Shared sub-expressions are visited once.

    Raises:
        SpecError: naming the shape and the limit.
    """
    seen: set[int] = set()
    stack, spent = [expr], 0
    while stack:
        sub = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        count = elements(sub.shape, sizes)
        if count > limit:
            raise SpecError(f"an intermediate of shape {show_shape(sub.shape)} would hold {count} elements "
                            f"(limit {limit})")
        spent += count
        if total is not None and spent > total:
            raise SpecError(f"the intermediates would hold more than {total} elements together "
                            f"(the limit on work); the last one has shape {show_shape(sub.shape)}")
        if isinstance(sub, Apply):
            stack.extend(sub.args)


def _bits(rational) -> int:
    """Bits of the larger of a rational's numerator and denominator."""
    return max(rational.p.bit_length(), rational.q.bit_length())


def check_constant(value, pos) -> None:
    """A constant the parser folded (``1e30**64``, ``(-1)**0.5``, ``exp(exp(10))``)
    must be a finite real number: refused here, not as an overflow later."""
    value = as_sympy(value)
    if value.free_symbols:          # an expression of sizes
        return
    if value.is_Rational and _bits(value) > MAX_CONSTANT_BITS:
        raise SpecError(f"a constant at column {pos} needs more than {MAX_CONSTANT_BITS} bits "
                        "(too large or too small to compute with exactly)")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
        raise SpecError(f"the constant {shown} at column {pos} is not a finite real number "
                        "(too large, division by zero or complex)")
