"""Correctly rounded ``a * b + c`` in plain Python, for the streaming classes.

The batch kernels compute their recurrences with a fused multiply-add (one rounding);
a stream has to do the same to return the batch value bit for bit. ``math.fma`` exists
from Python 3.13; before that the exact value is formed with integers (every finite float
is an integer ratio with a power-of-two denominator) and rounded once by CPython's
correctly rounded integer true division. A few microseconds per call, once per candle.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["fma"]


def _fma_exact(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once (IEEE 754 fusedMultiplyAdd, round to nearest even)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c  # the product is inf or NaN either way
    if not math.isfinite(c):
        return c  # a finite product cannot change an infinite or NaN addend
    na, da = a.as_integer_ratio()
    nb, db = b.as_integer_ratio()
    nc, dc = c.as_integer_ratio()
    num = na * nb * dc + nc * da * db
    if num == 0:
        # exact zero: signed as IEEE says (-0 only when both terms are -0)
        return a * b + c if (a == 0.0 or b == 0.0) else 0.0
    try:
        return num / (da * db * dc)
    except OverflowError:
        return math.inf if num > 0 else -math.inf


fma: Callable[[float, float, float], float] = getattr(math, "fma", _fma_exact)
