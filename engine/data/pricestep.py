"""Price steps: Freqtrade's rule for a market without a precision table.

Freqtrade derives a pair's price step from its candles (``get_tick_size_over_time``):
per calendar month the most decimals any O/H/L/C shows. Stops are rounded UP to that
step (DOWN for shorts) and proposed entry rates to the nearest step. The backtester and
the live engine (a replay knows the month's candles) use these same kernels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]


@njit(cache=True, nogil=True)
def _pow10(d: int) -> float:
    return 10.0**d


@njit(cache=True, nogil=True)
def ceil_tick(x: float, d: int) -> float:
    """Freqtrade's ``price_to_precision(x, 10**-d, TICK_SIZE, ROUND_UP)`` on the float's
    shortest decimal form: unchanged when that form has at most ``d`` decimals."""
    if d < 0:
        return x
    scale = _pow10(d)
    s = x * scale
    if s > 4.0e15 or s != s:
        return x
    r = np.rint(s)
    if abs(s - r) <= 1e-9 * max(1.0, abs(s)):
        cand = r / scale
        if x == cand:
            return x
        if x < cand:
            return cand
        return (r + 1.0) / scale
    return (np.floor(s) + 1.0) / scale


@njit(cache=True, nogil=True)
def round_tick(x: float, d: int) -> float:
    """Nearest multiple of the price step (Freqtrade rounds proposed entry rates so)."""
    if d < 0:
        return x
    scale = _pow10(d)
    s = x * scale
    if s > 4.0e15 or s != s:
        return x
    return np.rint(s) / scale


@njit(cache=True, nogil=True)
def floor_tick(x: float, d: int) -> float:
    """As `ceil_tick`, rounding DOWN (stops of short trades)."""
    if d < 0:
        return x
    scale = _pow10(d)
    s = x * scale
    if s > 4.0e15 or s != s:
        return x
    r = np.rint(s)
    if abs(s - r) <= 1e-9 * max(1.0, abs(s)):
        cand = r / scale
        if x == cand:
            return x
        if x > cand:
            return cand
        return (r - 1.0) / scale
    return np.floor(s) / scale


@njit(cache=True, nogil=True)
def _decimals15(x: float) -> int:
    """Digits after the point of ``"%.15f" % x`` with trailing zeros stripped (the way
    Freqtrade infers a pair's price step from its candles); -1 for whole numbers/NaN.
    Exact: the fraction times 1e15 is formed as an error-free product (Dekker)."""
    if x != x or x < 0.0 or x >= 4.0e15:
        return -1
    f = x - np.floor(x)
    b = 1.0e15
    p = f * b
    # Dekker two-product: p + e == f * b exactly
    c = 134217729.0
    t = c * f
    fh = t - (t - f)
    fl = f - fh
    t = c * b
    bh = t - (t - b)
    bl = b - bh
    e = ((fh * bh - p) + fh * bl + fl * bh) + fl * bl
    r = np.rint(p)
    rem = (p - r) + e
    if rem > 0.5:
        r += 1.0
    elif rem < -0.5:
        r -= 1.0
    n = np.int64(r)
    if n <= 0 or n >= 1_000_000_000_000_000:
        return -1
    digits = 15
    if n % 100_000_000 == 0:
        n //= 100_000_000
        digits -= 8
    if n % 10_000 == 0:
        n //= 10_000
        digits -= 4
    while n % 10 == 0:
        n //= 10
        digits -= 1
    return digits


@njit(cache=True, nogil=True)
def monthly_decimals(op, hi, lo, cl, starts, out):
    """Per segment ``[starts[j], starts[j+1])`` (a calendar month) the maximum of
    `_decimals15` over O/H/L/C, written to every candle of the segment in ``out``.
    Stops scanning a month once it reaches 15 digits (the most there can be)."""
    n = op.shape[0]
    for j in range(starts.shape[0]):
        a = starts[j]
        b = starts[j + 1] if j + 1 < starts.shape[0] else n
        best = -1
        for i in range(a, b):
            d = max(
                max(_decimals15(op[i]), _decimals15(hi[i])),
                max(_decimals15(lo[i]), _decimals15(cl[i])),
            )
            if d > best:
                best = d
                if best >= 15:
                    break
        for i in range(a, b):
            out[i] = best


def monthly_tick_decimals(open_time: I64, op: npt.NDArray[np.float64],
                          hi: npt.NDArray[np.float64], lo: npt.NDArray[np.float64],
                          cl: npt.NDArray[np.float64]) -> I64:
    """Per candle, the decimals of its calendar month's price step (UTC, by open time);
    -1 where a month has only whole numbers (no rounding)."""
    t = np.asarray(open_time, dtype=np.int64)
    out = np.empty(t.shape[0], dtype=np.int64)
    if t.shape[0] == 0:
        return out
    first = np.datetime64(int(t[0]), "ms").astype("datetime64[M]")
    last = np.datetime64(int(t[-1]), "ms").astype("datetime64[M]")
    bounds = np.arange(first, last + 1).astype("datetime64[ms]").astype(np.int64)
    starts = np.unique(np.searchsorted(t, bounds, side="left")).astype(np.int64)
    monthly_decimals(op, hi, lo, cl, starts, out)
    return out
