"""Price steps: Freqtrade's rule for a market without a precision table.

Freqtrade derives a pair's price step from its candles (``get_tick_size_over_time``):
per calendar month the most decimals any O/H/L/C shows when written with 14 significant
digits (so BTC at 94000.12 trades on a 0.01 step, not on float noise). Stops are rounded UP to that
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
def _exact_scaled(x: float, b: float) -> float:
    """``x * b`` rounded to the nearest integer as if computed exactly (Dekker's
    error-free product), so a value just below a rounding boundary is not pushed over."""
    p = x * b
    c = 134217729.0
    t = c * x
    xh = t - (t - x)
    xl = x - xh
    t = c * b
    bh = t - (t - b)
    bl = b - bh
    e = ((xh * bh - p) + xh * bl + xl * bh) + xl * bl
    r = np.rint(p)
    rem = (p - r) + e
    if rem > 0.5:
        r += 1.0
    elif rem < -0.5:
        r -= 1.0
    return r


@njit(cache=True, nogil=True)
def _decimals14(x: float) -> int:
    """Digits after the point of ``x`` written positionally with 14 significant digits,
    trailing zeros trimmed (numpy's ``format_float_positional(x, precision=14,
    unique=False, fractional=False, trim="-")``, the way Freqtrade infers a pair's price
    step from its candles: 94000.12 -> 2, 3.143e-05 -> 8); -1 for whole numbers/NaN."""
    if x != x or x <= 0.0 or x >= 1.0e15:
        return -1
    e = int(np.floor(np.log10(x)))
    if 10.0**e > x:
        e -= 1
    elif 10.0 ** (e + 1) <= x:
        e += 1
    k = 13 - e  # fractional digits that 14 significant digits reach
    if k <= 0:
        return -1
    if k > 22:  # 10**k no longer exact; such prices do not occur in candle data
        k = 22
    n = _exact_scaled(x, 10.0**k)
    if n >= 1.0e14:  # rounding carried into a new digit (9.99...95 -> 10.0)
        n = np.floor(n / 10.0)
        k -= 1
    m = np.int64(n)
    while k > 0 and m % 10 == 0:
        m //= 10
        k -= 1
    return k if k > 0 else -1


@njit(cache=True, nogil=True)
def monthly_decimals(op, hi, lo, cl, starts, out):
    """Per segment ``[starts[j], starts[j+1])`` (a calendar month) the maximum of
    `_decimals14` over O/H/L/C, written to every candle of the segment in ``out``.
    A month of whole numbers only (-1) keeps the month before's step, as Freqtrade's
    ``Series.asof`` skips the month it leaves empty."""
    n = op.shape[0]
    for j in range(starts.shape[0]):
        a = starts[j]
        b = starts[j + 1] if j + 1 < starts.shape[0] else n
        best = -1
        for i in range(a, b):
            d = max(
                max(_decimals14(op[i]), _decimals14(hi[i])),
                max(_decimals14(lo[i]), _decimals14(cl[i])),
            )
            if d > best:
                best = d
        if best < 0 and j > 0:
            best = out[a - 1]
        for i in range(a, b):
            out[i] = best


def monthly_tick_decimals(open_time: I64, op: npt.NDArray[np.float64],
                          hi: npt.NDArray[np.float64], lo: npt.NDArray[np.float64],
                          cl: npt.NDArray[np.float64]) -> I64:
    """Per candle, the decimals of its calendar month's price step (UTC, by open time);
    a month of whole numbers keeps the previous month's step; -1 (no rounding) until a
    month shows decimals."""
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
