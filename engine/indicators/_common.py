"""Small kernels shared by the indicator families.

TA-Lib's Python wrapper skips leading NaNs: it finds the first index where every input is
a number, runs the C function from there and pads the front with NaN. The ``first_valid``
helpers reproduce that so NaN input behaves exactly as it does in TA-Lib; a NaN after the
start is fed to the arithmetic like any other value, as TA-Lib does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NAN = np.nan


@njit(cache=True, nogil=True)
def first_valid1(a):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i]:
            return i
    return max(n - 1, 0)


@njit(cache=True, nogil=True)
def first_valid2(a, b):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i]:
            return i
    return max(n - 1, 0)


@njit(cache=True, nogil=True)
def first_valid3(a, b, c):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i] and c[i] == c[i]:
            return i
    return max(n - 1, 0)


@njit(cache=True, nogil=True)
def first_valid4(a, b, c, d):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i] and c[i] == c[i] and d[i] == d[i]:
            return i
    return max(n - 1, 0)


@njit(cache=True, nogil=True)
def fill_nan(out, stop):
    """Write NaN into ``out[:stop]`` (clipped to the array)."""
    m = min(stop, out.shape[0])
    for i in range(m):
        out[i] = NAN


@njit(cache=True, nogil=True)
def sma_into(x, start, period, out):
    """TA-Lib's running-total SMA of ``x[start:]`` written to ``out`` (NaN before).

    The running total is updated with the difference of the entering and leaving value so
    only one addition sits on the loop-carried dependency chain.
    """
    n = x.shape[0]
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    inv = 1.0 / period
    total = 0.0
    for i in range(start, first):
        total += x[i]
    total += x[first]
    out[first] = total * inv
    for i in range(first + 1, n):
        total += x[i] - x[i - period]
        out[i] = total * inv


@njit(cache=True, nogil=True)
def ema_into(x, start, period, out):
    """TA-Lib's EMA of ``x[start:]``: seeded with the SMA of the first ``period`` values."""
    n = x.shape[0]
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    k = 2.0 / (period + 1)
    k1 = 1.0 - k
    total = 0.0
    for i in range(start, first + 1):
        total += x[i]
    prev = total / period
    out[first] = prev
    for i in range(first + 1, n):
        prev = prev * k1 + x[i] * k
        out[i] = prev
